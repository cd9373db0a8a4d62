#!/usr/bin/env python3
"""Tables for docs/results.md from the study's reports and databases (stdlib only).

For every study that has a report (studies/run.sh writes runs/studies/<study>.report/): one row
per preset x ladder with each scale's optimal log2 LR, the drift, and the two "larger is better"
answers, all read from the report's summary.json; then, for ladders named *-seeds, the seed
spread: per seed the optimum (parabola through the grid minimum and its neighbours, as the
report does for means) and the loss at the base-optimal LR, at the base and the largest scale;
where init std was swept, the report's init std analysis: best loss per init std at each scale
and the init std's optimum and drift.
Copies each panel's SVG figures into docs/results/<study>/.

Usage: python3 studies/summarize.py [--runs runs/studies] [--docs docs/results] STUDY...
"""
import argparse
import json
import math
import os
import shutil
import sqlite3
import sys
from collections import defaultdict


def fmt(x, digits=2, signed=False):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def vertex(points):
    """log2 LR of the minimum: parabola through the grid argmin and its two neighbours."""
    points = sorted(points)
    i = min(range(len(points)), key=lambda k: points[k][1])
    if i == 0 or i == len(points) - 1:
        return points[i][0], True  # at the grid's edge
    (x0, y0), (x1, y1), (x2, y2) = points[i - 1], points[i], points[i + 1]
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / denom
    if a <= 0:
        return x1, False
    return min(max(-b / (2 * a), x0), x2), False


def panel_rows(summary):
    rows = []
    for p in summary["panels"]:
        optima = " / ".join(
            fmt(s["optimum"]["log2_lr"], 1) if s.get("optimum") else "–" for s in p["scales"])
        scales = ", ".join("×{:g}".format(s["scale"]) for s in p["scales"])
        ladder = p["ladder"] + (f", σ0 {p['init_std']:g}" if p.get("init_std") else "")
        rows.append(
            f"| {p['preset']} | {ladder} | {scales} "
            f"| {optima} | {fmt(p['drift_octaves'], signed=True)} "
            f"| {fmt(p['drift_per_doubling'], signed=True)} | {'yes' if p['transfers'] else 'no'} "
            f"| {p['larger_is_better_at_base_lr']} | {p['larger_is_better_at_optimum']} |")
    return rows


def seed_rows(db_path, summary):
    """Per *-seeds panel: spread over seeds of the optimum and of the loss at the base LR."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    rows = []
    for p in summary["panels"]:
        if not p["ladder"].endswith("-seeds"):
            continue
        base_lr = p["base_optimal_log2_lr"]
        cells = []
        for s in (p["scales"][0], p["scales"][-1]):
            shape = dict(kv.split("=") for kv in s["shape"].split())
            where = " AND ".join(f"{k} = {int(v)}" for k, v in shape.items())
            by_seed = defaultdict(list)
            for lr, seed, loss in con.execute(
                    f"SELECT lr, seed, val_loss FROM trials WHERE preset = ? AND status = 'done' "
                    f"AND idx IS NOT NULL AND {where}", (p["preset"],)):
                by_seed[seed].append((math.log2(lr), loss))
            optima = [vertex(v)[0] for v in by_seed.values() if len(v) >= 3]
            at_base = [min(v, key=lambda q: abs(q[0] - base_lr))[1] for v in by_seed.values()]
            cells.append((s["scale"], len(by_seed), optima, at_base))
        (s0, n0, o0, l0), (s1, n1, o1, l1) = cells
        rows.append(
            f"| {p['preset']} | {p['ladder']} | {n0}, {n1} "
            f"| {fmt(min(o0), 1)} … {fmt(max(o0), 1)} | {fmt(min(o1), 1)} … {fmt(max(o1), 1)} "
            f"| {fmt(max(l0) - min(l0), 3)} | {fmt(max(l1) - min(l1), 3)} |")
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default="runs/studies")
    ap.add_argument("--docs", default="docs/results")
    ap.add_argument("studies", nargs="+")
    args = ap.parse_args()
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
        print("| preset | ladder | scales | optimal log2 LR per scale | drift (octaves) "
              "| per doubling | transfers | larger better at base LR | at own optimum |")
        print("|---|---|---|---|---|---|---|---|---|")
        print("\n".join(panel_rows(summary)))
        seeds = seed_rows(os.path.join(args.runs, study + ".sqlite"), summary)
        if seeds:
            print("\nSeed spread (per seed: optimum by a parabola through the grid minimum; loss at "
                  "the grid LR nearest the base-optimal one):\n")
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
        print()
        plots = os.path.join(report, "plots")
        if os.path.isdir(plots):
            dest = os.path.join(args.docs, study)
            os.makedirs(dest, exist_ok=True)
            for f in sorted(os.listdir(plots)):
                shutil.copyfile(os.path.join(plots, f), os.path.join(dest, f))


if __name__ == "__main__":
    sys.exit(main())
