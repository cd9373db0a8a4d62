#!/usr/bin/env python3
"""Tables for docs/results.md from the study's reports (stdlib only).

For every study that has a report (studies/run.sh writes runs/studies/<study>.report/), all read
from the report's summary.json: one row per preset x ladder with each scale's optimal log2 LR,
the drift, and the two "larger is better" answers; for ladders named *-seeds, the seed spread at
the base and the largest scale (the range of the per-seed optima, and of the loss at the
base-optimal LR); where init std was swept, the best loss per init std at each scale and the init
std's optimum and drift. Copies each panel's SVG figures into docs/results/<study>/.

With --base STUDY:LADDER (the longer-horizon check), each panel is also compared with the base
scale's optimum of the same preset in that other study: the shift of the optimum, and the loss at
the grid LR nearest the base's optimum against the loss at the panel's own optimum.

Usage: python3 studies/summarize.py [--runs runs/studies] [--docs docs/results]
                                    [--base STUDY:LADDER] STUDY...
"""
import argparse
import json
import math
import os
import shutil
import sys


def fmt(x, digits=2, signed=False):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def seed_optima(scale):
    """The report's per-seed optimal log2 LRs at one scale (empty with one seed)."""
    return [o["log2_lr"] for o in scale["seed_optima"] if o["log2_lr"] is not None]


def spread(values):
    return f"{fmt(min(values), 1)} … {fmt(max(values), 1)}" if values else "–"


def panel_rows(summary):
    rows = []
    for p in summary["panels"]:
        optima = " / ".join(
            fmt(s["optimum"]["log2_lr"], 1) if s.get("optimum") else "–" for s in p["scales"])
        scales = ", ".join("×{:g}".format(s["scale"]) for s in p["scales"])
        ladder = p["ladder"] + (f", σ0 {p['init_std']:g}" if p.get("init_std") else "")
        excursion = "–" if p["excursion_scale"] is None else (
            f"{fmt(p['excursion_octaves'], signed=True)} at ×{p['excursion_scale']:g} "
            f"({fmt(p['excursion_per_doubling'], signed=True)})")
        rows.append(
            f"| {p['preset']} | {ladder} | {scales} "
            f"| {optima} | {excursion} | {fmt(p['drift_octaves'], signed=True)} "
            f"| {'yes' if p['transfers'] else 'no'} "
            f"| {p['larger_is_better_at_base_lr']} | {p['larger_is_better_at_optimum']} |")
    return rows


def seed_rows(summary):
    """Per *-seeds panel: spread over seeds of the optimum and of the loss at the base LR."""
    rows = []
    for p in summary["panels"]:
        if not p["ladder"].endswith("-seeds"):
            continue
        cells = []
        for s in (p["scales"][0], p["scales"][-1]):
            cells.append((len(s["seed_optima"]) or 1, seed_optima(s), s["seed_range_at_base_lr"]))
        (n0, o0, r0), (n1, o1, r1) = cells
        rows.append(
            f"| {p['preset']} | {p['ladder']} | {n0}, {n1} | {spread(o0)} | {spread(o1)} "
            f"| {fmt(r0, 3)} | {fmt(r1, 3)} |")
    return rows


def init_rows(summary):
    """Per swept init std: each scale's best loss per init std (at its best LR) and optimum."""
    rows = []
    for t in summary.get("init_transfer", []):
        for s in t["scales"]:
            cells = " | ".join(
                f"{fmt(q['loss'], 3)} (2^{q['log2_lr']:g})" if q["loss"] is not None else "–"
                for q in s["points"])
            o = s["optimum"]
            best = "–" if o["init_std"] is None else f"{o['init_std']:.3g} ({o['kind']})"
            rows.append(f"| {t['preset']} | ×{s['scale']:g} | {cells} | {best} |")
        rows.append(f"| {t['preset']} | drift | {fmt(t['drift_octaves'], signed=True)} octaves, "
                    f"{fmt(t['drift_per_doubling'], signed=True)} per doubling, transfers: "
                    f"{'yes' if t['transfers'] else 'no'}"
                    + " |" * len(t["scales"][0]["points"]))
    return rows


def horizon_rows(summary, base_summary, base_ladder):
    """Per panel: its optimum against the base optimum of another study (same preset)."""
    base = {p["preset"]: p for p in base_summary["panels"] if p["ladder"] == base_ladder}
    rows = []
    for p in summary["panels"]:
        if p["preset"] not in base:
            continue
        b = base[p["preset"]]["scales"][0]["optimum"]["log2_lr"]
        s = p["scales"][-1]
        own = s["optimum"]
        near = min((q for q in s["points"] if q["mean"] is not None),
                   key=lambda q: abs(q["log2_lr"] - b))
        loss_range = (f" (seeds {fmt(near['min'], 3)}…{fmt(near['max'], 3)})"
                      if near["seeds"] > 1 else "")
        seeds = seed_optima(s)
        seed_text = f" (seeds {spread(seeds)})" if seeds else ""
        rows.append(
            f"| {p['preset']} | {p['ladder']} | 2^{fmt(b, 1)} | 2^{fmt(own['log2_lr'], 1)}{seed_text} "
            f"| {fmt(own['log2_lr'] - b, 1, signed=True)} "
            f"| {fmt(near['mean'], 3)} at 2^{near['log2_lr']:g}{loss_range} | {fmt(own['loss'], 3)} "
            f"| {fmt(near['mean'] - own['loss'], 3, signed=True)} |")
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default="runs/studies")
    ap.add_argument("--docs", default="docs/results")
    ap.add_argument("--base", help="STUDY:LADDER whose base optimum each panel is compared with")
    ap.add_argument("studies", nargs="+")
    args = ap.parse_args()
    if args.base:
        base_study, base_ladder = args.base.split(":")
        base_summary = json.load(
            open(os.path.join(args.runs, base_study + ".report", "summary.json")))
    for study in args.studies:
        report = os.path.join(args.runs, study + ".report")
        summary_path = os.path.join(report, "summary.json")
        if not os.path.exists(summary_path):
            print(f"### {study}\n\nNo report yet ({summary_path}).\n")
            continue
        summary = json.load(open(summary_path))
        t = summary["trials"]
        print(f"### {study}: {summary['name']}\n")
        print(f"{t['done']} trials done, {t['diverged']} diverged, {t['failed']} failed, "
              f"{t['unfinished']} not finished. Loss: final {summary['loss']} loss.\n")
        print("| preset | ladder | scales | optimal log2 LR per scale "
              "| largest excursion, octaves (per doubling) | end to end | transfers "
              "| larger better at base LR | at own optimum |")
        print("|---|---|---|---|---|---|---|---|---|")
        print("\n".join(panel_rows(summary)))
        seeds = seed_rows(summary)
        if seeds:
            print("\nSeed spread (the report's per-seed optima, and the range over seeds of the "
                  "loss at the base-optimal LR):\n")
            print("| preset | ladder | seeds (base, largest) | optimum, base | optimum, largest "
                  "| loss range at base LR, base | same, largest |")
            print("|---|---|---|---|---|---|---|")
            print("\n".join(seeds))
        inits = init_rows(summary)
        if inits:
            stds = [q["init_std"] for q in summary["init_transfer"][0]["scales"][0]["points"]]
            print("\nInit std (best loss over the LR grid at each init std, and its LR; optimum "
                  "in log2 init std as for the LR):\n")
            print("| preset | scale | " + " | ".join(f"σ0 {v:g}" for v in stds)
                  + " | optimal σ0 |")
            print("|---|---|" + "---|" * len(stds) + "---|")
            print("\n".join(inits))
        if args.base:
            print(f"\nAgainst the base optimum of {base_study} / {base_ladder} (loss: the mean "
                  "over seeds; own optimum: the grid minimum of the mean):\n")
            print("| preset | ladder | optimum, base | optimum here | shift (octaves) "
                  "| loss at the base's LR | at its own optimum | cost of the base's LR |")
            print("|---|---|---|---|---|---|---|---|")
            print("\n".join(horizon_rows(summary, base_summary, base_ladder)))
        print()
        plots = os.path.join(report, "plots")
        if os.path.isdir(plots):
            dest = os.path.join(args.docs, study)
            os.makedirs(dest, exist_ok=True)
            for f in sorted(os.listdir(plots)):
                shutil.copyfile(os.path.join(plots, f), os.path.join(dest, f))


if __name__ == "__main__":
    sys.exit(main())
