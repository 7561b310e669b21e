"""Running independent work units in parallel with dask.

One function, :func:`run_tasks`, serves every parallel stage (peaks, dataset
build): it runs ``func(item)`` for each item either in-process (``workers=1``, no
scheduler: no cluster start-up cost, easy debugging), on a local
``dask.distributed`` cluster of ``workers`` processes, or on an existing cluster
given by its scheduler address. Results are yielded as they complete, tagged with
the item's index, so callers can write them in a deterministic order whatever the
scheduling. Nothing about the results depends on which of the three is used.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from xrdsim.errors import ConfigError
from xrdsim.progress import progress_bar


def default_workers() -> int:
    """Number of CPU cores available to this process (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


def max_local_workers() -> int:
    """Most processes of a local cluster: 4 per core (more only adds memory and switching)."""
    return 4 * default_workers()


def check_workers(workers: int | None, *, scheduler: str | None = None) -> None:
    """Refuse ``workers < 1`` and more local processes than :func:`max_local_workers`.

    Raises:
        ConfigError: naming the limit and the fix.
    """
    if workers is None:
        return
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be an integer >= 1 (or None for all cores), "
                          f"got {workers!r}")
    if scheduler is None and workers > max_local_workers():
        raise ConfigError(f"workers = {workers} on a machine with {default_workers()} cores; "
                          f"at most {max_local_workers()} local processes are started (each "
                          "holds a simulator): lower workers (--workers), or pass a scheduler "
                          "(--scheduler)")


#: Seconds to wait for a dask scheduler named by address before giving up (dask's own
#: connect timeout is also 30 s).
SCHEDULER_TIMEOUT_S = 30.0


@contextlib.contextmanager
def dask_client(*, workers: int, scheduler: str | None) -> Iterator[Any]:
    """A ``distributed.Client`` on a scheduler address or on a new local cluster.

    Args:
        workers: processes of the local cluster (ignored with ``scheduler``).
        scheduler: ``"tcp://host:8786"`` of a running dask.distributed scheduler, or None.
    """
    from distributed import Client, LocalCluster

    with _interrupts_end_quietly():
        if scheduler:
            with _remote_client(scheduler) as client:
                yield client
            return
        with _sigint_ignored_by_children():  # the worker processes start now
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                # the scheduler always serves HTTP; ":0" takes a free port instead of
                # fighting over 8787 with any other cluster on the machine
                dashboard_address=":0",
                silence_logs=40,
            )
        with cluster, Client(cluster) as client:
            yield client


@contextlib.contextmanager
def _remote_client(scheduler: str) -> Iterator[Any]:
    """A ``distributed.Client`` of the scheduler at ``scheduler``; unreachable: ConfigError."""
    from distributed import Client

    try:
        client = Client(scheduler, timeout=SCHEDULER_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ConfigError(f"cannot reach the dask scheduler {scheduler!r} within "
                          f"{SCHEDULER_TIMEOUT_S:g} s ({reason}); start it (`dask "
                          "scheduler`), check the address, or leave scheduler= (CLI "
                          "--scheduler) out to run locally") from None
    with client:
        yield client


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _sigint_ignored_by_children() -> Iterator[None]:
    """SIGINT ignored while the block starts processes: they inherit the disposition.

    A Ctrl-C in a terminal signals every process of the foreground group; the local
    cluster's workers then died with one KeyboardInterrupt traceback each. Started with
    SIGINT ignored (Python keeps an inherited ignore), they leave the interrupt to this
    process, which closes them. A Ctrl-C during the ~1 s the workers take to start is lost.
    """
    if not _in_main_thread():
        yield  # only the main thread may set handlers
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _quiet_interrupt(signum: int, frame: Any) -> None:
    """SIGINT handler: stop dask's logging, then raise KeyboardInterrupt as Python would.

    Closing a cluster whose tasks were interrupted makes dask and tornado log errors and
    tracebacks (a cancelled ``sync`` callback, keys that cannot be gathered): noise after
    the user's own Ctrl-C.
    """
    logging.disable(logging.CRITICAL)
    raise KeyboardInterrupt


@contextlib.contextmanager
def _interrupts_end_quietly() -> Iterator[None]:
    """Install :func:`_quiet_interrupt` for the block (main thread, default handler only:
    a caller's own handler, or a SIGINT ignored as in a background job, stays)."""
    if not _in_main_thread() or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    signal.signal(signal.SIGINT, _quiet_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        logging.disable(logging.NOTSET)


#: Items submitted per worker thread ahead of the results (:func:`run_tasks`).
IN_FLIGHT_PER_THREAD = 3


def run_tasks(
    func: Callable[[Any], Any],
    items: Sequence[Any],
    *,
    workers: int | None = 1,
    scheduler: str | None = None,
    label: str = "working",
    progress: bool = True,
    weights: Sequence[int] | None = None,
    on_error: Callable[[Any, Exception], Any] | None = None,
) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, func(items[index]))`` for every item, in completion order.

    Args:
        func: a picklable top-level function of one argument.
        items: the work units (picklable).
        workers: processes to use; ``None`` means all cores; 1 runs in-process.
        scheduler: address of a dask.distributed scheduler; overrides ``workers``.
        label: progress-bar label.
        progress: show a progress bar on stderr.
        weights: progress units per item (e.g. structures per chunk); default 1 each.
        on_error: ``on_error(item, exc)`` is the result of an item whose task failed on a
            worker (a worker killed for memory: ``KilledWorker``), so one lost task
            never aborts the batch; None: the exception propagates.

    Raises:
        ConfigError: for ``workers < 1`` or more than :func:`max_local_workers`.
    """
    if workers is None:
        workers = default_workers()
    check_workers(workers, scheduler=scheduler)
    weights = list(weights) if weights is not None else [1] * len(items)
    total = int(sum(weights))
    with progress_bar(total, label, enabled=progress) as bar:
        if scheduler is None and workers == 1:
            for i, item in enumerate(items):
                yield i, func(item)
                bar.update(weights[i])
            return
        from distributed import as_completed

        with dask_client(workers=workers, scheduler=scheduler) as client:
            # a bounded window of submitted items: the inputs travel one by one (no
            # multi-MB task graph), and few results wait in memory at once
            window = IN_FLIGHT_PER_THREAD * max(1, sum(client.nthreads().values()))
            pending = iter(enumerate(items))
            index: dict[str, int] = {}
            running = as_completed()

            def submit_next() -> None:
                nxt = next(pending, None)
                if nxt is not None:
                    future = client.submit(func, nxt[1], pure=False)
                    index[future.key] = nxt[0]
                    running.add(future)

            for _ in range(window):
                submit_next()
            for future in running:
                i = index.pop(future.key)
                try:
                    result = future.result()
                except Exception as exc:
                    if on_error is None:
                        raise
                    result = on_error(items[i], exc)
                yield i, result
                bar.update(weights[i])
                future.release()
                submit_next()


def pid_alive(pid: int) -> bool:
    """True when a process ``pid`` runs on this host (signal 0 probes without signalling;
    a process of another user answers PermissionError and counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
