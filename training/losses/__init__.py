"""Training objectives: Barlow Twins, NT-Xent (SimCLR), weighted multi-head cross-entropy."""

from xrdsim_training.losses.barlow_twins import barlow_twins_loss, cross_correlation
from xrdsim_training.losses.nt_xent import nt_xent_loss
from xrdsim_training.losses.supervised import supervised_loss

__all__ = ["barlow_twins_loss", "cross_correlation", "nt_xent_loss", "supervised_loss"]
