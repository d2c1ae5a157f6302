"""chainrule.viz: pictures of what a network computes and how it learns."""

from chainrule.viz.boundary import DecisionBoundaryAnimation, plot_decision_boundary
