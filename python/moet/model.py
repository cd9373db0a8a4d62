"""MoETransformer: moet's decoder-only, pre-norm MoE transformer (src/model/) in PyTorch, with
moet's tensor names and shapes (src/model/layout.cpp), so a moet checkpoint loads into it and a
table from `moet params` applies to it by name."""
from collections import namedtuple

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .errors import MoetError
from .layers import MoE, Attention, DenseMLP, Norm, Scaled, rope_tables

Output = namedtuple("Output", ["loss", "aux_loss", "z_loss"])


class Block(nn.Module):
    def __init__(self, c, layer, rope, scalars):
        super().__init__()
        self.scalars = scalars
        self.ln1 = Norm(c.N, c.norm, c.norm_eps)
        self.attn = Attention(c.N, c.d_head, c.linear_bias, c.qk_norm, c.norm_eps, rope)
        self.ln2 = Norm(c.N, c.norm, c.norm_eps)
        self.is_moe = c.is_moe_block(layer)
        if self.is_moe:
            self.moe = MoE(c.N, c.M, c.K, c.Ne, c.act, c.router_score, c.gate_renorm,
                           c.linear_bias, c.shared_experts, c.shared_Ne, c.aux_weight, c.z_weight,
                           c.gate_fn)
        else:
            self.ffn = DenseMLP(c.N, c.dense_width(), c.act, c.linear_bias)

    def forward(self, h):
        rm = self.scalars["residual_mult"]
        h = h + rm * self.attn(self.ln1(h))
        x = self.ln2(h)
        zero = torch.zeros((), dtype=h.dtype, device=h.device)
        if self.is_moe:
            B, T, N = x.shape
            y, aux, z = self.moe(x.reshape(B * T, N))
            y = y.view(B, T, N)
        else:
            y, aux, z = self.ffn(x), zero, zero
        return h + rm * y, aux, z


class MoETransformer(Scaled):
    """Built from a moet ModelConfig (or a dict of its fields). forward(inputs [B, T] long,
    targets [B, T] long) -> Output(loss, aux_loss, z_loss): loss is the mean cross-entropy moet
    reports; train on loss + aux_loss + z_loss. logits(inputs) -> [B, T, vocab].

    The block scalars (residual, attention-logit, aggregation and readout multipliers) and every
    tensor's multiplier are set by moet.apply (or set_block_scalars / set_multiplier); until the
    block scalars are set, forward and logits raise MoetError."""

    def __init__(self, config):
        super().__init__()
        c = config if isinstance(config, ModelConfig) else ModelConfig(**config)
        self.config = c.validate()
        self.scalars = {"residual_mult": 1.0, "attn_logit_scale": 1.0 / c.d_head ** 0.5,
                        "aggregation_mult": 1.0, "readout_mult": 1.0}
        self.embed = nn.Parameter(torch.empty(c.vocab, c.N))
        if c.pos == "learned":
            self.pos_embed = nn.Parameter(torch.empty(c.seq, c.N))
        rope = None
        if c.pos == "rope":
            self._rope_cache = {}
            rope = self._rope
        self.blocks = nn.ModuleList(Block(c, l, rope, self.scalars) for l in range(c.L))
        self.final_norm = Norm(c.N, c.norm, c.norm_eps)
        if not c.tied_embed:
            self.unembed = nn.Parameter(torch.empty(c.N, c.vocab))
        self.set_block_scalars(**self.scalars)
        # The defaults above are placeholders: a preset's scalars differ (completep-moe's logit
        # scale is 1/d_head, its aggregation 1/K), so the model refuses to run until they are set.
        self.scalars_set = False

    def _rope(self):
        key = (self.embed.dtype, self.embed.device)
        if key not in self._rope_cache:
            c = self.config
            self._rope_cache[key] = rope_tables(c.seq, c.d_head, c.rope_base, *key)
        return self._rope_cache[key]

    def set_block_scalars(self, residual_mult, attn_logit_scale, aggregation_mult,
                          readout_mult):
        if not attn_logit_scale > 0:
            raise MoetError(f"attn_logit_scale: must be positive (got {attn_logit_scale})")
        self.scalars.update(residual_mult=float(residual_mult),
                            attn_logit_scale=float(attn_logit_scale),
                            aggregation_mult=float(aggregation_mult),
                            readout_mult=float(readout_mult))
        for block in self.blocks:
            block.attn.logit_scale = self.scalars["attn_logit_scale"]
            if block.is_moe:
                block.moe.aggregation_mult = self.scalars["aggregation_mult"]
        self.scalars_set = True

    def moe_layers(self):
        return [b.moe for b in self.blocks if b.is_moe]

    def hidden(self, inputs):
        """Final-norm output [B, T, N] and the summed aux and z losses."""
        c = self.config
        if not self.scalars_set:
            raise MoetError("MoETransformer: its block scalars are not set: moet.apply(model, "
                            "table) or moet.load_model(run) sets them with every tensor's "
                            "multiplier (set_block_scalars(...) chooses them by hand)")
        T = inputs.shape[1]
        if T > c.seq:
            raise MoetError(f"inputs: {T} tokens per row, the model's context is {c.seq}")
        h = self.mult("embed") * self.embed[inputs]
        if c.pos == "learned":
            h = h + self.mult("pos_embed") * self.pos_embed[:T].unsqueeze(0)
        aux = z = torch.zeros((), dtype=h.dtype, device=h.device)
        for block in self.blocks:
            h, a, zz = block(h)
            aux, z = aux + a, z + zz
        return self.final_norm(h), aux, z

    def logits_from(self, x):
        if self.config.tied_embed:  # the embedding's multiplier acts on the input side only
            return self.scalars["readout_mult"] * (x @ self.embed.t())
        return (self.scalars["readout_mult"] * self.mult("unembed")) * (x @ self.unembed)

    def logits(self, inputs):
        return self.logits_from(self.hidden(inputs)[0])

    def forward(self, inputs, targets):
        x, aux, z = self.hidden(inputs)
        logits = self.logits_from(x)
        V = self.config.vocab
        loss = F.cross_entropy(logits.reshape(-1, V).float(), targets.reshape(-1))
        return Output(loss, aux, z)

    @torch.no_grad()
    def balance(self):
        """The balancing-bias step of every MoE layer (call after each optimizer step)."""
        for layer in self.moe_layers():
            layer.balance()


def tensor_shapes(config):
    """moet's tensor list (src/model/layout.cpp) for a config: {name: shape}, in layout order."""
    return {name: tuple(p.shape) for name, p in MoETransformer(config).named_parameters()}
