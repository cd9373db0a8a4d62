#!/usr/bin/env bash
# bench/cost_curve.sh: the cost curve of docs/performance.md along one axis of the small bench
# model — tokens/s, % of the measured fp32 peak and peak RSS per token — with PyTorch eager beside
# moet at a few points, as JSON lines and an SVG (moet bench-plot).
#
#   bench/cost_curve.sh AXIS [--points "V ..."] [--peer "V ..."] [--steps N] [--out DIR]
#                            [--set key=value]...
#
# AXIS and its default points (every other key stays at `moet bench --config small`):
#   N    128 256 512 1024 2048    model.N (d_head 64, so N/64 heads)
#   M    8 16 32 64 128           model.M with model.K = M/4 (K/M fixed)
#   Ne   128 256 512 1024 2048    model.Ne
#   L    1 2 4 8 16               model.L
#   seq  256 512 1024 2048 4096   model.seq at 4096 tokens per step (train.batch = 4096/seq)
# --peer: the points that also run PyTorch eager (default: the small model's own value); each
# point is one `moet bench` process (its own peak RSS), or one bench/peer_torch.py run that
# times both in the same process tree. --set goes to every moet run (e.g. train.recompute=block,
# train.threads=1). Writes DIR/AXIS.jsonl and DIR/AXIS.svg (default DIR: runs/cost_curve).
# PyTorch must be importable by /usr/bin/python3 with OpenBLAS (./moet.sh bench-peer sets it up).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

die() { echo "cost_curve.sh: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: bench/cost_curve.sh N|M|Ne|L|seq [--points \"V ...\"] [--peer \"V ...\"] [--steps N] [--out DIR] [--set k=v]..."
axis=$1
shift
case $axis in
  N) points="128 256 512 1024 2048" base=512 ;;
  M) points="8 16 32 64 128" base=16 ;;
  Ne) points="128 256 512 1024 2048" base=512 ;;
  L) points="1 2 4 8 16" base=4 ;;
  seq) points="256 512 1024 2048 4096" base=512 ;;
  *) die "axis '$axis' is not one of N|M|Ne|L|seq" ;;
esac
peer=$base steps=3 out=runs/cost_curve sets=()
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || die "$1 needs a value"
  case $1 in
    --points) points=$2 ;;
    --peer) peer=$2 ;;
    --steps) steps=$2 ;;
    --out) out=$2 ;;
    --set) sets+=(--set "$2") ;;
    *) die "unknown option '$1'" ;;
  esac
  shift 2
done
moet=${MOET:-build/moet}  # MOET: another binary (e.g. a copy while build/ is rebuilt)
[ -x "$moet" ] || die "$moet not found; run ./moet.sh build"

# The --set assignments of one point.
shape() {
  local v=$1
  [[ $v =~ ^[0-9]+$ ]] && [ "$v" -gt 0 ] || die "point '$v' is not a positive integer"
  case $axis in
    N) echo "--set model.N=$v" ;;
    M) [ $((v % 4)) -eq 0 ] || die "M $v: K = M/4 needs a multiple of 4"
       echo "--set model.M=$v --set model.K=$((v / 4))" ;;
    Ne) echo "--set model.Ne=$v" ;;
    L) echo "--set model.L=$v" ;;
    seq) [ $((4096 % v)) -eq 0 ] || die "seq $v must divide 4096 (tokens per step)"
         echo "--set model.seq=$v --set train.batch=$((4096 / v))" ;;
  esac
}

mkdir -p "$out"
jsonl=$out/$axis.jsonl
: > "$jsonl.tmp"
for v in $points; do
  read -ra point_sets <<< "$(shape "$v")"
  if [[ " $peer " == *" $v "* ]]; then
    line=$(/usr/bin/python3 bench/peer_torch.py --moet "$moet" --configs small --steps "$steps" \
      --json "${point_sets[@]}" "${sets[@]}")
    echo "{\"axis\": \"$axis\", \"value\": $v, ${line#\{}" >> "$jsonl.tmp"
  else
    line=$("$moet" bench --config small --steps "$steps" --json "${point_sets[@]}" "${sets[@]}")
    echo "{\"axis\": \"$axis\", \"value\": $v, \"moet\": $line}" >> "$jsonl.tmp"
  fi
  echo "cost_curve.sh: $axis $v done" >&2
done
mv "$jsonl.tmp" "$jsonl"
"$moet" bench-plot "$jsonl" --out "$out/$axis.svg"
