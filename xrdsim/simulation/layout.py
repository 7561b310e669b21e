"""The kernels' slot layout, computed from the op catalogue :data:`xrdsim.simulation.ops.OPS`.

Nothing here is written by hand: adding an op or a parameter to the catalogue gives it its
slots. The numba kernels, the torch twin and the sampler all read this layout; a kernel
names the slots it reads (``P_DELTA = param("zero_shift.delta")``), so a renamed or removed
parameter fails at import, never silently reads another column.

- :data:`OP_ORDER`: the ops in execution order; the kernels' ``on`` flags follow it.
- :data:`PARAM_SLOTS`: columns of the (B, P) per-pattern parameter matrix. A slot is also
  the counter of the parameter's random draw (:func:`xrdsim.simulation.rng.draw_parameters`),
  so :data:`xrdsim.simulation.ops.LATE_OPS` take the last columns: a config without them
  draws exactly the numbers it drew before they existed.
- :data:`ITEM_SLOTS`: parameters drawn per peak / per hump inside the kernels.
- :data:`CONSTS`: the settings the kernels read, as the ``consts`` vector.
"""

from __future__ import annotations

from xrdsim.simulation.ops import LATE_OPS, OP_BY_NAME, OPS

#: Op names in execution order (index of each op's ``on`` flag).
OP_ORDER: tuple[str, ...] = tuple(op.name for op in OPS)
_ORDERED = [op for op in OPS if op.name not in LATE_OPS] + [OP_BY_NAME[n] for n in LATE_OPS]
#: Dotted names of every per-pattern parameter: op order, :data:`~ops.LATE_OPS` last.
PARAM_SLOTS: tuple[str, ...] = tuple(
    f"{op.name}.{p.name}" for op in _ORDERED for p in op.params if not p.per_peak
)
#: Dotted names of every parameter drawn per peak / per hump inside the kernels.
ITEM_SLOTS: tuple[str, ...] = tuple(
    f"{op.name}.{p.name}" for op in OPS for p in op.params if p.per_peak
)
#: Per-pattern parameters recorded as int32.
INTEGER_SLOTS: tuple[str, ...] = tuple(
    f"{op.name}.{p.name}" for op in OPS for p in op.params if p.integer and not p.per_peak
)
#: Entries of the kernels' ``consts`` vector (filled by ``sampling.encode_config``).
CONSTS = (
    "profile.tail_cutoff", "wavelength", "binning.mean", "profile.exact", "displacement.radius",
    "transparency.radius", "impurity.low", "impurity.high",
)  # fmt: skip
N_CONSTS = len(CONSTS)


def _index(names: tuple[str, ...], name: str, what: str) -> int:
    if name not in names:
        raise KeyError(f"{name!r} is not {what} of the op catalogue (xrdsim.simulation.ops.OPS)")
    return names.index(name)


def op(name: str) -> int:
    """Index of op ``name`` in :data:`OP_ORDER` (its ``on`` flag)."""
    return _index(OP_ORDER, name, "an op")


def param(name: str) -> int:
    """Column of per-pattern parameter ``op.param`` in :data:`PARAM_SLOTS`."""
    return _index(PARAM_SLOTS, name, "a per-pattern parameter")


def item(name: str) -> int:
    """Index of per-item parameter ``op.param`` in :data:`ITEM_SLOTS`."""
    return _index(ITEM_SLOTS, name, "a per-item parameter")


def const(name: str) -> int:
    """Index of setting ``name`` in :data:`CONSTS`."""
    return _index(CONSTS, name, "a kernel setting")
