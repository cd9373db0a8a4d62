#!/usr/bin/env python3
"""Peer benchmark: moet against PyTorch eager on the same MoE models, threads and batch.

Runs `moet bench --config NAME --json` for each named model, then trains the same network in
PyTorch eager (the way one would write it by hand: tokens grouped by expert once, one matmul per
expert, dense causal attention, torch.optim.Adam) with the thread count moet reported, and prints
both throughputs and their ratio. The shapes mirror src/train/bench.cpp's presets; the parameter
counts of the two implementations are compared so a drifted copy cannot go unnoticed.

Usage: /usr/bin/python3 bench/peer_torch.py [--moet build/moet] [--configs tiny,small]
                                            [--steps N] [--json] [--set key=value]...
--set changes the shape of both (model.N, .L, .d_head, .M, .K, .Ne, .vocab, .seq, train.batch);
any other key is passed to moet alone (e.g. train.recompute=block). bench/cost_curve.sh uses it.
Use ./moet.sh bench-peer: it installs python3-torch and OpenBLAS (openmp) and points libblas.so.3
at OpenBLAS; with Debian's reference BLAS, PyTorch is ~8x slower and the ratio would flatter moet.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:
    sys.exit(f"peer_torch.py: cannot import PyTorch ({e}); run ./moet.sh bench-peer")

# src/train/bench.cpp bench_preset(): LayerNorm, learned positions, tied embeddings, GELU (tanh)
# experts, sigmoid router with top-K and a balancing bias, 1/K aggregation, 1/d_head logit scale.
SHAPES = {
    "tiny": dict(N=128, L=4, d_head=32, M=8, K=2, Ne=128, vocab=256, seq=256, batch=16, steps=10),
    "small": dict(N=512, L=4, d_head=64, M=16, K=4, Ne=512, vocab=8192, seq=512, batch=8, steps=3),
}
WARMUP_STEPS = 2  # as moet bench


class MoETransformer(torch.nn.Module):
    def __init__(self, s):
        super().__init__()
        N, V, T, L, M, Ne = s["N"], s["vocab"], s["seq"], s["L"], s["M"], s["Ne"]
        self.s = s
        p = lambda *shape, std=0.02: torch.nn.Parameter(torch.randn(*shape) * std)
        self.embed = p(V, N)
        self.pos_embed = p(T, N)
        self.blocks = torch.nn.ModuleList()
        for _ in range(L):
            b = torch.nn.Module()
            b.ln1 = torch.nn.LayerNorm(N)
            b.wq, b.wk, b.wv, b.wo = (p(N, N, std=N ** -0.5) for _ in range(4))
            b.ln2 = torch.nn.LayerNorm(N)
            b.router = p(N, M, std=1.0 / N)
            b.register_buffer("route_bias", torch.zeros(M))
            b.expert_up = p(M, N, Ne, std=N ** -0.5)
            b.expert_down = p(M, Ne, N, std=Ne ** -0.5)
            self.blocks.append(b)
        self.final_norm = torch.nn.LayerNorm(N)
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        self.register_buffer("future", mask)
        self.counts = []

    def attention(self, b, x):
        s = self.s
        B, T, N, d = x.shape[0], s["seq"], s["N"], s["d_head"]
        H = N // d
        q, k, v = ((x @ w).view(B, T, H, d).transpose(1, 2) for w in (b.wq, b.wk, b.wv))
        logits = (q @ k.transpose(-1, -2)) * (1.0 / d)
        probs = torch.softmax(logits.masked_fill(self.future, float("-inf")), dim=-1)
        return (probs @ v).transpose(1, 2).reshape(B, T, N) @ b.wo

    def moe(self, b, x):
        s = self.s
        M, K = s["M"], s["K"]
        scores = torch.sigmoid(x @ b.router)
        chosen = torch.topk(scores + b.route_bias, K, dim=-1).indices  # [R, K]
        gates = scores.gather(1, chosen)
        flat = chosen.reshape(-1)
        order = torch.argsort(flat, stable=True)
        rows = order // K
        counts = torch.bincount(flat, minlength=M)
        self.counts.append(counts)
        xs = x.index_select(0, rows)
        outs = []
        for e, xe in enumerate(torch.split(xs, counts.tolist())):
            if xe.shape[0]:
                outs.append(F.gelu(xe @ b.expert_up[e], approximate="tanh") @ b.expert_down[e])
        out = torch.cat(outs) * (gates.reshape(-1)[order] / K).unsqueeze(1)
        return torch.zeros_like(x).index_add(0, rows, out)

    def forward(self, inputs, targets):
        s = self.s
        B, T, N = inputs.shape[0], s["seq"], s["N"]
        self.counts = []
        h = self.embed[inputs] + self.pos_embed
        residual = 1.0 / s["L"]
        for b in self.blocks:
            h = h + residual * self.attention(b, b.ln1(h))
            x = b.ln2(h).reshape(B * T, N)
            h = h + residual * self.moe(b, x).view(B, T, N)
        logits = self.final_norm(h).reshape(B * T, N) @ self.embed.t()
        return F.cross_entropy(logits, targets.reshape(-1))

    @torch.no_grad()
    def update_route_bias(self, tokens, eta=0.1):
        s = self.s
        for b, counts in zip(self.blocks, self.counts):
            b.route_bias -= eta * (counts.float() / tokens - s["K"] / s["M"])


SHAPE_KEYS = {"model.N": "N", "model.L": "L", "model.d_head": "d_head", "model.M": "M",
              "model.K": "K", "model.Ne": "Ne", "model.vocab": "vocab", "model.seq": "seq",
              "train.batch": "batch"}


def shape_of(name, sets):
    s = dict(SHAPES[name])
    for assignment in sets:
        key, _, value = assignment.partition("=")
        if key in SHAPE_KEYS:
            s[SHAPE_KEYS[key]] = int(value)
    return s


def torch_tokens_per_s(s, threads, steps):
    torch.manual_seed(1)
    torch.set_num_threads(threads)
    model = MoETransformer(s)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    B, T, V = s["batch"], s["seq"], s["vocab"]
    generator = torch.Generator().manual_seed(17)

    def step():
        inputs = torch.randint(0, V, (B, T), generator=generator)
        targets = torch.randint(0, V, (B, T), generator=generator)
        optimizer.zero_grad(set_to_none=True)
        loss = model(inputs, targets)
        loss.backward()
        optimizer.step()
        model.update_route_bias(B * T)
        return loss

    for _ in range(WARMUP_STEPS):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = time.perf_counter() - start
    # moet counts the balancing bias among its tensors; here it is a buffer.
    params = sum(p.numel() for p in model.parameters()) + sum(b.route_bias.numel() for b in model.blocks)
    return steps * B * T / seconds, params


def loaded_blas():
    """The BLAS library PyTorch has mapped (after a matmul), to catch the reference BLAS."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    try:
        with open("/proc/self/maps") as maps:
            libs = {line.split()[-1] for line in maps if "blas" in line.lower()}
    except OSError:
        return "unknown"
    return ", ".join(sorted(os.path.realpath(l) for l in libs)) or "none mapped"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--moet", default=os.path.join(here, "..", "build", "moet"))
    ap.add_argument("--configs", default="tiny,small")
    ap.add_argument("--steps", type=int, default=0, help="timed steps (default: moet's)")
    ap.add_argument("--json", action="store_true", help="print one JSON object per config")
    ap.add_argument("--set", action="append", default=[], help="key=value for both (see above)")
    args = ap.parse_args()

    blas = loaded_blas()
    if "openblas" not in blas:
        print(f"peer_torch.py: warning: PyTorch uses {blas}, not OpenBLAS; "
              "run ./moet.sh bench-peer", file=sys.stderr)
    for name in args.configs.split(","):
        steps = args.steps or SHAPES[name]["steps"]
        cmd = [args.moet, "bench", "--config", name, "--json", "--steps", str(steps)]
        for assignment in args.set:
            cmd += ["--set", assignment]
        ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        threads = int(ours["threads"])
        peer, peer_params = torch_tokens_per_s(shape_of(name, args.set), threads, steps)
        if peer_params != ours["params"]:
            sys.exit(f"peer_torch.py: {name}: PyTorch model has {peer_params} parameters, "
                     f"moet {ours['params']}: the shapes have drifted from src/train/bench.cpp")
        ratio = ours["tokens_per_s"] / peer
        peer_gflops = ours["gflops_per_s"] * peer / ours["tokens_per_s"]
        if args.json:
            print(json.dumps({"config": name, "threads": threads, "steps": steps,
                              "moet_tokens_per_s": ours["tokens_per_s"],
                              "torch_tokens_per_s": peer, "ratio": ratio,
                              "moet_peak_fraction": ours["peak_fraction"],
                              "torch_peak_fraction": peer_gflops / ours["peak_gflops_per_s"],
                              "torch_blas": blas, "moet": ours}))
        else:
            print(f"{name}: {threads} threads, {steps} timed steps of {ours['tokens_per_step']} tokens")
            print(f"  moet          {ours['tokens_per_s']:9.0f} tokens/s  {ours['gflops_per_s']:6.1f} GFLOP/s"
                  f"  {100 * ours['peak_fraction']:4.1f}% of the measured fp32 peak")
            print(f"  PyTorch eager {peer:9.0f} tokens/s  {peer_gflops:6.1f} GFLOP/s"
                  f"  {100 * peer_gflops / ours['peak_gflops_per_s']:4.1f}%   (torch {torch.__version__})")
            print(f"  ratio moet / PyTorch: {ratio:.2f}x")


if __name__ == "__main__":
    main()
