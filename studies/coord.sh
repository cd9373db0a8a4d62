#!/usr/bin/env bash
# Coordinate checks for the presets and ladders of the transfer study (docs/results.md), on the
# study's base shapes, each preset at its pilot base-optimal LR, 20 steps x 3 seeds per shape.
# Writes coord.{json,svg,txt} per check under OUT (default runs/studies/coord).
#   MOET=path/to/moet (default build/moet)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
moet=${MOET:-build/moet}
out=${OUT:-runs/studies/coord}
p1=(model.N=32 model.Ne=32 model.M=8 model.K=2 model.L=2 model.d_head=16 model.seq=64
  train.batch=16)
p2=(model.d_head=16 model.seq=64 train.batch=16 model.norm=rmsnorm model.pos=rope
  model.qk_norm=true model.tied_embed=false balance.bias_lr=0 balance.aux_weight=0.01)
p2_regime3=(model.N=32 model.Ne=16 model.M=4 model.K=2 model.L=2)
p2_regime2=(model.N=32 model.Ne=8 model.M=4 model.K=2 model.L=2 model.moe_every=2)
p2_regime1=(model.N=32 model.Ne=32 model.M=8 model.K=2 model.L=2)

check() {  # name axis preset lr sets...
  local name=$1 axis=$2 preset=$3 lr=$4
  shift 4
  "$moet" coord --quiet --axis "$axis" --scales 1,2,4,8 --out "$out/$name-$preset" \
    --set "$@" param.preset="$preset" optim.lr="$lr" > /dev/null
  echo "$out/$name-$preset/coord.txt"
}
for preset in sp mup completep-moe; do
  lr=0.015625; [ "$preset" = completep-moe ] && lr=0.03125  # pilot optima 2^-6, 2^-5
  check width N,Ne "$preset" $lr "${p1[@]}"
  check depth L "$preset" $lr "${p1[@]}"
  check experts M,K "$preset" $lr "${p1[@]}"
  check expert-width Ne "$preset" $lr "${p1[@]}"
done
for preset in mup-moe mssp; do
  check regime-III regimeIII "$preset" 0.03125 "${p2[@]}" "${p2_regime3[@]}"
  check regime-II regimeII "$preset" 0.03125 "${p2[@]}" "${p2_regime2[@]}"
  # Added 2026-12-07 with the regime I study (no pilot: the LR of the other paper-2 checks).
  check regime-I regimeI "$preset" 0.03125 "${p2[@]}" "${p2_regime1[@]}"
done
