"""Pictures of what a network computes: its computational graph (and, from chainrule.viz.boundary,
its decision boundary on 2-D data). Each module is re-exported here with one import line."""

from chainrule.viz.graph import draw_graph, to_dot
