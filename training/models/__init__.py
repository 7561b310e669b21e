"""Networks: 1D ResNet encoder, classification heads, representation head."""

from xrdsim_training.models.heads import (
    ClassificationHeads,
    ProjectionHead,
    conditional_sg_log_probs,
    predict_space_group,
    space_group_probabilities,
)
from xrdsim_training.models.network import XrdNet
from xrdsim_training.models.resnet1d import ResNet1dEncoder

__all__ = [
    "ClassificationHeads",
    "ProjectionHead",
    "ResNet1dEncoder",
    "XrdNet",
    "conditional_sg_log_probs",
    "predict_space_group",
    "space_group_probabilities",
]
