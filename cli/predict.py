"""``xrdsim predict``: crystal system / extinction group / space group of measured files
with the bundled model, a model file of ``xrdsim export-model`` or a run of ``xrdsim
train``, neural or HAND (optionally scored against a labels CSV)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from xrdsim_cli._common import (
    EXIT_PARTIAL,
    echo_json,
    echo_warning,
    existing_inputs,
    handles_library_errors,
    warn_deprecated,
)


@click.command("predict")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--model", default=None, type=click.Path(exists=True),
              help="A model file (.npz of xrdsim export-model) or a run folder of xrdsim "
                   "train (network or HAND)  [default: the bundled model, docs/model_card.md]")
@click.option("--wavelength", default=None,
              help="λ of files that state none: Å or a name (CuKa, MoKa1, ...). A file's "
                   "own λ (.xrdml) wins unless --force-wavelength.")
@click.option("--force-wavelength", is_flag=True,
              help="Use --wavelength even for files that state their own λ (.xrdml); "
                   "without it the file's value wins, with a warning when they differ.")
@click.option("--to-wavelength", default=None,
              help="λ of the model grid (the wavelength the model was trained at)  [default: "
                   "a model file's own, 1.5418 for a run; a HAND run uses its own]")
@click.option("--background", type=click.Choice(["auto", "snip", "poly", "none"]),
              default="auto", show_default=True,
              help="Background to subtract before the model's input view (as xrdsim prepare); "
                   "auto: none when the run's view subtracts one itself, else snip (HAND: "
                   "snip).")
@click.option("--top-k", type=click.IntRange(min=1), default=3, show_default=True,
              help="Candidates listed per task.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None,
              help="Also write every record (and the accuracy summary) to this JSON file; "
                   "'-' prints the JSON instead of the table.")
@click.option("--labels", "labels_csv", type=click.Path(exists=True, dir_okay=False),
              default=None, help="CSV with columns file,space_group (file matched by "
                                 "basename): report accuracies per task and crystal system.")
@click.option("--device", default="auto", show_default=True,
              help="auto, cpu, cuda[:n] (networks only).")
@click.option("--index", "index", is_flag=True,
              help="Also index each file (as xrdsim index, default settings) and check the "
                   "model's crystal systems and space groups against the cells: one that a "
                   "conclusive cell backs (every line indexed, M20 >= 10) outranks one that "
                   "none backs. Both answers are shown. Needs the wavelength.")
@handles_library_errors
def predict(files, model, wavelength, force_wavelength, to_wavelength, background, top_k,
            json_out, labels_csv, device, index):
    """Predict the crystal system, extinction group and space group of measured FILES
    (files, folders or glob patterns of .xy .xye .dat .txt .xrdml .chi .ASC .cif .raw
    .uxd .gsa .gss .gsas .fxye) with the model bundled with xrdsim, or with --model: a
    model file of xrdsim export-model, or a run of xrdsim train — a network, or a HAND
    model (xrdsim train --method hand; its peaks in the first 3.5° of a scan are not used,
    and its probabilities are the forests' votes). A CPU is enough.

    For a network the space group is the one chosen by the SG head of the predicted
    crystal system; the listed SG candidates rank the joint probability p(cs)·p(sg|cs).
    Exit code 1 when some files failed (each gets an error line and the others are still
    predicted).
    """
    from xrdsim_training.measured.predict import accuracy_summary, predict_files

    model, files = _old_spelling(model, files)
    records = predict_files(model, existing_inputs(files), wavelength=wavelength,
                            to_wavelength=to_wavelength,
                            background=None if background == "none" else background,
                            top_k=top_k, labels=labels_csv, device=device,
                            force_wavelength=force_wavelength)
    if index:
        from xrdsim_training.measured.checked import check_records

        check_records(records, wavelength=wavelength, force_wavelength=force_wavelength)
    summary = accuracy_summary(records) if labels_csv else None
    report = {"model": _model_name(model), "labels": labels_csv, "files": records,
              "summary": summary,
              "n_failed": sum("error" in r for r in records),
              "settings": {"wavelength": wavelength, "to_wavelength": to_wavelength,
                           "background": background, "top_k": top_k, "index": index}}
    if json_out == "-":
        echo_json(report)
    else:
        for record in records:
            _echo_record(record)
        if summary is not None:
            _echo_summary(summary)
        if json_out is not None:
            Path(json_out).write_text(json.dumps(report, indent=2, default=str) + "\n")
    if report["n_failed"]:
        click.echo(f"{report['n_failed']} of {len(records)} file(s) failed", err=True)
        sys.exit(EXIT_PARTIAL)


def _old_spelling(model, files):
    """``xrdsim predict RUN FILES`` (this release's spelling, still accepted once more):
    a first argument that is a run folder is the model, after the deprecation line."""
    from xrdsim_training.hand.model import is_hand_run

    first = Path(files[0])
    if model is not None or not (first.is_dir() and ((first / "config.json").is_file()
                                                     or is_hand_run(first))):
        return model, files
    warn_deprecated("predict RUN FILES", "predict --model RUN FILES")
    if len(files) == 1:
        raise click.UsageError("give the FILES to predict after RUN (or none of RUN: the "
                               "bundled model)")
    return files[0], files[1:]


def _model_name(model) -> str:
    """The model as the report names it: the path given, or the bundled file."""
    if model is not None:
        return str(model)
    from xrdsim_training.measured.model_file import BUNDLED_MODEL

    return f"bundled ({BUNDLED_MODEL.name})"


def _echo_record(r: dict) -> None:
    for message in r.get("warnings", []):
        echo_warning(r["source"], message)
    if "error" in r:
        click.echo(f"error: {r['source']}: {r['error']}", err=True)
        return
    cs, eg, sg = r["crystal_system"], r["extinction_group"], r["space_group"]
    listed = {
        "cs": ", ".join(f"{c['name']} {c['probability']:.3f}" for c in cs["top_k"]),
        "eg": ", ".join(f"{c['symbol']} {c['probability']:.3f}" for c in eg["top_k"]),
        "sg": ", ".join(f"{c['label']} {c['symbol']} {c['probability']:.3f}"
                        for c in sg["top_k"]),
    }
    peaks = f"  [{r['n_peaks']} peaks]" if "n_peaks" in r else ""
    click.echo(f"{r['source']}{peaks}\n"
               f"  crystal system:   {cs['name']:<12} [{listed['cs']}]\n"
               f"  extinction group: {eg['symbol']:<12} [{listed['eg']}]\n"
               + space_group_lines(sg, listed["sg"]))
    if "indexing" in r:
        click.echo(checked_lines(r))
    if r.get("unsure"):
        how = "calibrated" if r.get("calibrated") else "uncalibrated"
        click.echo(f"  unsure:           top crystal system has p = {cs['probability']:.2f} "
                   f"({how}); consider every candidate listed")
    if r.get("true"):
        t = r["true"]
        click.echo(f"  labelled:         space group {t['space_group']}, crystal system "
                   f"{t['crystal_system']}, extinction group {t['extinction_group']}")


def space_group_lines(sg: dict, listed: str) -> str:
    """The space-group lines of one file, both rankings labelled: the headline is the SG
    head of the predicted crystal system, the list ranks the joint p(cs)·p(sg|cs) — which
    can put other systems' groups first, and leave the headline out, when the CS head is
    undecided."""
    text = (f"  space group:      {sg['prediction']} {sg['symbol']:<8} (SG head of the "
            f"predicted crystal system)\n"
            f"    by p(cs)·p(sg|cs): [{listed}]")
    if all(c["label"] != sg["prediction"] for c in sg["top_k"]):
        text += f"  ({sg['prediction']} ranks lower: its crystal system is not certain)"
    return text


def checked_lines(r: dict) -> str:
    """The indexing lines of one record of ``predict --index``: the best cell (or why
    there is none), then the model's answer checked against it."""
    ix = r["indexing"]
    if "error" in ix:
        return f"  indexing:         failed: {ix['error']}"
    if not ix["cells"]:
        return f"  indexing:         no solution ({ix['reason']})"
    best = ix["cells"][0]
    text = (f"  indexing:         {best['text']}"
            + ("" if best["conclusive"] else "  (not conclusive)"))
    checked = r["checked"]
    if checked["agrees"] is None:
        return text + "\n  checked:          no conclusive cell: the model's answer stands"
    sg = checked["space_groups"][0]
    verdict = "agrees" if checked["agrees"] else "disagrees: re-ranked"
    return (text + f"\n  checked:          crystal system {checked['crystal_systems'][0]:<12} "
            f"[{', '.join(checked['crystal_systems'])}]  (model {verdict})\n"
            f"                    space group {sg['label']} {sg['symbol']}  "
            f"[{', '.join(str(g['label']) for g in checked['space_groups'])}]")


def _echo_summary(s: dict) -> None:
    acc = s["accuracy"]
    fmt = {k: "n/a" if v is None else f"{v:.3f}" for k, v in acc.items()}
    click.echo(f"\naccuracy on {s['n']} labelled file(s) ({s['n_failed']} failed, "
               f"{s['n_unlabelled']} unlabelled): CS {fmt['crystal_system']}  "
               f"EG {fmt['extinction_group']}  SG {fmt['space_group']}")
    for name, row in s["per_crystal_system"].items():
        click.echo(f"  {name:<13} n={row['n']:<4} CS {row['crystal_system']:.3f}  "
                   f"EG {row['extinction_group']:.3f}  SG {row['space_group']:.3f}")
