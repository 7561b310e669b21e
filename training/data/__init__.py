"""Data pipelines: streaming from a Zarr store, and on-the-fly simulation from a peak DB."""

from xrdsim_training.data.store import SplitReader, open_split
from xrdsim_training.data.zarr_stream import ZarrStreamDataset

__all__ = ["SplitReader", "ZarrStreamDataset", "open_split"]
