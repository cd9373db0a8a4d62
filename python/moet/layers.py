"""Building blocks with moet's conventions (src/model/): weights stored [in, out] and applied as
y = multiplier * (x W) + bias_multiplier * b; expert weights as 3-D tensors [M, in, out]; top-K
routing on score + multiplier * balancing bias with no gradient through the choice; the MoE
output scaled by the aggregation multiplier.

Every module keeps its tensors' forward multipliers in `self.multipliers` (name -> float, 1 when
unset); moet.apply sets them from a table through set_multiplier."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .errors import MoetError


class Scaled(nn.Module):
    """A module whose direct tensors each act with a forward multiplier."""

    def __init__(self):
        super().__init__()
        self.multipliers = {}

    def set_multiplier(self, name, value):
        if name not in self._parameters:
            raise MoetError(f"{type(self).__name__} has no tensor '{name}'")
        self.multipliers[name] = float(value)

    def mult(self, name):
        return self.multipliers.get(name, 1.0)

    def scaled(self, name, index=None):
        """A bias or gain as the network uses it: multiplier x stored values (row `index` of an
        expert tensor); None when the module has no such tensor."""
        t = self._parameters.get(name)
        if t is None:
            return None
        return self.mult(name) * (t if index is None else t[index])


def scaled_linear(x, weight, mult=1.0, bias=None):
    """moet's linear: mult * (x @ weight) (+ bias, already multiplied by its own multiplier);
    weight is [in, out]."""
    y = mult * (x @ weight)
    return y if bias is None else y + bias


class MultLinear(Scaled):
    """A linear layer with a forward multiplier: y = multiplier * (x W) + bias_multiplier * b,
    W of shape [in, out] (moet's layout, the transpose of nn.Linear's)."""

    def __init__(self, fan_in, fan_out, bias=False):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(fan_in, fan_out))
        self.bias = nn.Parameter(torch.zeros(fan_out)) if bias else None

    def forward(self, x):
        return scaled_linear(x, self.weight, self.mult("weight"), self.scaled("bias"))


class Norm(Scaled):
    """LayerNorm (gain and bias) or RMSNorm (gain only), each with its multiplier."""

    def __init__(self, width, kind="layernorm", eps=1e-5):
        super().__init__()
        if kind not in ("layernorm", "rmsnorm"):
            raise MoetError(f"norm: '{kind}' is not one of layernorm | rmsnorm")
        self.kind, self.eps, self.width = kind, eps, width
        self.gain = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width)) if kind == "layernorm" else None

    def forward(self, x):
        gain = self.scaled("gain")
        if self.kind == "layernorm":
            return F.layer_norm(x, (self.width,), gain, self.scaled("bias"), self.eps)
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * gain


def rms_normalize(x, eps):
    """RMSNorm without gain over the last dimension (qk-norm)."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def activation(pre, act):
    """GELU (tanh form), or SwiGLU on [gate | up] halves."""
    if act == "swiglu":
        half = pre.shape[-1] // 2
        return F.silu(pre[..., :half]) * pre[..., half:]
    return F.gelu(pre, approximate="tanh")


def rope_tables(seq, d, base, dtype, device=None):
    """cos and sin [seq, d/2] of GPT-NeoX rotary embeddings, computed in double as moet does."""
    i = torch.arange(d // 2, dtype=torch.float64, device=device)
    t = torch.arange(seq, dtype=torch.float64, device=device)
    angle = torch.outer(t, torch.pow(torch.tensor(base, dtype=torch.float64), -2.0 * i / d))
    return angle.cos().to(dtype), angle.sin().to(dtype)


def apply_rope(x, cos, sin):
    """x [B, T, H, d]: coordinate i pairs with i + d/2."""
    T, half = x.shape[1], x.shape[-1] // 2
    c, s = cos[:T, None, :], sin[:T, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], -1)


def route(logits, K, score="sigmoid", bias=None, gate_renorm=False):
    """Top-K routing as moet does it. logits [R, M] -> (chosen [R, K] best first, ties to the lower
    expert; gates [R, K] with gradient; scores [R, M]). The choice is made on score + bias (the
    balancing bias already times its multiplier) and carries no gradient."""
    scores = torch.softmax(logits, -1) if score == "softmax" else torch.sigmoid(logits)
    steer = scores.detach() if bias is None else (scores + bias).detach()
    chosen = torch.sort(-steer, dim=-1, stable=True).indices[:, :K]
    gates = scores.gather(1, chosen)
    if gate_renorm:
        gates = gates / gates.sum(-1, keepdim=True)
    return chosen, gates, scores


def switch_aux_loss(logits, chosen, M, weight):
    """Switch's auxiliary loss weight * M * sum_i f_i P_i: f_i the share of the R*K assignments
    that went to expert i (no gradient), P_i the mean softmax probability of expert i."""
    counts = torch.bincount(chosen.reshape(-1), minlength=M).to(logits.dtype)
    f = counts / chosen.numel()
    P = torch.softmax(logits, -1).mean(0)
    return weight * M * (f * P).sum()


def router_z_loss(logits, weight):
    """ST-MoE's router z-loss: weight * mean over tokens of logsumexp(logits)^2."""
    return weight * torch.logsumexp(logits, -1).pow(2).mean()


class ExpertBank(nn.Module):
    """Helpers for a group of MLPs stored as 3-D tensors [E, in, out] in a Scaled parent."""

    @staticmethod
    def mlp(owner, x, up, down, e, act):
        """Expert e of the parent's `up`/`down` tensors (and their `_bias` tensors) on x."""
        pre = scaled_linear(x, owner._parameters[up][e], owner.mult(up),
                            owner.scaled(up + "_bias", e))
        return scaled_linear(activation(pre, act), owner._parameters[down][e], owner.mult(down),
                             owner.scaled(down + "_bias", e))


class MoE(Scaled):
    """An MoE FFN with moet's tensors: router [N, M], route_bias [M] (not trained by the
    optimizer: balance() moves it), expert_up [M, N, up], expert_down [M, Ne, N], optional biases
    [M, up] / [M, N], and `shared` always-on experts shared_up [S, N, up'], shared_down [S, Ns, N].
    up is Ne, or 2 Ne for SwiGLU ([gate | up]).

    forward(x [R, N]) -> (y [R, N], aux_loss, z_loss). The tokens routed to each expert since the
    last balance() are counted in `counts` (moet's routing statistics: routing_stats())."""

    def __init__(self, N, M, K, Ne, act="gelu", score="sigmoid", gate_renorm=False, bias=False,
                 shared=0, shared_Ne=0, aux_weight=0.0, z_weight=0.0, gate_fn="linear"):
        super().__init__()
        if not 1 <= K <= M:
            raise MoetError(f"MoE: K must be in [1, M] (K {K}, M {M})")
        self.N, self.M, self.K, self.Ne, self.act = N, M, K, Ne, act
        self.score, self.gate_renorm, self.gate_fn = score, gate_renorm, gate_fn
        self.aux_weight, self.z_weight = aux_weight, z_weight
        self.aggregation_mult = 1.0
        self.bias_lr = 0.0  # eta_bias of b -= eta_bias (load - K/M), set by moet.apply
        glu = 2 if act == "swiglu" else 1
        self.router = nn.Parameter(torch.empty(N, M))
        self.route_bias = nn.Parameter(torch.zeros(M), requires_grad=False)
        self.expert_up = nn.Parameter(torch.empty(M, N, glu * Ne))
        self.expert_down = nn.Parameter(torch.empty(M, Ne, N))
        if bias:
            self.expert_up_bias = nn.Parameter(torch.zeros(M, glu * Ne))
            self.expert_down_bias = nn.Parameter(torch.zeros(M, N))
        self.shared = shared
        if shared:
            Ns = shared_Ne or Ne
            self.shared_up = nn.Parameter(torch.empty(shared, N, glu * Ns))
            self.shared_down = nn.Parameter(torch.empty(shared, Ns, N))
            if bias:
                self.shared_up_bias = nn.Parameter(torch.zeros(shared, glu * Ns))
                self.shared_down_bias = nn.Parameter(torch.zeros(shared, N))
        self.register_buffer("counts", torch.zeros(M, dtype=torch.int64), persistent=False)
        self.counted_tokens = 0
        self.last_chosen, self.last_logit_rms = None, 0.0

    def forward(self, x):
        logits = scaled_linear(x, self.router, self.mult("router"))
        chosen, gates, _ = route(logits, self.K, self.score, self.scaled("route_bias"),
                                 self.gate_renorm)
        self.last_chosen = chosen
        self.last_logit_rms = float(logits.detach().double().pow(2).mean().sqrt())
        flat = chosen.reshape(-1)
        counts = torch.bincount(flat, minlength=self.M)
        self.counts += counts
        self.counted_tokens += x.shape[0]
        # Assignments grouped by expert (stable: row order within an expert), one GEMM each.
        order = torch.sort(flat, stable=True).indices
        rows_all = order // self.K
        if self.gate_fn == "sqrt":  # HyperP's SqrtGate
            gates = gates.sqrt()
        weights = (self.aggregation_mult * gates.reshape(-1))[order]
        y = torch.zeros_like(x)
        start = 0
        for e, n in enumerate(counts.tolist()):
            if n == 0:
                continue
            rows = rows_all[start:start + n]
            out = ExpertBank.mlp(self, x[rows], "expert_up", "expert_down", e, self.act)
            y = y.index_add(0, rows, weights[start:start + n, None] * out)
            start += n
        for s in range(self.shared):
            y = y + ExpertBank.mlp(self, x, "shared_up", "shared_down", s, self.act)
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        aux = switch_aux_loss(logits, chosen, self.M, self.aux_weight) if self.aux_weight > 0 \
            else zero
        z = router_z_loss(logits, self.z_weight) if self.z_weight > 0 else zero
        return y, aux, z

    def routing_stats(self):
        """Loads since the last balance() as moet logs them: per expert the share of the counted
        tokens that chose it, max over mean of the counts, and the RMS of the last router logits."""
        counts = self.counts.tolist()
        total = sum(counts)
        tokens = max(1, self.counted_tokens)
        return {"load": [c / tokens for c in counts],
                "max_over_mean": max(counts) * len(counts) / total if total else 0.0,
                "logit_rms": self.last_logit_rms}

    @torch.no_grad()
    def balance(self):
        """Paper 1's bias rule after an optimizer step: b_i -= bias_lr (load_i - K/M), load_i the
        share of the tokens counted since the last call that chose expert i (moet computes it in
        double and rounds the change to the bias's precision once, as here). Resets the counts."""
        if self.bias_lr != 0 and self.counted_tokens > 0:
            load = self.counts.to(torch.float64) / self.counted_tokens
            delta = (self.bias_lr * (load - self.K / self.M)).to(self.route_bias.dtype)
            self.route_bias.sub_(delta)
        self.counts.zero_()
        self.counted_tokens = 0


class DenseMLP(Scaled):
    """A dense FFN: up [N, up], down [Nf, N], optional up_bias / down_bias."""

    def __init__(self, N, Nf, act="gelu", bias=False):
        super().__init__()
        glu = 2 if act == "swiglu" else 1
        self.act = act
        self.up = nn.Parameter(torch.empty(N, glu * Nf))
        self.down = nn.Parameter(torch.empty(Nf, N))
        if bias:
            self.up_bias = nn.Parameter(torch.zeros(glu * Nf))
            self.down_bias = nn.Parameter(torch.zeros(N))

    def forward(self, x):
        pre = scaled_linear(x, self.up, self.mult("up"), self.scaled("up_bias"))
        return scaled_linear(activation(pre, self.act), self.down, self.mult("down"),
                             self.scaled("down_bias"))


class Attention(Scaled):
    """Causal multi-head self-attention: wq, wk, wv, wo [N, N] (optional bq..bo), optional
    qk-norm (RMSNorm without gain per head), RoPE or none; logits = logit_scale * q.k."""

    def __init__(self, N, d_head, bias=False, qk_norm=False, norm_eps=1e-5, rope=None):
        super().__init__()
        self.N, self.d_head, self.qk_norm, self.norm_eps = N, d_head, qk_norm, norm_eps
        self.rope = rope  # (cos, sin) or None; shared with the model
        self.logit_scale = 1.0 / math.sqrt(d_head)
        for w in ("wq", "wk", "wv", "wo"):
            setattr(self, w, nn.Parameter(torch.empty(N, N)))
        if bias:
            for b in ("bq", "bk", "bv", "bo"):
                setattr(self, b, nn.Parameter(torch.zeros(N)))

    def forward(self, x):
        B, T, N = x.shape
        d = self.d_head
        H = N // d
        proj = lambda w, b: scaled_linear(x, self._parameters[w], self.mult(w),  # noqa: E731
                                          self.scaled(b)).view(B, T, H, d)
        q, k, v = proj("wq", "bq"), proj("wk", "bk"), proj("wv", "bv")
        if self.qk_norm:
            q, k = rms_normalize(q, self.norm_eps), rms_normalize(k, self.norm_eps)
        if self.rope is not None:
            cos, sin = self.rope()
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        logits = self.logit_scale * (q @ k.transpose(-1, -2))
        future = torch.triu(torch.ones(T, T, dtype=torch.bool, device=x.device), diagonal=1)
        probs = torch.softmax(logits.masked_fill(future, float("-inf")), dim=-1)
        att = (probs @ v).transpose(1, 2).reshape(B, T, N)
        return scaled_linear(att, self.wo, self.mult("wo"), self.scaled("bo"))
