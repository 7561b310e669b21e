"""Streaming ``IterableDataset`` over one split of a Zarr store, yielding whole batches.

Shuffling is two-level, as for any sharded stream: every epoch the complete shards
are permuted with a generator seeded by ``(seed, epoch)`` and dealt round-robin to
the ``world · workers`` global workers (DDP ranks × DataLoader workers), then each
worker passes its rows through a shuffle buffer of ``buffer_size`` rows with a
generator seeded by ``(seed, epoch, global worker)``. Reading a whole shard at a
time keeps decompression sequential and cheap.

Each item is already a batch (use ``DataLoader(ds, batch_size=None)``)::

    {"pattern": (B, 12000) float32, "crystal_system": (B,) int64, "extinction_group": (B,) int64,
     "space_group": (B,) int64 (1–230), "structure_index": (B,) int64, "view": (B,) int64}

With ``dtype="native"`` the patterns keep the store's dtype (float16 for the default
store): half the bytes through the DataLoader's shared memory, converted by the consumer
(``x.to(device).float()``, free on a GPU). The trainer and the evaluation read it that way.

Under DDP every rank must take the same number of steps, so with ``world > 1``
each worker stops after the smallest full-batch count of any global worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import IterableDataset
from xrdsim_training.data.distributed import WorkerLayout, current_layout
from xrdsim_training.data.store import LABELS, SplitReader, open_split

from xrdsim.errors import TrainingError

Batch = dict[str, torch.Tensor]


class ZarrStreamDataset(IterableDataset):
    """Batches of one store split, shuffled per epoch or in store order.

    Args:
        path: the ``dataset.zarr`` store.
        split: split name.
        batch_size: patterns per batch.
        shuffle: shard permutation + shuffle buffer (training) or store order (evaluation).
        buffer_size: shuffle-buffer rows (rounded up to a multiple of ``batch_size``).
        drop_last: drop a final short batch of each worker.
        seed: base seed; the epoch and worker are mixed in (:meth:`set_epoch`).
        rows: optional subset of row indices (store order) to read, evaluation only.
        dtype: ``"float32"`` (default) or ``"native"`` (the store's float16/float32).
    """

    def __init__(
        self,
        path: str | Path,
        split: str,
        *,
        batch_size: int,
        shuffle: bool = True,
        buffer_size: int = 4096,
        drop_last: bool = True,
        seed: int = 0,
        rows: np.ndarray | None = None,
        dtype: str = "float32",
    ):
        super().__init__()
        self.reader: SplitReader = open_split(path, split)
        self.path, self.split = str(path), split
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.buffer_size = max(self.batch_size, -(-int(buffer_size) // batch_size) * batch_size)
        self.drop_last = bool(drop_last)
        self.seed = int(seed)
        self.epoch = 0
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        if dtype not in ("float32", "native"):
            raise ValueError(f"dtype must be 'float32' or 'native', got {dtype!r}")
        self.out_dtype = np.float32 if dtype == "float32" else self.reader.patterns.dtype
        if self.rows is not None and self.shuffle:
            raise ValueError("a row subset is read in order; pass shuffle=False with rows")

    def __getstate__(self) -> dict:
        # zarr arrays are re-opened in each worker rather than pickled
        state = self.__dict__.copy()
        state["reader"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.reader = open_split(self.path, self.split)

    @property
    def n_extinction_groups(self) -> int:
        return self.reader.n_extinction_groups

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose shard order and buffer draws the next iteration uses."""
        self.epoch = int(epoch)

    def my_shards(self, layout: WorkerLayout) -> list[int]:
        """Shards read by ``layout``'s global worker this epoch."""
        shards = list(self.reader.complete_shards)
        if self.shuffle:
            rng = np.random.default_rng([self.seed, self.epoch])
            shards = [shards[i] for i in rng.permutation(len(shards))]
        return shards[layout.global_id :: layout.total]

    def batches_per_epoch(self, layout: WorkerLayout | None = None) -> int:
        """Batches one rank yields per epoch (all its DataLoader workers together)."""
        layout = layout or current_layout()
        total = 0
        for w in range(layout.workers):
            one = WorkerLayout(layout.rank, layout.world, w, layout.workers)
            total += self._worker_batches(one)
        return total

    def _worker_rows(self, layout: WorkerLayout) -> int:
        total = 0
        for shard in self.my_shards(layout):
            lo, hi = self.reader.shard_rows(shard)
            total += hi - lo
        return total

    def _worker_batches(self, layout: WorkerLayout) -> int:
        if self.rows is not None:
            n = len(self.rows[layout.global_id :: layout.total])
        else:
            n = self._worker_rows(layout)
        full, rest = divmod(int(n), self.batch_size)
        cap = self._ddp_cap(layout)
        count = full + (0 if self.drop_last or rest == 0 else 1)
        return count if cap is None else min(count, cap)

    def _ddp_cap(self, layout: WorkerLayout) -> int | None:
        if layout.world == 1 or self.rows is not None:
            return None
        counts = []
        for g in range(layout.total):
            rank, worker = divmod(g, layout.workers)
            other = WorkerLayout(rank, layout.world, worker, layout.workers)
            counts.append(self._worker_rows(other) // self.batch_size)
        return min(counts)

    def __iter__(self) -> Iterator[Batch]:
        return self.iterate(current_layout())

    def iterate(self, layout: WorkerLayout) -> Iterator[Batch]:
        """The batches of global worker ``layout`` this epoch (``__iter__`` uses the caller's)."""
        cap = self._ddp_cap(layout)
        if self.rows is not None:
            stream = self._subset_batches(self.rows[layout.global_id :: layout.total])
        elif self.shuffle:
            stream = self._shuffled_batches(layout)
        else:
            stream = self._ordered_batches(self.my_shards(layout))
        for count, batch in enumerate(stream):
            if cap is not None and count >= cap:
                return
            yield batch

    # -- the three orders -------------------------------------------------------------

    def _read(self, lo: int, hi: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        try:
            patterns = self.reader.patterns[lo:hi]
        except Exception as exc:  # noqa: BLE001 - truncated / garbled shard bytes
            raise TrainingError(
                f"rows {lo}–{hi} of {self.split!r} in {self.path!r} cannot be read "
                f"({type(exc).__name__}); the store is damaged — run `xrdsim verify` on it "
                "and rebuild") from None
        return patterns, {k: v[lo:hi] for k, v in self.reader.labels.items()}

    def _blocks(self, shards: list[int]) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """Rows of ``shards`` in blocks of exactly ``batch_size`` (the last may be short)."""
        carry_x, carry_l = None, None
        b = self.batch_size
        for shard in shards:
            x, lab = self._read(*self.reader.shard_rows(shard))
            if carry_x is not None:
                x = np.concatenate([carry_x, x])
                lab = {k: np.concatenate([carry_l[k], v]) for k, v in lab.items()}
            n_full = len(x) // b * b
            for start in range(0, n_full, b):
                yield x[start : start + b], {k: v[start : start + b] for k, v in lab.items()}
            carry_x, carry_l = x[n_full:], {k: v[n_full:] for k, v in lab.items()}
        if carry_x is not None and len(carry_x):
            yield carry_x, carry_l

    def _ordered_batches(self, shards: list[int]) -> Iterator[Batch]:
        for x, lab in self._blocks(shards):
            if len(x) == self.batch_size or not self.drop_last:
                yield _to_batch(x, lab, self.out_dtype)

    def _subset_batches(self, rows: np.ndarray) -> Iterator[Batch]:
        for start in range(0, len(rows), self.batch_size):
            idx = rows[start : start + self.batch_size]
            x = self.reader.patterns.oindex[idx, :]
            yield _to_batch(x, {k: v[idx] for k, v in self.reader.labels.items()}, self.out_dtype)

    def _shuffled_batches(self, layout: WorkerLayout) -> Iterator[Batch]:
        rng = np.random.default_rng([self.seed, self.epoch, layout.global_id])
        cap = self.buffer_size
        n_bins = self.reader.patterns.shape[1]
        buf = np.empty((cap, n_bins), dtype=self.reader.patterns.dtype)
        buf_lab = {k: np.empty(cap, dtype=np.int64) for k in LABELS}
        fill = 0
        for x, lab in self._blocks(self.my_shards(layout)):
            k = len(x)
            if fill + k <= cap:  # still filling the buffer
                buf[fill : fill + k] = x
                for name in LABELS:
                    buf_lab[name][fill : fill + k] = lab[name]
                fill += k
                continue
            # buffer full: emit k random rows and put the incoming block in their slots
            slots = np.sort(rng.choice(fill, size=k, replace=False))
            out = _to_batch(buf[slots], {n: buf_lab[n][slots] for n in LABELS}, self.out_dtype)
            buf[slots] = x
            for name in LABELS:
                buf_lab[name][slots] = lab[name]
            if k == self.batch_size or not self.drop_last:
                yield out
        order = rng.permutation(fill)
        for start in range(0, fill, self.batch_size):
            idx = np.sort(order[start : start + self.batch_size])
            if len(idx) == self.batch_size or not self.drop_last:
                yield _to_batch(buf[idx], {n: buf_lab[n][idx] for n in LABELS}, self.out_dtype)


def _to_batch(x: np.ndarray, labels: dict[str, np.ndarray], dtype: np.dtype) -> Batch:
    """Rows → a ``dtype`` tensor; labels → int64 tensors."""
    out = {"pattern": torch.from_numpy(np.ascontiguousarray(x, dtype=dtype))}
    for name in LABELS:
        out[name] = torch.from_numpy(np.ascontiguousarray(labels[name], dtype=np.int64))
    return out
