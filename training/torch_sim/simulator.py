"""The whole simulator in torch: line stage + render stage, the public entry points (the
twin of :mod:`xrdsim.simulation.simulator`).

Same inputs, same patterns as :func:`xrdsim.simulate_batch` and
:func:`xrdsim.simulation.phases.simulate_database` (up to float32 rounding; on the CPU
the tests find them bit-identical), on any device. Parameters are drawn once by the
engine's sampler on the host ((B, P) numbers); everything per peak and per bin runs on
the device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from xrdsim_training.torch_sim.kernel_inputs import to_device
from xrdsim_training.torch_sim.lines import make_lines
from xrdsim_training.torch_sim.phases import DevicePeaks
from xrdsim_training.torch_sim.render import render_lines

from xrdsim.simulation.config import SimulationConfig, load_config
from xrdsim.simulation.kernel_inputs import KernelArguments, kernel_arguments
from xrdsim.simulation.sampling import draw_matrix, params_to_dict


@dataclass(frozen=True)
class TorchSimulation:
    """Patterns on the device and the parameters that made them.

    Attributes:
        patterns: (B, 12000) float32 tensor on the simulation device.
        params: dotted name → (B,) NumPy array, as :class:`xrdsim.SimulationResult`.
    """

    patterns: torch.Tensor
    params: dict[str, np.ndarray]


def render(inputs: KernelArguments, *, compile_profile: bool = False) -> torch.Tensor:
    """(B, 12000) float32 patterns of ``inputs`` (kernel arguments as tensors; both stages,
    on their device)."""
    with torch.inference_mode():
        return render_lines(make_lines(inputs), inputs, compile_profile=compile_profile)


def _result(inputs: KernelArguments, config: SimulationConfig, patterns: torch.Tensor
            ) -> TorchSimulation:
    matrix = inputs.params.detach().cpu().numpy()
    return TorchSimulation(patterns=patterns, params=params_to_dict(config, matrix))


def simulate_batch(
    two_theta: np.ndarray,
    intensity: np.ndarray,
    offsets: np.ndarray,
    config: SimulationConfig | str,
    *,
    seed: int,
    structure_keys: np.ndarray | int,
    views: np.ndarray | int,
    hkl: np.ndarray | None = None,
    cells: np.ndarray | None = None,
    device: str | torch.device = "cpu",
    compile_profile: bool = False,
) -> TorchSimulation:
    """Torch twin of :func:`xrdsim.simulate_batch` (same arguments, plus ``device``).

    Raises:
        PeakInputError, ConfigError: as :func:`xrdsim.simulate_batch`.
    """
    config = load_config(config)  # once: a preset name is a YAML file to parse
    args = kernel_arguments(
        two_theta, intensity, offsets, config,
        lambda cfg, enc, keys: draw_matrix(cfg, enc, seed, keys),
        seed=seed, structure_keys=structure_keys, views=views, hkl=hkl, cells=cells,
    )  # fmt: skip
    inputs = to_device(args, device=device)
    return _result(inputs, config, render(inputs, compile_profile=compile_profile))


def simulate_database(
    peaks: DevicePeaks,
    rows: np.ndarray,
    config: SimulationConfig | str,
    *,
    seed: int,
    structure_keys: np.ndarray,
    views: np.ndarray,
    compile_profile: bool = False,
) -> TorchSimulation:
    """Torch twin of :func:`xrdsim.simulation.phases.simulate_database`, from a peak
    database held on the device (:class:`DevicePeaks`; mixture partners gathered there)."""
    config = load_config(config)
    inputs = peaks.kernel_inputs(np.asarray(rows, dtype=np.int64), config, seed=seed,
                                 structure_keys=np.asarray(structure_keys, dtype=np.int64),
                                 views=np.asarray(views, dtype=np.int64))  # fmt: skip
    return _result(inputs, config, render(inputs, compile_profile=compile_profile))
