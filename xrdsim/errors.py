"""The one place where xrdsim's exceptions live.

Every exception raised on purpose by xrdsim derives from :class:`XrdsimError`, so a
caller can catch the whole family with one ``except``. Messages name what was
received, what is allowed and, where there is one, the fix.
"""

from __future__ import annotations

import difflib
from typing import Any


class XrdsimError(Exception):
    """Base class of every error xrdsim raises on purpose."""


class _SourcedError:
    """Mixin of the errors about one input: ``source``, ``reason``, message ``"source: reason"``."""

    def __init__(self, source: str, reason: str):
        self.source = str(source)
        self.reason = str(reason)
        super().__init__(f"{self.source}: {self.reason}")


class StructureError(_SourcedError, XrdsimError):
    """A crystal structure could not be read or is physically unusable.

    Attributes:
        source: the file / row the structure came from (``"path"`` or ``"path#row-id"``).
        reason: a short, human-readable reason, stored verbatim in error tables.
    """


class SymmetryError(StructureError):
    """spglib could not determine the symmetry of a structure."""


class ConfigError(XrdsimError, ValueError):
    """A configuration (simulation, build, training) is invalid.

    Raised at construction time, never deep inside a kernel.
    """


class ConfigOverlapError(ConfigError):
    """Two configurations that must be disjoint share sampled values.

    Attributes:
        overlaps: list of ``(parameter_path, description)`` pairs, one per overlap.
    """

    def __init__(self, overlaps: list[tuple[str, str]]):
        self.overlaps = list(overlaps)
        lines = "\n".join(f"  - {name}: {why}" for name, why in self.overlaps)
        super().__init__(
            f"{len(self.overlaps)} randomised parameter(s) overlap between the train and "
            f"invariance configs:\n{lines}\nMake each listed range disjoint (or fixed to "
            "different values) so the invariance split tests unseen instrument settings."
        )


class PeakInputError(XrdsimError, ValueError):
    """A peak list handed to the simulator is invalid (NaN, negative intensity, ...)."""


class DatabaseError(XrdsimError):
    """A peak database (HDF5) is missing, corrupt, or of an unsupported layout."""


class DatasetError(XrdsimError):
    """A Zarr dataset cannot be built, resumed or read as asked."""


class ResumeMismatchError(DatasetError):
    """``--resume`` was asked with settings that differ from the existing store's."""


class PatternReadError(_SourcedError, XrdsimError):
    """A measured pattern file could not be read or prepared.

    Attributes:
        source: the file path.
        reason: what was wrong and how to fix it.
    """


class CalibrationError(_SourcedError, XrdsimError):
    """A measured pattern could not be calibrated against its known phase.

    Attributes:
        source: the measured file (or CIF) concerned.
        reason: what went wrong and how to fix it.
    """


class TrainingError(XrdsimError):
    """A training run, checkpoint or evaluation cannot proceed as asked."""


class ModelFileError(_SourcedError, TrainingError):
    """A weights-only model file (``xrdsim export-model``) is missing, damaged, or does not
    fit the architecture its header names.

    Attributes:
        source: the file path.
        reason: what was wrong and how to fix it.
    """


def _reduce_source_reason(self: StructureError | PatternReadError | CalibrationError
                          | ModelFileError):
    """Pickle as ``(source, reason)``: the default would call ``cls(message)`` on unpickling
    and fail, and these errors travel to and from dask process workers."""
    return (type(self), (self.source, self.reason))


StructureError.__reduce__ = _reduce_source_reason  # type: ignore[method-assign]
PatternReadError.__reduce__ = _reduce_source_reason  # type: ignore[method-assign]
CalibrationError.__reduce__ = _reduce_source_reason  # type: ignore[method-assign]
ModelFileError.__reduce__ = _reduce_source_reason  # type: ignore[method-assign]


def did_you_mean(word: str, choices: Any) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices`` to ``word``, or ``""``."""
    near = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def brief(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, never walking more than a few levels:
    safe to put any value read from a file into a message (a YAML alias bomb included)."""
    import reprlib

    short = reprlib.Repr()
    short.maxlevel, short.maxlong = 3, 40
    short.maxlist = short.maxdict = short.maxtuple = short.maxset = 6
    short.maxstring = short.maxother = limit
    text = short.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
