"""xrdsim's training package (installed as ``xrdsim_training``; imports torch)."""
