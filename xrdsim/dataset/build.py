"""Build a training-ready dataset: sources → peaks → splits → shards → Zarr store (SPEC §4).

:func:`build_dataset` is the whole pipeline. Its work unit is one *shard* of one
split: a unit simulates exactly the rows of that shard and writes them (one
file per array, see :mod:`xrdsim.dataset.shards`). Every row is a pure function of
(its structure's peaks, the split's config, the split's seed, the structure's
stable key, the view index), so the bytes never depend on the number of
workers, the scheduler or the order units finish in, and a killed build
resumed with ``resume=True`` ends byte-identical to an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from xrdsim import __version__
from xrdsim.dataset.checksums import StoreDigests
from xrdsim.dataset.layout import ShardLayout, StoreEncoding
from xrdsim.dataset.pipeline import ShardWriter
from xrdsim.dataset.settings import BuildSettings, BuildSummary, _fingerprint, check_resume
from xrdsim.dataset.shard_task import ShardTask, run_shard, simulate_rows
from xrdsim.dataset.shards import (
    complete_shards,
    create_store,
    discard_shard,
    finalize_store,
    layout_of,
    open_store,
    remove_partial_files,
    remove_store,
)
from xrdsim.dataset.splits import (
    SPLIT_NAMES,
    SplitSpec,
    assign_splits,
    assignment_sha256,
    check_extra_name,
    split_cells,
    split_rows,
    split_seed,
    split_structures,
)
from xrdsim.errors import ConfigError, DatasetError, ResumeMismatchError
from xrdsim.grid import BIN_WIDTH, N_BINS, TWO_THETA_MIN
from xrdsim.parallel import run_tasks
from xrdsim.store_lock import holds_store_lock
from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS
from xrdsim.versions import package_versions
from xrdsim.wavelengths import WAVELENGTH_TOL, check_peak_wavelength

#: Package path under which the bundled default input is recorded in manifests.
DEFAULT_SOURCE_NAME = "xrdsim/data/default_structures.csv.gz"
#: ``workers=None`` (auto) runs in-process below these sizes: starting a local cluster
#: (process start, imports, numba cache load: ~10-20 s on 2 busy cores, measured) costs
#: more than it saves on ~7 s of single-core simulation (~3,000 patterns/CPU-s) or on
#: ~5 MB of CIF text (~100 structures/CPU-s for MP-20-sized cells).
AUTO_CLUSTER_MIN_PATTERNS = 20_000
AUTO_CLUSTER_MIN_INPUT_BYTES = 5_000_000
#: Suffixes of a peak database given as the (single) source.
PEAK_DB_SUFFIXES = (".h5", ".hdf5")


def default_source() -> Path:
    """Path of the bundled 504-structure MP-20 sample (CC BY 4.0, Materials Project)."""
    return Path(str(resources.files("xrdsim.data").joinpath("default_structures.csv.gz")))


def _auto_workers(workers: int | None, size: int, threshold: int) -> int:
    """``workers``, or for None: 1 below ``threshold`` work, else all cores."""
    from xrdsim.parallel import default_workers

    if workers is not None:
        return workers
    return 1 if size < threshold else default_workers()


def _common_wavelength(configs: Mapping[str, Any]) -> float:
    """The wavelength (Å) both configs expect the peak lists at; refuses a mismatch."""
    values = {k: float(c.wavelength) for k, c in configs.items()}
    if max(values.values()) - min(values.values()) > WAVELENGTH_TOL:
        raise ConfigError(
            f"the train and invariance configs expect peaks at different wavelengths "
            f"({values}); every split renders the same peak lists, so give both configs "
            "the same `wavelength`")
    return values["train"]


def _peak_db_input(sources: Sequence[Path]) -> Path | None:
    dbs = [s for s in sources if s.suffix.lower() in PEAK_DB_SUFFIXES]
    if not dbs:
        return None
    if len(sources) > 1:
        raise ConfigError(
            f"a peak database ({dbs[0]}) must be the only source, got {len(sources)} sources; "
            "build from the database alone, or from the CIF/CSV files alone")
    return dbs[0]


@dataclass(frozen=True)
class _SplitPlan:
    spec: SplitSpec
    structures: np.ndarray
    structure_index: np.ndarray
    view: np.ndarray
    layout: ShardLayout
    seed: int


def synthetic_mask(structure_ids: Sequence[Any]) -> np.ndarray:
    """Per structure, True for a crystal of `xrdsim synth` (kept in train by the split)."""
    from xrdsim.structures.synth import is_synthetic_id

    return np.array([is_synthetic_id(str(i)) for i in structure_ids], dtype=bool)


def _plan(labels: Mapping[str, np.ndarray], settings: BuildSettings,
          extra: Sequence[str] = (), train_only: np.ndarray | None = None
          ) -> tuple[np.ndarray, list[_SplitPlan]]:
    assignment = assign_splits([str(f) for f in labels["formula"]], labels["space_group"],
                               test_fraction=settings.test_fraction, seed=settings.seed,
                               train_only=train_only)
    plans = []
    for spec in split_cells(views_train=settings.views_train, views_test=settings.views_test,
                            extra=extra):
        structures = split_structures(assignment, spec, seed=settings.seed)
        s_index, view = split_rows(structures, spec.views)
        plans.append(_SplitPlan(spec, structures, s_index, view,
                                ShardLayout(len(s_index), settings.shard_size,
                                            settings.chunk_size),
                                split_seed(settings.seed, spec.name)))
    return assignment, plans


def _param_names(db: Any, config: Any) -> list[str]:
    """Names of the parameters the simulator reports for ``config`` (one-pattern probe)."""
    from xrdsim.simulation.phases import simulate_database

    result = simulate_database(db, np.array([0]), config, seed=0,
                               structure_keys=np.zeros(1, dtype=np.int64),
                               views=np.zeros(1, dtype=np.int64), threads=1)
    return sorted(result.params)


@holds_store_lock("output")
def build_dataset(
    sources: Sequence[str | os.PathLike] = (),
    output: str | os.PathLike = "dataset.zarr",
    *,
    train_config: Any = "train",
    invariance_config: Any = "invariance",
    extra_splits: Mapping[str, Any] | None = None,
    views_train: int = 6,
    views_test: int = 2,
    test_fraction: float = 0.1,
    seed: int = 0,
    shard_size: int = 1024,
    chunk_size: int = 256,
    dtype: str = "float16",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    manifest_dir: str | os.PathLike | None = "data_manifests",
    name: str | None = None,
    progress: bool = True,
) -> BuildSummary:
    """Build (or resume) a sharded Zarr v3 dataset with the four splits of SPEC §4.

    Args:
        sources: CIF files, folders, CSV(.gz) tables of CIF text, or one peak
            database (``.h5``); empty means the bundled 504 MP-20 structures.
        output: the store folder (``*.zarr``). Peaks computed from CIF sources are
            kept beside it as ``<output>.peaks.h5`` (reused by ``resume``).
        train_config / invariance_config: preset name, YAML path or SimulationConfig;
            they must be disjoint (:func:`xrdsim.simulation.disjoint.check_disjoint`).
        extra_splits: ``{name: config}`` of further splits of the train structures
            (``views_test`` views each), e.g. ``{"extrapolation": "extrapolation"}``.
        views_train / views_test: patterns per structure in ``train`` / in the test splits.
        test_fraction: fraction of structures held out (whole formula+space-group groups).
        seed: build seed; the same seed and inputs give the same bytes.
        shard_size / chunk_size: patterns per shard (work unit) / per chunk.
        dtype: pattern dtype, ``"float16"`` (default, see docs/dataset.md) or ``"float32"``.
        workers: processes (1: in-process; None: auto — in-process for small jobs, see
            :data:`AUTO_CLUSTER_MIN_PATTERNS`, else all cores); never changes the bytes.
        scheduler: address of a dask.distributed scheduler (workers must see ``output``).
        resume: continue an interrupted build (settings must match; a missing store
            is simply built).
        overwrite: delete an existing store first.
        manifest_dir: folder of ``<name>.json``; None writes no manifest.
        name: manifest name; default the store's file stem.
        progress: progress bars on stderr.

    Raises:
        ConfigError: bad settings, overlapping configs (ConfigOverlapError).
        DatasetError: existing store without resume/overwrite, unwritable store.
        ResumeMismatchError: resume with settings that differ from the store's.
    """
    from xrdsim.dataset.manifest import describe_inputs
    from xrdsim.parallel import check_workers
    from xrdsim.peaks.database import PeakDatabase, reason_counts
    from xrdsim.peaks.job import TOP_REASONS
    from xrdsim.simulation.simulator import structure_key

    t0 = time.perf_counter()
    if resume and overwrite:
        raise ConfigError("resume and overwrite exclude each other; pick one")
    settings = BuildSettings(views_train=views_train, views_test=views_test,
                             test_fraction=test_fraction, seed=seed, shard_size=shard_size,
                             chunk_size=chunk_size, encoding=StoreEncoding(dtype=dtype))
    check_workers(workers, scheduler=scheduler)
    configs = _load_configs(train_config, invariance_config, extra_splits or {})
    wavelength = _common_wavelength(configs)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)  # "-o out/dataset.zarr" on a fresh checkout
    paths = [Path(s) for s in sources] or [default_source()]
    names = {str(default_source()): DEFAULT_SOURCE_NAME}
    inputs = describe_inputs(paths, labels=names)
    fingerprint = _fingerprint(settings, configs, inputs)
    existing = _existing_store(output, fingerprint, resume=resume, overwrite=overwrite)
    peaks_path = _peaks_path(paths, output, inputs, wavelength, reuse=existing, workers=workers,
                             scheduler=scheduler, progress=progress)
    db = PeakDatabase(peaks_path)
    check_peak_wavelength(db.attrs["wavelength"], wavelength,
                          source=f"peak database {peaks_path}")
    if len(db) == 0:
        raise DatasetError(f"no usable structure in {[str(p) for p in paths]}: "
                           f"{len(db.errors)} input(s) failed, e.g. {db.errors[:3]}")
    labels = db.labels
    ids = [str(s) for s in labels["structure_id"]]
    synthetic = synthetic_mask(ids)  # crystals of `xrdsim synth`: train only
    assignment, plans = _plan(labels, settings, extra=list(extra_splits or {}),
                              train_only=synthetic)
    _warn_empty_test_splits(plans, settings, len(ids))
    assignment_hash = assignment_sha256(ids, assignment)
    if existing:
        root = open_store(output)
        if root.attrs.get("split_assignment_sha256") != assignment_hash:
            raise ResumeMismatchError(
                f"cannot resume {output}: the structure table differs from the store's "
                f"(split assignment sha256 {root.attrs.get('split_assignment_sha256')} vs "
                f"{assignment_hash}); the peaks were recomputed differently. Pass overwrite=True "
                "(CLI --overwrite).")
    else:
        _create(output, db, plans, configs, settings, fingerprint, inputs, paths, names,
                assignment, assignment_hash, synthetic)

    keys = np.array([structure_key(s) for s in ids], dtype=np.int64)
    tasks, done = _tasks(output, peaks_path, plans, configs, labels, keys)
    checksums = _simulate(output, tasks, done, workers=workers, scheduler=scheduler,
                          progress=progress)
    manifest_path = None
    if manifest_dir is not None:
        manifest_path = _manifest(output, name or output.stem, manifest_dir, db, plans, configs,
                                  settings, inputs, assignment_hash, checksums,
                                  progress=progress)  # fmt: skip
    return BuildSummary(path=output, manifest_path=manifest_path, n_structures=len(ids),
                        n_failed=len(db.errors),
                        n_patterns={p.spec.name: p.layout.n_patterns for p in plans},
                        shards_written=len(tasks),
                        shards_reused=sum(len(d) for d in done.values()),
                        seconds=time.perf_counter() - t0, peaks_path=peaks_path,
                        failure_reasons=reason_counts([r for _, r in db.errors],
                                                      top=TOP_REASONS))


def _load_configs(train: Any, invariance: Any, extra: Mapping[str, Any]) -> dict[str, Any]:
    """Every split's config, loaded once (here, at the boundary); train and invariance
    disjoint, extra split names valid."""
    from xrdsim.simulation.config import load_config
    from xrdsim.simulation.disjoint import check_disjoint

    configs = {"train": load_config(train), "invariance": load_config(invariance)}
    check_disjoint(configs["train"], configs["invariance"])
    for extra_name, extra_config in extra.items():
        check_extra_name(extra_name)
        configs[extra_name] = load_config(extra_config)
    return configs


def _existing_store(output: Path, fingerprint: dict, *, resume: bool, overwrite: bool) -> bool:
    """Whether a store to resume exists: checks a resumed store's settings, removes one to
    overwrite, refuses one without either."""
    if not output.exists():
        return False
    if resume:
        check_resume(open_store(output).attrs.get("build", {}), fingerprint, output)
        return True
    if overwrite:
        remove_store(output)
        return False
    raise DatasetError(f"{output} already exists; pass resume=True (CLI --resume) to "
                       "continue that build or overwrite=True (--overwrite) to replace it")


def _peaks_path(paths: Sequence[Path], output: Path, inputs: list[dict], wavelength: float, *,
                reuse: bool, workers: int | None, scheduler: str | None,
                progress: bool) -> Path:  # fmt: skip
    """The peak database of the build: the one source given, or ``<output>.peaks.h5``
    computed from the CIF sources (kept, and reused when resuming)."""
    from xrdsim.peaks.job import write_peak_database

    db_input = _peak_db_input(paths)
    if db_input is not None:
        return db_input
    sidecar = output.with_name(output.name + ".peaks.h5")
    if not (reuse and sidecar.is_file()):
        n_bytes = sum(i["bytes"] for i in inputs)
        write_peak_database([str(p) for p in paths], sidecar, wavelength=wavelength,
                            workers=_auto_workers(workers, n_bytes, AUTO_CLUSTER_MIN_INPUT_BYTES),
                            scheduler=scheduler, progress=progress, overwrite=True)
    return sidecar


def _create(output: Path, db: Any, plans: Sequence[_SplitPlan], configs: Mapping[str, Any],
            settings: BuildSettings, fingerprint: dict, inputs: list[dict],
            paths: Sequence[Path], names: dict[str, str], assignment: np.ndarray,
            assignment_hash: str, synthetic: np.ndarray) -> None:  # fmt: skip
    """A new, empty store: its attributes (settings, configs, splits, classes, sources),
    the structure table and every split's empty arrays."""
    from xrdsim.dataset.manifest import portable_sources
    from xrdsim.structures.extinction_table import extinction_table

    labels = db.labels
    symbols = list(extinction_table().symbols)
    split_attrs = {p.spec.name: {**p.spec.to_dict(), "n_patterns": p.layout.n_patterns,
                                 "n_structures": len(p.structures), "seed": p.seed}
                   for p in plans}
    attrs = {
        "xrdsim_version": __version__, "versions": package_versions(),
        "seed": int(settings.seed), "build": fingerprint,
        "grid": {"n_bins": N_BINS, "bin_width": BIN_WIDTH, "two_theta_min": TWO_THETA_MIN},
        "wavelength": float(db.attrs["wavelength"]),
        "configs": {k: c.to_dict() for k, c in configs.items()},
        "splits": split_attrs,
        "class_names": {"crystal_system": list(CRYSTAL_SYSTEMS),
                        "extinction_group": symbols},
        "n_extinction_groups": len(symbols), "split_assignment_sha256": assignment_hash,
        "n_synthetic_train_only": int(synthetic.sum()),
        "sources": inputs, "encoding": settings.encoding.to_dict(),
    }
    structures = {"structure_id": np.array([str(s) for s in labels["structure_id"]]),
                  "formula": labels["formula"],
                  "source": np.array(portable_sources(labels["source"], paths, labels=names)),
                  "split": assignment,
                  **{k: labels[k] for k in ("space_group", "crystal_system",
                                            "extinction_group")}}
    params = {k: _param_names(db, c) for k, c in configs.items()}
    create_store(output, attrs=attrs, structures=structures,
                 splits={p.spec.name: (p.layout, {**split_attrs[p.spec.name]}) for p in plans},
                 param_names={p.spec.name: params[p.spec.config] for p in plans},
                 encoding=settings.encoding)


def _simulate(output: Path, tasks: list[ShardTask], done: dict[str, set[int]], *,
              workers: int | None, scheduler: str | None, progress: bool) -> dict:
    """Simulate and write the shards of ``tasks``, then mark the store complete; returns
    the sha256 of every array (hashed while written: no pass over the store)."""
    digests = StoreDigests(output, done=done)
    if tasks:  # (a finished store resumed needs no cluster)
        n_workers = _auto_workers(workers, sum(len(t.view) for t in tasks),
                                  AUTO_CLUSTER_MIN_PATTERNS)
        in_process = scheduler is None and n_workers == 1
        if in_process:  # the simulator takes every core; a thread writes behind it
            tasks = [dataclasses.replace(t, threads=None) for t in tasks]
        with ShardWriter(output, digests) as writer:
            for i, result in run_tasks(
                    simulate_rows if in_process else run_shard, tasks, scheduler=scheduler,
                    workers=n_workers, label="simulating shards", progress=progress,
                    weights=[len(t.view) for t in tasks]):
                writer.submit(tasks[i].split, tasks[i].shard_index,
                              result if in_process else None)
    checksums = digests.hexdigests()
    finalize_store(output, {"checksums": checksums})  # `xrdsim verify` compares with these
    return checksums


def _manifest(output: Path, name: str, manifest_dir: str | os.PathLike, db: Any,
              plans: Sequence[_SplitPlan], configs: Mapping[str, Any], settings: BuildSettings,
              inputs: list[dict], assignment_hash: str, checksums: dict, *,
              progress: bool) -> Path:  # fmt: skip
    """Write the build's manifest ``<manifest_dir>/<name>.json``; returns its path."""
    from xrdsim.dataset.manifest import dataset_manifest, split_summary, write_manifest
    from xrdsim.structures.extinction_table import extinction_table

    labels = db.labels
    symbols = list(extinction_table().symbols)
    manifest = dataset_manifest(
        name=name, inputs=inputs, store=output, failures=db.errors,
        n_structures=len(labels["structure_id"]),
        configs={k: c.to_dict() for k, c in configs.items()},
        settings=settings.to_dict(), assignment_sha256=assignment_hash, progress=progress,
        checksums=checksums,
        seeds={"seed": int(settings.seed), **{p.spec.name: p.seed for p in plans}},
        splits={p.spec.name: split_summary(
            n_structures=len(p.structures), n_patterns=p.layout.n_patterns,
            views=p.spec.views, config=p.spec.config, structures=p.spec.structures,
            crystal_system=labels["crystal_system"][p.structures],
            extinction_group=labels["extinction_group"][p.structures],
            extinction_symbols=symbols) for p in plans})  # fmt: skip
    return write_manifest(manifest, manifest_dir, name)


def _warn_empty_test_splits(plans: Sequence[_SplitPlan], settings: BuildSettings,
                            n_structures: int) -> None:
    """Warn (UserWarning) when a test fraction was asked but no structure was held out."""
    empty = [p.spec.name for p in plans if p.spec.structures == "held_out" and
             len(p.structures) == 0]
    if empty and settings.test_fraction > 0:
        warnings.warn(
            f"the held-out splits {', '.join(empty)} are empty: {n_structures} structure(s) "
            f"with test_fraction={settings.test_fraction} hold out no whole formula + space "
            "group group, so `xrdsim evaluate` has nothing to score there; build from more "
            "structures or raise test_fraction (--test-fraction)", UserWarning, stacklevel=3)


def _tasks(output: Path, peaks_path: Path, plans: Sequence[_SplitPlan],
           configs: Mapping[str, Any], labels: Mapping[str, np.ndarray],
           keys: np.ndarray) -> tuple[list[ShardTask], dict[str, set[int]]]:
    """Work units of the shards not yet recorded complete (their stale files removed),
    and ``{split: shards already complete}``."""
    remove_partial_files(output)
    root = open_store(output)
    tasks, done_by_split = [], {}
    for p in plans:
        group = root[p.spec.name]
        if layout_of(group) != p.layout:
            raise ResumeMismatchError(f"split {p.spec.name!r} of {output} has layout "
                                      f"{layout_of(group)}, this build plans {p.layout}")
        done = done_by_split[p.spec.name] = set(complete_shards(group))
        for i in range(p.layout.n_shards):
            if i in done:
                continue
            discard_shard(output, p.spec.name, i)
            a, b = p.layout.rows(i)
            s = p.structure_index[a:b]
            tasks.append(ShardTask(
                store=str(output.resolve()), peaks=str(peaks_path.resolve()),
                split=p.spec.name, shard_index=i, config=configs[p.spec.config],
                seed=p.seed, structure_index=s, view=p.view[a:b],
                labels={k: np.asarray(labels[k])[s] for k in
                        ("space_group", "crystal_system", "extinction_group")},
                structure_keys=keys[s]))
    return tasks, done_by_split


__all__ = ["BuildSettings", "BuildSummary", "ShardTask", "build_dataset", "check_resume",
           "default_source", "run_shard", "simulate_rows", "SPLIT_NAMES"]
