"""Phase-transition series: a structure compressed or heated along a path, with a transition."""
