"""Pictures of what a network computes: its computational graph (``graph``) and its decision
boundary on 2-D data, still or over training (``boundary``). Each module is re-exported here
with one import line."""

from chainrule.viz.boundary import DecisionBoundaryAnimation, plot_decision_boundary
from chainrule.viz.graph import draw_graph, to_dot
