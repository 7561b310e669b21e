"""``xrdsim verify``: check that a dataset store is complete and its bytes are intact."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from xrdsim_cli._common import EXIT_PARTIAL, echo_json, handles_library_errors


@click.command("verify")
@click.argument("store", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Build manifest whose store.checksums to compare with [the store's own].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@handles_library_errors
def verify(store, manifest, as_json) -> None:
    """Recompute the sha256 of every array of STORE and compare with the recorded ones;
    list missing shard files.

    Exit codes: 0 intact and complete; 1 damaged or incomplete (listed); 3 not a store
    or no checksums recorded.
    """
    from xrdsim.dataset.checksums import verify_store_integrity
    from xrdsim.dataset.manifest import read_manifest

    expected = None
    if manifest is not None:
        expected = read_manifest(manifest)["store"]["checksums"]
    report = verify_store_integrity(store, expected=expected)
    if as_json:
        echo_json(report)
    else:
        click.echo(f"{store}: status {report['status']}, {report['arrays']} arrays, "
                   f"{len(report['missing'])} missing shard file(s), "
                   f"{len(report['mismatched'])} array(s) differing from their checksum")
        for item in report["missing"][:20] + report["mismatched"][:20]:
            click.echo(f"  - {item}")
        for item in report["stray"][:20]:
            click.echo(f"  - stray file (not a chunk; not read): {item}")
    if not report["ok"]:
        sys.exit(EXIT_PARTIAL)
