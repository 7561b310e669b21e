"""sun2023: self-supervised classification of phase-transition series (SpecRR / SpecMoco)."""
