"""``xrdsim.predict``: crystal system, extinction group and space group of one measured
pattern given as arrays, with calibrated top-k probabilities.

This module imports no torch until :func:`predict` is called, so ``import xrdsim`` and
``xrdsim.predict`` (the attribute) work without the training extra; the call then says
``pip install xrdsim[training]``. The pattern takes exactly the steps of ``xrdsim predict``
(:mod:`xrdsim_training.measured.predict`): the axis policies of a file's columns
(:func:`xrdsim.measured.readers.pattern_from_arrays`), λ conversion and resampling onto the
model grid (:func:`~xrdsim_training.measured.predict.model_input`), the network with its
input view and calibration (:func:`~xrdsim_training.measured.predict.rank`).

Example::

    import numpy as np, xrdsim
    two_theta, intensity = np.loadtxt("MnO.xy", unpack=True)
    result = xrdsim.predict(two_theta, intensity, wavelength="CuKa")
    result.crystal_system[0]          # Candidate(label=6, name='cubic', probability=...)
    result.space_group[0].name        # 'Fm-3m' (Hermann–Mauguin symbol)

    checked = xrdsim.predict(two_theta, intensity, wavelength="CuKa", index=True)
    checked.checked.crystal_systems   # the network's systems, those a cell backs first
    checked.indexing.best             # the best cell (xrdsim.index_pattern), or None
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xrdsim.errors import TrainingError

if TYPE_CHECKING:  # the indexing (numba) is imported only when asked for
    from xrdsim_training.measured.checked import CheckedRanking

    from xrdsim.indexing.settings import IndexingSettings
    from xrdsim.indexing.solution import IndexingResult


@dataclass(frozen=True)
class Candidate:
    """One ranked class.

    Attributes:
        label: crystal system 0–6, extinction group 0–K−1 or space group 1–230.
        name: its name (crystal system) or symbol (extinction group, space group).
        probability: the model's probability, temperature-scaled when ``calibrated``.
    """

    label: int
    name: str
    probability: float


@dataclass(frozen=True)
class Prediction:
    """What :func:`predict` returns for one pattern.

    Attributes:
        crystal_system: the ``top_k`` most probable crystal systems, most probable first.
        extinction_group: the ``top_k`` most probable extinction groups.
        space_group: the ``top_k`` space groups of highest joint probability
            ``p(cs)·p(sg|cs)``.
        space_group_routed: the space group chosen by the SG head of the most probable
            crystal system (das2025 §4.3: the headline answer of ``xrdsim predict``); it
            can rank below ``top_k`` in ``space_group`` when the crystal system is uncertain.
        calibrated: probabilities are temperature-scaled (the model has a calibration).
        unsure: the top crystal system's probability is below one half: read every
            candidate, not the first.
        model: the run folder or model file that predicted.
        warnings: what the preparation noticed (reversed scan, repeated 2θ, ...).
        indexing: with ``index``, the pattern's indexing (:func:`xrdsim.index_pattern`).
        checked: with ``index``, the network's crystal systems and space groups checked
            against its cells (:func:`xrdsim_training.measured.checked.check_ranking`): those a
            conclusive cell backs first.
    """

    crystal_system: tuple[Candidate, ...]
    extinction_group: tuple[Candidate, ...]
    space_group: tuple[Candidate, ...]
    space_group_routed: Candidate
    calibrated: bool
    unsure: bool
    model: str
    warnings: tuple[str, ...] = ()
    indexing: IndexingResult | None = None
    checked: CheckedRanking | None = None


def predict(two_theta: Any, intensity: Any, *, wavelength: float | str, top_k: int = 3,
            model: str | Path | None = None, background: str | None = "auto",
            device: str = "cpu", index: bool | IndexingSettings = False) -> Prediction:
    """Predict the symmetry of one measured powder pattern.

    Args:
        two_theta: (n,) degrees 2θ of the scan.
        intensity: (n,) counts or arbitrary units (any scale, background included).
        wavelength: λ of the scan, Å or a preset name (``"CuKa"``, ``"MoKa1"``, ...); it is
            converted to the model's grid λ as ``xrdsim predict`` does.
        top_k: candidates per task (≥ 1).
        model: a model file of ``xrdsim export-model``, a run folder of ``xrdsim train``
            (a network), or None: the model bundled with xrdsim (``docs/model_card.md``).
        background: subtracted before the model's input view, as ``xrdsim predict
            --background`` (``"auto"``: the view's own; ``"snip"``, ``"poly"``, None).
        device: ``"cpu"`` (enough for one pattern), ``"cuda[:n]"`` or ``"auto"``.
        index: also index the pattern (True: default settings, or the
            :class:`~xrdsim.indexing.settings.IndexingSettings` to use) and check the
            network's answer against the cells (``Prediction.indexing``, ``.checked``).

    Returns:
        a :class:`Prediction`.

    Raises:
        TrainingError: torch is not installed (``pip install xrdsim[training]``), or the
            model cannot be loaded (ModelFileError for a damaged model file).
        PatternReadError: arrays that are no pattern, or that leave too little of the grid.
        ConfigError: ``top_k`` < 1, an unknown wavelength name.
    """
    try:
        import torch  # noqa: F401 - only to say what is missing
    except ImportError:
        raise TrainingError("xrdsim.predict needs torch, which is not installed: "
                            "pip install xrdsim[training]") from None
    from xrdsim_training.hand.model import is_hand_run
    from xrdsim_training.measured.model_file import load_model
    from xrdsim_training.measured.predict import check_top_k, model_input, rank

    from xrdsim.measured.readers import pattern_from_arrays

    check_top_k(top_k)
    if model is not None and is_hand_run(model):
        raise TrainingError(f"{model} is a HAND run; xrdsim.predict takes a network (a model "
                            "file or run of xrdsim train) — use `xrdsim predict --model RUN "
                            "FILES` for HAND")
    loaded = load_model(model, device=device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        measured = pattern_from_arrays(two_theta, intensity, wavelength=wavelength)
        grid = model_input(measured, loaded, background=background)
    (result,) = rank(loaded, [grid], top_k)

    def candidates(task: str, key: str) -> tuple[Candidate, ...]:
        return tuple(Candidate(c["label"], c[key], c["probability"])
                     for c in result[task]["top_k"])

    sg = result["space_group"]
    indexing = checked = None
    if index is not False:
        from xrdsim_training.measured.checked import check_ranking

        from xrdsim.indexing.index import index_pattern

        indexing = index_pattern(measured, settings=None if index is True else index)
        checked = check_ranking([c["name"] for c in result["crystal_system"]["top_k"]],
                                [(c["label"], c["symbol"]) for c in sg["top_k"]], indexing)
    return Prediction(
        crystal_system=candidates("crystal_system", "name"),
        extinction_group=candidates("extinction_group", "symbol"),
        space_group=candidates("space_group", "symbol"),
        space_group_routed=Candidate(sg["prediction"], sg["symbol"], sg["probability"]),
        calibrated=result["calibrated"], unsure=result["unsure"], model=loaded.source,
        warnings=tuple(str(w.message) for w in caught), indexing=indexing, checked=checked)
