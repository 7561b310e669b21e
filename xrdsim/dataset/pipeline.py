"""The builder's shard writer: shard i is cast, encoded, written and hashed while the
simulator renders shard i+1.

In-process builds (``--workers 1``) simulate on the main thread (numba, every core,
GIL released) and hand each shard's arrays to a :class:`ShardWriter` thread, which
casts the patterns to float16 and compresses them chunk by chunk
(:func:`xrdsim.dataset.codec.encode_full_shard`, numba and Blosc release the GIL),
writes every file atomically, feeds the bytes it wrote to the store checksums
(:class:`xrdsim.dataset.checksums.StoreDigests`, no re-read) and then records the shard
complete. With worker processes (``--workers N``, ``--scheduler``) the workers simulate
and write, so their processes already overlap one another; the writer thread then
hashes each finished shard's files and records it, beside the builder's wait for the
next result. Either way the queue holds at most ``depth`` shards, so memory stays
bounded at a few shards, and the bytes are those of a sequential build (tested).

Failures: an exception of the writer thread (disk full, a bug) is raised again in the
builder at its next :meth:`ShardWriter.submit` or at the end, with a note naming the
shard; that shard is not recorded complete, so ``--resume`` redoes it. An exception in
the builder (Ctrl-C, a simulation error) drops the shards still queued, lets the writer
finish the shard it is writing (whole files only, then recorded) and stops it before the
store lock is released. A killed process leaves at most ``*.partial`` temporaries and
unrecorded shard files, which ``--resume`` deletes and rewrites.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from xrdsim.dataset.checksums import StoreDigests
from xrdsim.dataset.shards import record_complete, write_shard

#: Seconds between checks of the writer's health while the queue is full.
_POLL_S = 0.05
_STOP = object()


class ShardWriter:
    """A thread that writes, hashes and records shards behind the simulator.

    Use as a context manager; :meth:`submit` shards in any order (in-process builds
    submit them in order, which the checksums need to avoid keeping bytes).

    Args:
        store: the store being built (the caller holds its lock).
        digests: the running checksums of the store.
        depth: shards waiting in the queue at most (the simulator blocks beyond).
    """

    def __init__(self, store: str | os.PathLike, digests: StoreDigests, *,
                 depth: int = 1) -> None:
        self._store = store
        self._digests = digests
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._abort = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="xrdsim-shard-writer")

    def __enter__(self) -> ShardWriter:
        self._thread.start()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self._abort.set()  # drop what is queued; the shard being written finishes
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
        self._queue.put(_STOP)
        self._thread.join()
        if exc_type is None:
            self._raise_if_failed()

    def submit(self, split: str, shard: int,
               arrays: Mapping[str, np.ndarray] | None) -> None:
        """Queue shard ``shard`` of ``split``: its simulated ``arrays`` to write, or None
        when a worker process already wrote it (it is then hashed from disk).

        Raises:
            the writer thread's exception, if it failed on an earlier shard.
        """
        while True:
            self._raise_if_failed()
            try:
                self._queue.put((split, shard, arrays), timeout=_POLL_S)
                return
            except queue.Full:
                continue

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._error is not None or self._abort.is_set():
                continue
            split, shard, arrays = item
            try:
                written = {} if arrays is None else write_shard(self._store, split, shard,
                                                                arrays)
                self._digests.add(split, shard, written)
                record_complete(self._store, split, [shard])
            except BaseException as exc:  # handed to the builder thread
                exc.add_note(f"raised by the shard writer thread on shard {shard} of split "
                             f"{split!r} of {self._store}; that shard is not recorded "
                             "complete, `xrdsim build ... --resume` redoes it")
                self._error = exc
