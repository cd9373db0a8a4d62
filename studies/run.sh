#!/usr/bin/env bash
# Runs the transfer study (docs/results.md) in priority order and writes each sweep's report.
# Resumable: rerun it and finished trials are skipped. Usage: studies/run.sh [SPEC_NAME...]
#   MOET=path/to/moet (default build/moet)   OUT=runs/studies (databases, runs and reports)
# Each database is then copied (a consistent SQLite snapshot) to studies/db/, which is committed:
# a fresh clone regenerates every table and figure with `moet report studies/db/STUDY.sqlite`,
# and a later session extends a study by copying its snapshot back to OUT before rerunning.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
moet=${MOET:-build/moet}
out=${OUT:-runs/studies}
specs=("$@")
[ ${#specs[@]} -eq 0 ] && specs=(p1-width p2-regime3 p1-depth p1-experts p2-regime2 p1-expert-width p1-long p1-width-init
                             p1-long-warmup p2-regime1)
mkdir -p "$out" studies/db
for s in "${specs[@]}"; do
  # Carry on from the committed snapshot when this machine has no database of its own yet.
  [ ! -f "$out/$s.sqlite" ] && [ -f "studies/db/$s.sqlite" ] && cp "studies/db/$s.sqlite" "$out/$s.sqlite"
  "$moet" sweep "studies/$s.toml" --db "$out/$s.sqlite" || [ $? -eq 1 ]  # 1: some trial failed
  "$moet" report "$out/$s.sqlite" --out "$out/$s.report"
  studies/snapshot_db.py "$out/$s.sqlite" "studies/db/$s.sqlite"
done
