#!/usr/bin/env bash
# Runs the transfer study (docs/results.md) in priority order and writes each sweep's report.
# Resumable: rerun it and finished trials are skipped. Usage: studies/run.sh [SPEC_NAME...]
#   MOET=path/to/moet (default build/moet)   OUT=runs/studies (databases, runs and reports)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
moet=${MOET:-build/moet}
out=${OUT:-runs/studies}
specs=("$@")
[ ${#specs[@]} -eq 0 ] && specs=(p1-width p2-regime3 p1-depth p1-experts p2-regime2 p1-expert-width p1-long p1-width-init
                             p1-long-warmup p2-regime1)
mkdir -p "$out"
for s in "${specs[@]}"; do
  "$moet" sweep "studies/$s.toml" --db "$out/$s.sqlite" || [ $? -eq 1 ]  # 1: some trial failed
  "$moet" report "$out/$s.sqlite" --out "$out/$s.report"
done
