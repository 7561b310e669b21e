"""Building a peak database: sources → parse → labels → peaks (in parallel) → ordered write.

:func:`write_peak_database` lists the inputs (:func:`xrdsim.structures.reader.iter_cif_sources`),
cuts them into chunks of :data:`CHUNK_SIZE` structures, runs every chunk through
:func:`xrdsim.parallel.run_tasks` (in-process, a local dask cluster, or a scheduler
address) and writes the results with :class:`PeakDatabaseWriter` in input order,
whatever order the chunks finish in — so the arrays do not depend on ``workers``.
The client holds the listed CIF texts in memory (a few KB per structure) and ships
them to the workers, so workers need no access to the input files.

Every input that yields no structure becomes one ``(source, reason)`` error record
and the rest of the batch goes on: unreadable paths and CSVs without a CIF column
(reported by the source listing), parse failures (``StructureError``), symmetry
failures, a CSV's ``intended_space_group`` that spglib does not find (synthetic
crystals: recorded, never relabelled), any other exception in one structure's work (recorded as
``"<ExceptionType>: <message>"``), duplicate structure ids, and structures with no
Bragg line in the 2θ range (an empty pattern is useless downstream, so it is an
error rather than a row with 0 peaks).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from xrdsim.errors import ConfigError, StructureError
from xrdsim.outputs import check_replaceable
from xrdsim.peaks import database as layout
from xrdsim.peaks.writer import PeakDatabaseWriter, check_output_path

#: Structures per parallel task: large enough that scheduling overhead (~ms per task
#: on dask) is small next to the work (~ms per structure), small enough to balance.
CHUNK_SIZE = 64
#: Per-structure budget of structure-factor terms (reflections × sites): the largest
#: structures of the test data (Li7La3Zr2O12, 256 sites, V = 2292 Å³) need ≈ 3.5·10⁶ at
#: Cu Kα to 120°, the bundled MP-20 set at most ≈ 9.4·10⁴.
MAX_PEAK_WORK = 1e9
#: Per-structure memory budget (bytes) of the peak stage, from the structure's numbers
#: before the kernel runs: :data:`BYTES_PER_REFLECTION` per reflection of the limiting
#: sphere plus the kernel's phase tables. Enforced wherever the work runs — in-process and
#: in dask workers alike — so no structure can get a worker killed and its batch aborted.
MAX_STRUCTURE_BYTES = 2 * 1024**3
#: Peak bytes per reflection of the limiting sphere: 30 measured (NaCl, λ = 0.2 Å to 180°,
#: 7.5·10⁵ reflections: 22 MB over the baseline, ``resource.getrusage``), doubled.
BYTES_PER_REFLECTION = 64
#: Wall-time budget of one structure (parse, symmetry, peaks) where it can be enforced
#: (see :func:`time_budget`); the slowest test structure takes well under a second.
STRUCTURE_SECONDS = 300.0
#: ``workers=None`` runs in-process below this many inputs: a local dask cluster costs
#: ~5–20 s to start and close (measured, docs/peaks.md) while in-process work
#: runs at ~8–17 ms per MP-20 structure, so smaller inputs finish sooner without one.
AUTO_PARALLEL_MIN = 1024
#: Failure kinds listed in a summary.
TOP_REASONS = 10


@dataclass(frozen=True)
class PeakDatabaseSummary:
    """What :func:`write_peak_database` did.

    Attributes:
        path: the database written.
        n_inputs: entries listed from the inputs (structures plus unreadable inputs).
        n_structures: structures written. n_failed: error records written.
        n_peaks: peak rows written. seconds: wall time of the whole run.
        failure_reasons: failure kind -> count, most common first (see
            :func:`xrdsim.peaks.database.reason_counts`).
    """

    path: str
    n_inputs: int
    n_structures: int
    n_failed: int
    n_peaks: int
    seconds: float
    failure_reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PeakDatabaseSummary:
        return cls(**data)


@dataclass(frozen=True)
class _Chunk:
    """One parallel task: consecutive listing entries and the settings to apply."""

    entries: tuple
    wavelength: float
    two_theta_range: tuple[float, float]
    symprec: float
    fast: bool = True
    u_as_b: bool = False


def write_peak_database(
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    wavelength: float | str = 1.5418,
    two_theta_range: tuple[float, float] = (0.0, 120.0),
    symprec: float = 0.1,
    workers: int | None = 1,
    scheduler: str | None = None,
    progress: bool = True,
    overwrite: bool = False,
    chunk_size: int = CHUNK_SIZE,
    fast: bool = True,
    u_as_b: bool = False,
) -> PeakDatabaseSummary:
    """Compute labels and Bragg peaks of every input structure into one HDF5 file.

    Args:
        inputs: CIF files, folders of CIFs, CSV / CSV.gz files with a CIF column.
        output: the ``.h5`` file to write (atomically: a temporary file is renamed).
        wavelength: Å, or a preset name (``"CuKa"``, ``"MoKa1"``, ...).
        two_theta_range: (min, max) degrees 2θ, 0 <= min < max <= 180.
        symprec: spglib distance tolerance in Å (0.1 reproduces the MP-20 labels).
        workers: processes (1: in-process, no dask); never more than the number of
            chunks. None: all cores, but in-process below :data:`AUTO_PARALLEL_MIN` inputs.
        scheduler: address of a running dask.distributed scheduler (overrides workers).
        progress: show a progress bar on stderr.
        overwrite: replace an existing ``output``.
        chunk_size: structures per parallel task.
        fast: read each CIF with the fast path (:mod:`xrdsim.structures.fast_cif`) and
            fall back to pymatgen's parser where it refuses; False: pymatgen for all.
            The structure table's ``reader`` column records the path each one took.
        u_as_b: read CIF U columns as B (``xrdsim.structures.reader.parse_cif``), for
            inputs that put B values under ``_atom_site_U_iso_or_equiv``.

    Returns:
        A :class:`PeakDatabaseSummary`.

    Raises:
        ConfigError: invalid settings (λ outside 0.062–3.10 Å included).
        DatabaseError: ``output`` exists (without ``overwrite``) or its folder is missing.
            Per-structure problems never raise.
    """
    from xrdsim.parallel import default_workers, run_tasks
    from xrdsim.peaks.form_factors import check_wavelength
    from xrdsim.structures.reader import iter_cif_sources
    from xrdsim.wavelengths import resolve_wavelength

    t0 = time.perf_counter()
    lam = resolve_wavelength(wavelength)
    check_wavelength(lam)  # the peaks include f′/f″: λ must be inside their table
    lo, hi = _check_settings(two_theta_range, symprec, workers, chunk_size)
    output = Path(output)
    check_output_path(output, overwrite=overwrite)
    paths = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    check_replaceable(output, expected=layout.FORMAT_NAME, command="xrdsim peaks", inputs=paths)
    if not paths:
        raise ConfigError("no inputs given: pass CIF files, folders or CSV(.gz) files")
    entries = list(iter_cif_sources(paths))
    chunks = [_Chunk(tuple(entries[i:i + chunk_size]), lam, (lo, hi), float(symprec),
                     fast=bool(fast), u_as_b=bool(u_as_b))
              for i in range(0, len(entries), chunk_size)]
    if scheduler is None:
        if workers is None:  # automatic: a cluster start costs more than small inputs
            workers = 1 if len(entries) < AUTO_PARALLEL_MIN else default_workers()
        workers = max(1, min(int(workers), len(chunks)))  # never more than the chunks
    done: dict[int, list] = {}
    next_chunk = 0
    with PeakDatabaseWriter(output, wavelength=lam, two_theta_range=(lo, hi),
                            symprec=symprec, inputs=[str(p) for p in paths],
                            overwrite=overwrite, u_as_b=u_as_b) as writer:
        tasks = run_tasks(_process_chunk, chunks, workers=workers, scheduler=scheduler,
                          label="peaks", progress=progress,
                          weights=[len(c.entries) for c in chunks], on_error=_chunk_lost)
        for i, results in tasks:
            done[i] = results
            while next_chunk in done:  # write in input order whatever finished first
                for result in done.pop(next_chunk):
                    _write_result(writer, result)
                next_chunk += 1
    return PeakDatabaseSummary(
        path=str(output), n_inputs=len(entries), n_structures=writer.n_structures,
        n_failed=writer.n_errors, n_peaks=writer.n_peaks,
        seconds=round(time.perf_counter() - t0, 3),
        failure_reasons=layout.reason_counts(writer.error_reasons, top=TOP_REASONS),
    )


def _check_settings(two_theta_range, symprec, workers, chunk_size) -> tuple[float, float]:
    from xrdsim.parallel import check_workers

    try:
        lo, hi = (float(x) for x in two_theta_range)
    except (TypeError, ValueError):
        raise ConfigError(f"two_theta_range must be (min, max) in degrees, "
                          f"got {two_theta_range!r}") from None
    if not (0.0 <= lo < hi <= 180.0):
        raise ConfigError(f"two_theta_range must satisfy 0 <= min < max <= 180 degrees, "
                          f"got ({lo}, {hi})")
    if not (np.isfinite(symprec) and symprec > 0):
        raise ConfigError(f"symprec must be a positive distance in Å, got {symprec!r}")
    check_workers(workers)
    if int(chunk_size) < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
    return lo, hi


def _write_result(writer: PeakDatabaseWriter, result: tuple) -> None:
    if result[0] == "error":
        writer.add_error(result[1], result[2])
    else:
        _, structure_id, source, peaks, labels, reader = result
        writer.add_structure(structure_id=structure_id, source=source, peaks=peaks,
                             labels=labels, reader=reader)


def _process_chunk(chunk: _Chunk) -> list[tuple]:
    """Worker side: one result tuple per entry, ``("ok", id, source, peaks, labels, reader)``
    or ``("error", source, reason)``."""
    # spglib's C library prints internal retry notes ("spglib: ssm_get_exact_positions
    # failed.") on stderr, garbling the progress bar; they do not mean a wrong result
    os.environ.setdefault("SPGLIB_WARNING", "OFF")
    return [_process_one(entry, chunk) for entry in chunk.entries]


def _chunk_lost(chunk: _Chunk, exc: Exception) -> list[tuple]:
    """Error records of a chunk whose worker died (the rest of the batch is written)."""
    reason = (f"the worker died while reading this chunk ({type(exc).__name__}); rerun these "
              "structures with --workers 1 to find the one that exhausts memory")
    return [("error", entry.source, reason) for entry in chunk.entries]


def _process_one(entry: Any, chunk: _Chunk) -> tuple:
    from xrdsim.peaks.lines import compute_peaks
    from xrdsim.structures.cif_checks import symmetry_lost
    from xrdsim.structures.fast_cif import parse_cif_fast
    from xrdsim.structures.reader import parse_cif
    from xrdsim.structures.symmetry import structure_labels

    if isinstance(entry, StructureError):
        return ("error", entry.source, entry.reason)
    try:
        with warnings.catch_warnings(), time_budget(STRUCTURE_SECONDS):
            warnings.simplefilter("ignore")  # pymatgen's CIF warnings would garble the bar
            # the fast path reads U as U; --u-as-b inputs go to the full reader
            record = parse_cif_fast(entry) if chunk.fast and not chunk.u_as_b else None
            reader = "fast" if record is not None else "pymatgen"
            if record is None:
                record = parse_cif(entry, u_as_b=chunk.u_as_b)
            _check_peak_work(record.structure, chunk)
            labels = structure_labels(record.structure, symprec=chunk.symprec)
            intended = entry.intended_space_group
            if intended is not None and labels.space_group != intended:
                return ("error", entry.source, _mismatch(intended, labels.space_group,
                                                         chunk.symprec))
            peaks = compute_peaks(record.structure, wavelength=chunk.wavelength,
                                  two_theta_range=chunk.two_theta_range)
            # the database's cell (a … γ) is the standardised one: index the lines in it
            peaks = replace(peaks, hkl=labels.standard_miller(peaks.hkl))
    except StructureError as exc:  # the record names the input, not compute_peaks' label
        return ("error", entry.source, exc.reason)
    except Exception as exc:  # noqa: BLE001 - one bad structure must not stop the batch
        return ("error", entry.source, f"{type(exc).__name__}: {exc}")
    lost = symmetry_lost(record.declared_space_group, int(labels.space_group))
    if lost:
        return ("error", entry.source, lost)
    if len(peaks.two_theta) == 0:
        lo, hi = chunk.two_theta_range
        return ("error", entry.source, f"no Bragg peaks between {lo}° and {hi}° 2θ at "
                                       f"λ = {chunk.wavelength} Å")
    return ("ok", record.structure_id, record.source, peaks, _label_row(record, labels), reader)


def _mismatch(intended: int, found: int, symprec: float) -> str:
    return (f"intended space group {intended} but spglib finds {found} at symprec "
            f"{symprec} Å (a generated crystal whose symmetry changed; regenerate it at "
            "this symprec or drop it)")


@contextlib.contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Raise ``TimeoutError`` in the block after ``seconds`` of wall time (SIGALRM).

    Enforced where signals can be delivered: the main thread of a process, which is where
    in-process runs (``workers=1``) do their work. dask worker threads cannot receive
    signals; there the work budget of :func:`_check_peak_work` bounds the cost instead.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(
            signal, "setitimer"):
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"over the per-structure time budget of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous)


def _check_peak_work(structure: Any, chunk: _Chunk) -> None:
    """Refuse a structure whose structure-factor sum would exceed :data:`MAX_PEAK_WORK` or
    whose peak arrays would exceed :data:`MAX_STRUCTURE_BYTES`.

    Reflections inside the limiting sphere: N ≈ (4π/3)·(2 sinθ_max/λ)³·V; the work is
    N × sites (one complex exponential each). Cost grows with V² for a fixed density, so
    a plausible-looking 260 Å cell of 19,200 sites (≈ 2·10¹²) would run for hours.
    """
    import math

    s_max = 2.0 * math.sin(math.radians(min(chunk.two_theta_range[1], 180.0) / 2.0))
    g_max = s_max / chunk.wavelength
    reflections = 4.0 / 3.0 * math.pi * g_max ** 3 * structure.volume
    work = reflections * len(structure)
    if work > MAX_PEAK_WORK:
        raise StructureError("", f"too costly: ≈ {reflections:.3g} reflections × "
                             f"{len(structure)} sites = {work:.3g} terms (> {MAX_PEAK_WORK:g}, "
                             "the per-structure budget); a cell this large is not a powder-"
                             "diffraction training structure")
    # phase tables: cos and sin of 2π·h·x for |h| ≤ g_max/|a*| per axis and site
    reciprocal = np.linalg.inv(np.asarray(structure.lattice.matrix, dtype=np.float64)).T
    indices = sum(2 * g_max / float(np.linalg.norm(row)) + 1 for row in reciprocal)
    memory = reflections * BYTES_PER_REFLECTION + 16.0 * len(structure) * indices
    if memory > MAX_STRUCTURE_BYTES:
        raise StructureError("", f"too costly: the peaks of this structure need ≈ "
                             f"{memory / 2**30:.3g} GiB (≈ {reflections:.3g} reflections at "
                             f"λ = {chunk.wavelength:g} Å; > {MAX_STRUCTURE_BYTES / 2**30:g} "
                             "GiB, the per-structure memory budget); use a longer wavelength "
                             "or a narrower 2θ range")


def _label_row(record: Any, labels: Any) -> dict[str, Any]:
    """The structure-table columns of one structure (``database.STRUCTURE_COLUMNS``)."""
    a, b, c, alpha, beta, gamma = (float(x) for x in labels.lattice)
    elements = sorted(el.symbol for el in record.structure.composition.element_composition)
    row = {name: getattr(labels, name) for name in (
        "formula", "space_group", "space_group_symbol", "crystal_system", "extinction_group",
        "extinction_symbol", "laue_class", "bravais_lattice", "num_sites")}
    row.update(a=a, b=b, c=c, alpha=alpha, beta=beta, gamma=gamma,
               elements=" ".join(elements),
               declared_space_group=int(record.declared_space_group or 0))
    return row
