"""Numbers in CIF values: one reading for every CIF reader of the structures stage."""

from __future__ import annotations

import math
import re
from typing import Any

_ESD = re.compile(r"\(\d*\)$")


def cif_number(value: Any) -> float | None:
    """CIF number → float, its standard uncertainty in parentheses dropped (``"4.1(2)"`` →
    4.1); None for ``?``, ``.``, text, non-finite values and None. A list (a looped tag
    read as a column) gives its first value's number."""
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    text = str(value).strip()
    try:
        out = float(text)
    except ValueError:
        try:
            out = float(_ESD.sub("", text))
        except ValueError:
            return None
    return out if math.isfinite(out) else None
