#!/usr/bin/env python3
"""An independent PyTorch implementation of moet's MoE transformer, the oracle for the C++ one.

tests/model/torch_oracle_test.cpp writes a model (config, plan, parameters, tokens) into a
directory; this script rebuilds the same network from the description in src/model/ (model.h,
moe_layer.h, attention_block.h, ffn_block.h, mlp.h, layout.cpp, plan.h) with stock PyTorch
operations, runs it in float64, lets autograd produce every parameter's gradient, and writes them
back. Nothing here is shared with the C++ code: it is the second implementation.

Usage: torch_reference.py DIR [DIR ...]

DIR/model.json   {"config": {ModelConfig fields}, "batch": B,
                  "block": {residual_mult, attn_logit_scale, aggregation_mult, readout_mult},
                  "tensors": [{name, shape, offset, numel, multiplier, trainable}],
                  "inputs": [B*T ints], "targets": [B*T ints]}
DIR/params.f64   the flat parameter buffer, float64 little-endian
writes
DIR/result.json  {"loss", "aux_loss", "z_loss", "selected": [[layer, [R*K ints]], ...]}
DIR/grads.f64    d(loss + aux_loss + z_loss)/d params in the same layout (0 for route_bias)

Exit status 3 means PyTorch is missing (the C++ test then says how to install it).
"""
import json
import sys

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover - reported by the C++ test
    print(f"torch_reference.py: cannot import PyTorch/numpy ({e})", file=sys.stderr)
    sys.exit(3)


def expected_shapes(c):
    """Every tensor's name and shape, written from the architecture (not read from C++)."""
    N, V, T = c["N"], c["vocab"], c["seq"]
    glu = 2 if c["act"] == "swiglu" else 1
    out = {"embed": [V, N]}
    if c["pos"] == "learned":
        out["pos_embed"] = [T, N]

    def norm(prefix):
        out[prefix + ".gain"] = [N]
        if c["norm"] == "layernorm":
            out[prefix + ".bias"] = [N]

    for l in range(c["L"]):
        p = f"blocks.{l}"
        norm(p + ".ln1")
        for w in ("wq", "wk", "wv", "wo"):
            out[f"{p}.attn.{w}"] = [N, N]
        if c["linear_bias"]:
            for b in ("bq", "bk", "bv", "bo"):
                out[f"{p}.attn.{b}"] = [N]
        norm(p + ".ln2")
        if is_moe_block(c, l):
            M, Ne = c["M"], c["Ne"]
            out[p + ".moe.router"] = [N, M]
            out[p + ".moe.route_bias"] = [M]
            out[p + ".moe.expert_up"] = [M, N, glu * Ne]
            out[p + ".moe.expert_down"] = [M, Ne, N]
            if c["linear_bias"]:
                out[p + ".moe.expert_up_bias"] = [M, glu * Ne]
                out[p + ".moe.expert_down_bias"] = [M, N]
            S = c["shared_experts"]
            if S > 0:
                Ns = c["shared_Ne"] or Ne
                out[p + ".moe.shared_up"] = [S, N, glu * Ns]
                out[p + ".moe.shared_down"] = [S, Ns, N]
                if c["linear_bias"]:
                    out[p + ".moe.shared_up_bias"] = [S, glu * Ns]
                    out[p + ".moe.shared_down_bias"] = [S, N]
        else:
            Nf = c["dense_Nf"] or 4 * N
            out[p + ".ffn.up"] = [N, glu * Nf]
            out[p + ".ffn.down"] = [Nf, N]
            if c["linear_bias"]:
                out[p + ".ffn.up_bias"] = [glu * Nf]
                out[p + ".ffn.down_bias"] = [N]
    norm("final_norm")
    if not c["tied_embed"]:
        out["unembed"] = [N, V]
    return out


def is_moe_block(c, l):
    return c["moe_every"] > 0 and (l + 1) % c["moe_every"] == 0


class Reference:
    def __init__(self, spec, flat):
        self.c = spec["config"]
        self.B = spec["batch"]
        self.block = spec["block"]
        self.w, self.mult = {}, {}
        for t in spec["tensors"]:
            values = flat[t["offset"]:t["offset"] + t["numel"]].reshape(t["shape"])
            self.w[t["name"]] = torch.tensor(values, dtype=torch.float64,
                                             requires_grad=bool(t["trainable"]))
            self.mult[t["name"]] = t["multiplier"]
        self.selected = []

    def has(self, name):
        return name in self.w

    def vector(self, name, e=None):
        """A bias, norm gain or balancing bias as the network uses it: its own multiplier times
        the stored values (expert e's row when e is given); None when the model has none."""
        t = self.w.get(name)
        if t is None:
            return None
        return self.mult[name] * (t if e is None else t[e])

    # y = multiplier * x W (+ b), where b is already the scaled vector().
    def linear(self, x, name, bias=None, weight=None):
        W = self.w[name] if weight is None else weight
        y = self.mult[name] * (x @ W)
        return y if bias is None else y + bias

    def norm(self, x, prefix):
        c, gain = self.c, self.vector(prefix + ".gain")
        if c["norm"] == "layernorm":
            return F.layer_norm(x, (c["N"],), gain, self.vector(prefix + ".bias"), c["norm_eps"])
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + c["norm_eps"]) * gain

    def rope(self, x):
        """GPT-NeoX rotary embedding of x [B, T, H, d]: coordinate i pairs with i + d/2."""
        c = self.c
        d, T = c["d_head"], c["seq"]
        inv_freq = 1.0 / (c["rope_base"] ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
        angle = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)  # [T, d/2]
        cos = torch.cat([angle.cos(), angle.cos()], -1)[None, :, None, :]
        sin = torch.cat([angle.sin(), angle.sin()], -1)[None, :, None, :]
        x1, x2 = x[..., : d // 2], x[..., d // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def attention(self, h, p):
        c = self.c
        B, T, N, d = self.B, c["seq"], c["N"], c["d_head"]
        H = N // d
        x = self.norm(h, p + ".ln1")
        b = (lambda n: self.vector(f"{p}.attn.{n}"))
        q = self.linear(x, p + ".attn.wq", b("bq")).view(B, T, H, d)
        k = self.linear(x, p + ".attn.wk", b("bk")).view(B, T, H, d)
        v = self.linear(x, p + ".attn.wv", b("bv")).view(B, T, H, d)
        if c["qk_norm"]:  # RMSNorm without gain, per head
            q = q * torch.rsqrt(q.pow(2).mean(-1, keepdim=True) + c["norm_eps"])
            k = k * torch.rsqrt(k.pow(2).mean(-1, keepdim=True) + c["norm_eps"])
        if c["pos"] == "rope":
            q, k = self.rope(q), self.rope(k)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, H, T, d]
        logits = self.block["attn_logit_scale"] * (q @ k.transpose(-1, -2))
        future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        probs = torch.softmax(logits.masked_fill(future, float("-inf")), dim=-1)
        att = (probs @ v).transpose(1, 2).reshape(B, T, N)
        return self.linear(att, p + ".attn.wo", b("bo"))

    def mlp(self, x, up, down, e=None):
        """up -> GELU (tanh form) or SwiGLU [gate | up] -> down; e slices an expert tensor."""
        def get(name):
            t = self.w.get(name)
            return t if t is None or e is None else t[e]
        pre = self.linear(x, up, self.vector(up + "_bias", e), get(up))
        if self.c["act"] == "swiglu":
            half = pre.shape[-1] // 2
            act = F.silu(pre[..., :half]) * pre[..., half:]
        else:
            act = F.gelu(pre, approximate="tanh")
        return self.linear(act, down, self.vector(down + "_bias", e), get(down))

    def moe(self, x, p, l):
        """x [R, N] -> y [R, N], plus the weighted aux and z losses of this layer."""
        c = self.c
        R, M, K = x.shape[0], c["M"], c["K"]
        logits = self.linear(x, p + ".moe.router")
        if c["router_score"] == "softmax":
            scores = torch.softmax(logits, dim=-1)
        else:
            scores = torch.sigmoid(logits)
        # Top-K on score + multiplier x balancing bias, best first, ties to the lower expert: a
        # stable sort of the negated values. The choice carries no gradient.
        steer = (scores + self.vector(p + ".moe.route_bias")).detach()
        chosen = torch.sort(-steer, dim=-1, stable=True).indices[:, :K]
        self.selected.append([l, chosen.reshape(-1).tolist()])
        gates = scores.gather(1, chosen)
        if c["gate_renorm"]:
            gates = gates / gates.sum(-1, keepdim=True)
        agg = self.block["aggregation_mult"]
        if c["gate_fn"] == "sqrt":  # HyperP's SqrtGate
            gates = gates.sqrt()
        y = torch.zeros_like(x)
        for e in range(M):
            rows, slots = (chosen == e).nonzero(as_tuple=True)
            if rows.numel() == 0:
                continue
            out = self.mlp(x[rows], p + ".moe.expert_up", p + ".moe.expert_down", e)
            y = y.index_add(0, rows, agg * gates[rows, slots].unsqueeze(1) * out)
        for s in range(c["shared_experts"]):
            y = y + self.mlp(x, p + ".moe.shared_up", p + ".moe.shared_down", s)
        aux = z = torch.zeros((), dtype=torch.float64)
        if c["aux_weight"] > 0:  # Switch: w * M * sum_i f_i P_i
            f = torch.bincount(chosen.reshape(-1), minlength=M).to(torch.float64) / (R * K)
            P = torch.softmax(logits, dim=-1).mean(0)
            aux = c["aux_weight"] * M * (f * P).sum()
        if c["z_weight"] > 0:
            z = c["z_weight"] * torch.logsumexp(logits, dim=-1).pow(2).mean()
        return y, aux, z

    def forward(self, inputs, targets):
        c, blk = self.c, self.block
        B, T, N, V = self.B, c["seq"], c["N"], c["vocab"]
        h = self.mult["embed"] * self.w["embed"][inputs]  # [B, T, N]
        if c["pos"] == "learned":
            h = h + self.mult["pos_embed"] * self.w["pos_embed"][:T].unsqueeze(0)
        rm = blk["residual_mult"]
        aux_total = z_total = torch.zeros((), dtype=torch.float64)
        for l in range(c["L"]):
            p = f"blocks.{l}"
            h = h + rm * self.attention(h, p)
            x = self.norm(h, p + ".ln2")
            if is_moe_block(c, l):
                y, aux, z = self.moe(x.reshape(B * T, N), p, l)
                y = y.view(B, T, N)
                aux_total, z_total = aux_total + aux, z_total + z
            else:
                y = self.mlp(x, p + ".ffn.up", p + ".ffn.down")
            h = h + rm * y
        xf = self.norm(h, "final_norm")
        if c["tied_embed"]:  # the embedding's multiplier acts on the input side only
            logits = blk["readout_mult"] * (xf @ self.w["embed"].t())
        else:
            logits = blk["readout_mult"] * self.mult["unembed"] * (xf @ self.w["unembed"])
        loss = F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T))
        return loss, aux_total, z_total


def run(directory):
    with open(f"{directory}/model.json") as f:
        spec = json.load(f)
    c = spec["config"]
    got = {t["name"]: list(t["shape"]) for t in spec["tensors"]}
    want = expected_shapes(c)
    if got != want:
        diff = {n: (got.get(n), want.get(n)) for n in sorted(set(got) | set(want))
                if got.get(n) != want.get(n)}
        raise SystemExit(f"{directory}: the C++ layout differs from the architecture "
                         f"(name: (C++ shape, expected shape)): {diff}")
    flat = np.fromfile(f"{directory}/params.f64", dtype="<f8")
    total = sum(t["numel"] for t in spec["tensors"])
    if flat.size != total:
        raise SystemExit(f"{directory}/params.f64: {flat.size} values, layout needs {total}")

    model = Reference(spec, flat)
    B, T = spec["batch"], c["seq"]
    inputs = torch.tensor(spec["inputs"], dtype=torch.long).view(B, T)
    targets = torch.tensor(spec["targets"], dtype=torch.long).view(B, T)
    loss, aux, z = model.forward(inputs, targets)
    (loss + aux + z).backward()

    grads = np.zeros(total, dtype="<f8")
    for t in spec["tensors"]:
        g = model.w[t["name"]].grad
        if g is not None:
            grads[t["offset"]:t["offset"] + t["numel"]] = g.reshape(-1).numpy()
    grads.tofile(f"{directory}/grads.f64")
    with open(f"{directory}/result.json", "w") as f:
        json.dump({"loss": loss.item(), "aux_loss": aux.item(), "z_loss": z.item(),
                   "selected": model.selected}, f)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    torch.set_grad_enabled(True)
    for d in sys.argv[1:]:
        run(d)
