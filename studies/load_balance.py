#!/usr/bin/env python3
"""Expert loads over whole training runs, per preset x ladder x scale (stdlib only).

Reads a sweep database (the trials' run directories and ladder points) and every trial's
metrics.jsonl, whose `routing` entries give each MoE block's max-over-mean expert load at the
logged steps (1: perfectly balanced; M/K: every token on the same K experts). Prints one
markdown table per ladder: the worst block's max/mean at a few steps and averaged over the run,
and the router logits' RMS at the first logged step, each averaged over seeds (with the range
over seeds when there are several).

Usage: python3 studies/load_balance.py runs/studies/p1-balance.sqlite [--steps 10,50,250]
"""
import argparse
import json
import math
import os
import sqlite3
import statistics
import sys


def routing_series(run_dir):
    """[(step, worst block's max/mean, mean logit RMS)] from a run's metrics.jsonl."""
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    series = []
    for line in open(path):
        m = json.loads(line)
        if "routing" in m:
            blocks = m["routing"]
            series.append((m["step"], max(b["max_over_mean"] for b in blocks),
                           statistics.fmean(b["logit_rms"] for b in blocks)))
    return series


def cell(values, digits=2):
    if not values:
        return "–"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--steps", default="10,50,250")
    args = ap.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    db = sqlite3.connect(args.db)
    rows = db.execute(
        "SELECT p.ladder, p.scale, t.preset, t.lr, t.seed, t.N, t.Ne, t.M, t.K, t.L, t.run_dir, t.status "
        "FROM ladder_points p JOIN trials t ON t.key = p.key "
        "ORDER BY p.ladder_pos, t.preset, t.lr, p.scale, t.seed").fetchall()
    base = os.path.dirname(os.path.abspath(args.db))
    groups = {}
    for ladder, scale, preset, lr, seed, N, Ne, M, K, L, run_dir, status in rows:
        if status != "done":
            continue
        run = run_dir if os.path.isabs(run_dir) else os.path.join(os.getcwd(), run_dir)
        if not os.path.isdir(run):
            run = os.path.join(base, run_dir)
        series = routing_series(run)
        if series:
            key = (ladder, preset, math.log2(lr), scale)
            groups.setdefault(key, {"shape": f"N {N}, Ne {Ne}, M {M}, K {K}, L {L}", "runs": []})
            groups[key]["runs"].append(series)
    if not groups:
        sys.exit(f"{args.db}: no finished trial with routing metrics")
    ladder = None
    for (lad, preset, log2_lr, scale), g in groups.items():
        if lad != ladder:
            ladder = lad
            print(f"\n#### {ladder}\n")
            print("| preset | log2 LR | scale | shape | " + " | ".join(f"max/mean, step {s}" for s in steps)
                  + " | max/mean, mean over the run | logit RMS, first log |")
            print("|---|---|---|---|" + "---|" * (len(steps) + 2))
        at = [cell([v for r in g["runs"] for (st, v, _) in r if st == s]) for s in steps]
        over = cell([statistics.fmean(v for (_, v, _) in r) for r in g["runs"]])
        rms = cell([r[0][2] for r in g["runs"]], 3)
        print(f"| {preset} | {log2_lr:g} | ×{scale:g} | {g['shape']} | " + " | ".join(at)
              + f" | {over} | {rms} |")


if __name__ == "__main__":
    main()
