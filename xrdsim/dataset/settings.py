"""Build settings (what determines a dataset's bytes), the build summary, and resume checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xrdsim import __version__
from xrdsim.dataset.layout import ShardLayout, StoreEncoding
from xrdsim.dataset.splits import split_cells
from xrdsim.errors import ConfigError, ResumeMismatchError, brief
from xrdsim.versions import RENDER_VERSION

#: Views per structure: das2025 uses 6; 10⁴ views of one structure is already a benchmark.
MAX_VIEWS = 10_000
#: Rows per shard, held in memory while a shard is simulated (65,536 × 12,000 float32 = 3 GB).
MAX_SHARD_SIZE = 65_536


@dataclass(frozen=True)
class BuildSettings:
    """Everything that determines a dataset's bytes, besides inputs and configs.

    Attributes:
        views_train: patterns per structure in ``train``.
        views_test: patterns per structure in the three test splits.
        test_fraction: fraction of structures held out (by group, per crystal system).
        seed: the build seed (splits, row order and every simulation draw).
        shard_size: patterns per shard = per work unit = per file.
        chunk_size: patterns per compressed chunk inside a shard (divides ``shard_size``).
        encoding: pattern dtype and compressor.
    """

    views_train: int = 6
    views_test: int = 2
    test_fraction: float = 0.1
    seed: int = 0
    shard_size: int = 1024
    chunk_size: int = 256
    encoding: StoreEncoding = field(default_factory=StoreEncoding)

    def __post_init__(self) -> None:
        for name, maximum in (("views_train", MAX_VIEWS), ("views_test", MAX_VIEWS),
                              ("shard_size", MAX_SHARD_SIZE), ("chunk_size", MAX_SHARD_SIZE)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value > maximum:
                raise ConfigError(f"{name} must be an integer ≤ {maximum}, got {brief(value)} "
                                  "(checked before anything is allocated)")
        split_cells(views_train=self.views_train, views_test=self.views_test)
        ShardLayout(0, self.shard_size, self.chunk_size)
        if not 0.0 <= self.test_fraction < 1.0:
            raise ConfigError(f"test_fraction must lie in [0, 1), got {self.test_fraction}")
        if not 0 <= int(self.seed) < 2**63:
            raise ConfigError(f"seed must lie in [0, 2**63), got {self.seed}")

    def to_dict(self) -> dict[str, Any]:
        return {"views_train": self.views_train, "views_test": self.views_test,
                "test_fraction": self.test_fraction, "seed": int(self.seed),
                "shard_size": self.shard_size, "chunk_size": self.chunk_size,
                "encoding": self.encoding.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BuildSettings:
        data = dict(data)
        data["encoding"] = StoreEncoding.from_dict(data.get("encoding", {}))
        return cls(**data)


@dataclass(frozen=True)
class BuildSummary:
    """What :func:`build_dataset` did.

    Attributes:
        path: the store.
        manifest_path: the manifest written (None when ``manifest_dir`` was None).
        n_structures: structures in the store.
        n_failed: inputs that produced no structure (reasons in the manifest).
        n_patterns: ``{split: patterns}``.
        shards_written: shards simulated by this call.
        shards_reused: shards found complete and kept (resume).
        seconds: wall time of this call.
        peaks_path: the peak database the build read (its error table lists every failed
            input: ``xrdsim peaks-info PEAKS --errors``).
        failure_reasons: the most common failure reasons by kind with their counts
            (:func:`xrdsim.peaks.database.reason_counts`).
    """

    path: Path
    manifest_path: Path | None
    n_structures: int
    n_failed: int
    n_patterns: dict[str, int]
    shards_written: int
    shards_reused: int
    seconds: float
    peaks_path: Path | None = None
    failure_reasons: dict[str, int] = field(default_factory=dict)


def _fingerprint(settings: BuildSettings, configs: Mapping[str, Any],
                 inputs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"xrdsim_version": __version__, "render_version": RENDER_VERSION,
            "settings": settings.to_dict(),
            "configs": {k: c.to_dict() for k, c in configs.items()},
            "inputs_sha256": [i["sha256"] for i in inputs]}


def check_resume(stored: Mapping[str, Any], asked: Mapping[str, Any], path: Path) -> None:
    """Refuse a resume whose settings differ from the store's, naming every difference.

    Raises:
        ResumeMismatchError: listing ``key: store has X, this build asks Y``.
    """
    from xrdsim.dataset.manifest import settings_differences

    diffs = [f"  - {k}: store has {old!r}, this build asks {new!r}"
             for k, old, new in settings_differences(stored, asked)]
    if diffs:
        raise ResumeMismatchError(
            f"cannot resume {path}: {len(diffs)} setting(s) differ from the existing store:\n"
            + "\n".join(diffs)
            + "\nRerun with the store's settings, or pass overwrite=True (CLI --overwrite) to "
            "start over.")
