#!/usr/bin/env python3
"""docs/results.md's coordinate-check table from studies/coord.sh's output (stdlib only).

One row per check: the slope of log(RMS) on log(scale) at the last step for the output-side
metrics that separate parameterizations (last residual stream, logits, router logits, MoE output,
last layer), and how many of all metrics the check calls flat / grows / shrinks (|slope| < 0.15
is flat, as `moet coord`). Copies each check's SVG into docs/results/coord/.

Usage: python3 studies/coord_summary.py [--runs runs/studies/coord] [--docs docs/results/coord]
"""
import argparse
import json
import os
import shutil

KEY_METRICS = ["act.resid", "act.logits", "act.router_logits", "act.moe_out"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default="runs/studies/coord")
    ap.add_argument("--docs", default="docs/results/coord")
    args = ap.parse_args()
    os.makedirs(args.docs, exist_ok=True)
    print("| check | preset | " + " | ".join(KEY_METRICS) + " | flat / grows / shrinks |")
    print("|---|---|" + "---|" * len(KEY_METRICS) + "---|")
    for name in sorted(os.listdir(args.runs)):
        path = os.path.join(args.runs, name, "coord.json")
        if not os.path.exists(path):
            continue
        d = json.load(open(path))
        thr = d["flat_threshold"]
        last = {}
        counts = [0, 0, 0]
        for m in d["metrics"]:
            s = m["slope"][-1]
            if s is None:
                continue
            last[m["metric"]] = s  # layers in order: the last one wins
            counts[0 if abs(s) < thr else (1 if s > 0 else 2)] += 1
        cells = [f"{last[k]:+.2f}" if k in last else "–" for k in KEY_METRICS]
        check = name[: -len(d["preset"]) - 1]
        print(f"| {check} ×{d['scales'][-1]:g} | {d['preset']} | " + " | ".join(cells)
              + f" | {counts[0]} / {counts[1]} / {counts[2]} |")
        shutil.copyfile(os.path.join(args.runs, name, "coord.svg"),
                        os.path.join(args.docs, name + ".svg"))


if __name__ == "__main__":
    main()
