"""HAND, the das2025 §4.2 baseline: ExtraTrees on hand-crafted peak features (no torch).

``features`` (peak finding and the 11 features), ``forest`` (the trees as arrays, saved
without pickle), ``model`` (train / predict / evaluate on measured files), ``splits``
(score a HAND run on a store's simulated splits, as ``xrdsim evaluate`` does).
"""

from xrdsim_training.hand.features import (
    CU_KALPHA2_RATIO,
    HandSettings,
    database_features,
    find_pattern_peaks,
    hand_features,
    visible_lines,
)
from xrdsim_training.hand.model import (
    MODEL_FILE,
    SETTINGS_FILE,
    TRAIN_IDS_FILE,
    HandModel,
    evaluate_hand,
    is_hand_run,
    predict_hand,
    train_hand,
    train_hand_from_options,
)

__all__ = [
    "CU_KALPHA2_RATIO",
    "MODEL_FILE",
    "SETTINGS_FILE",
    "TRAIN_IDS_FILE",
    "HandModel",
    "HandSettings",
    "database_features",
    "evaluate_hand",
    "find_pattern_peaks",
    "hand_features",
    "is_hand_run",
    "predict_hand",
    "train_hand",
    "train_hand_from_options",
    "visible_lines",
]
