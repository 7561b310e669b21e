"""Scoring a trained run: the evaluation report (``evaluate``), its metrics (``metrics``),
figures (``figures``), the representation's t-SNE maps (``representation``) and the
temperature scaling of its probabilities (``temperature``)."""
