"""One shape per verb: ``xrdsim --help`` lists each command once; the old spellings
(``xrdsim hand ...``, ``xrdsim series-train`` ...) still resolve this release, hidden, each
after one warning line on stderr."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from xrdsim_cli.main import DEPRECATED, SERIES_COMMANDS, cli


def _listed(args: list[str]) -> list[str]:
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    section = result.stdout.split("Commands:")[1]
    return re.findall(r"^  (\S+)", section, flags=re.M)


def test_help_lists_the_new_shape_only():
    top = _listed([])
    assert "series" in top and "train" in top and "predict" in top
    assert not set(top) & set(DEPRECATED)
    assert _listed(["series"]) == sorted(["simulate", "prepare", "train", "predict", "evaluate"])


@pytest.mark.parametrize("old", sorted(DEPRECATED))
def test_old_spelling_runs_the_same_command_after_one_warning(old):
    target, new = DEPRECATED[old]
    result = CliRunner().invoke(cli, [old, "--help"])
    assert result.exit_code == 0, result.output
    assert result.stderr == (f"warning: `xrdsim {old}` is deprecated and goes in the next "
                             f"release; use `xrdsim {new}`\n")
    if old.startswith("series-"):  # the very command the new spelling runs
        assert target == SERIES_COMMANDS[new.split()[1]][0]
        new_help = CliRunner().invoke(cli, [*new.split(), "--help"]).stdout
        assert result.stdout.replace(old, new) == new_help


def test_new_spellings_print_no_warning():
    for args in (["series", "train"], ["train"], ["predict"], ["evaluate"]):
        result = CliRunner().invoke(cli, [*args, "--help"])
        assert result.exit_code == 0 and result.stderr == "", (args, result.stderr)
