"""The overlap report names the values two configs really share (issue 15, item 12)."""

from __future__ import annotations

import pytest

from xrdsim.errors import ConfigOverlapError
from xrdsim.simulation.config import load_config
from xrdsim.simulation.disjoint import check_disjoint


def _with_impurity(count) -> object:
    data = load_config("train").to_dict()
    data["ops"]["impurity"]["count"] = count
    return load_config(data)


def test_item12_integer_overlap_lists_the_shared_integers():
    a = _with_impurity({"randint": [0, 3]})
    b = load_config("invariance").to_dict()
    b["ops"]["impurity"]["count"] = {"randint": [2, 5]}
    with pytest.raises(ConfigOverlapError) as err:
        check_disjoint(a, load_config(b))
    (why,) = [w for name, w in err.value.overlaps if name == "impurity.count"]
    assert why.endswith("share values 2, 3"), why


def test_item12_interval_overlap_shows_the_range():
    a = load_config("train").to_dict()
    b = load_config("invariance").to_dict()
    a["ops"]["poisson_noise"]["counts"] = {"uniform": [100.0, 500.0]}
    b["ops"]["poisson_noise"]["counts"] = {"uniform": [400.0, 900.0]}
    with pytest.raises(ConfigOverlapError) as err:
        check_disjoint(load_config(a), load_config(b))
    (why,) = [w for name, w in err.value.overlaps if name == "poisson_noise.counts"]
    assert why.endswith("share values [400, 500]"), why
