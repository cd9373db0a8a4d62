#include "model/layout.h"

#include <fmt/ranges.h>

#include "core/checked_size.h"
#include "core/error.h"

namespace moet {

namespace {

class Builder {
 public:
  // Returns the tensor's index.
  int add(const std::string& name, Role role, std::vector<int64_t> shape, int64_t layer,
          int64_t experts = 0, int64_t first_expert = 0, int64_t all_experts = 0) {
    TensorInfo t;
    t.name = name;
    t.role = role;
    t.shape = std::move(shape);
    t.layer = layer;
    t.experts = experts;
    t.first_expert = first_expert;
    t.all_experts = all_experts > 0 ? all_experts : experts;
    CheckedSize numel = 1;
    for (const int64_t d : t.shape) numel *= d;
    const CheckedSize end = numel + next_offset_;
    if (end.overflow())
      fail("model: tensor {} (shape {}) takes the parameter count past int64", name,
           fmt::join(t.shape, " x "));
    t.numel = numel.value();
    const size_t rank = t.shape.size() - (experts > 0 ? 1 : 0);
    if (role == Role::embed || role == Role::pos_embed) {
      t.fan_in = 1;  // a lookup: one row per token
      t.fan_out = t.shape.back();
    } else if (rank >= 2) {
      t.fan_in = t.shape[t.shape.size() - 2];
      t.fan_out = t.shape.back();
    } else {
      t.fan_in = 1;
      t.fan_out = t.shape.back();
    }
    t.trainable = optimizer_trains(role);
    t.offset = next_offset_;
    next_offset_ = end.value();
    tensors_.push_back(std::move(t));
    return int(tensors_.size()) - 1;
  }
  std::vector<TensorInfo> take() { return std::move(tensors_); }

 private:
  std::vector<TensorInfo> tensors_;
  int64_t next_offset_ = 0;
};

NormIndex add_norm(Builder& b, const ModelConfig& c, const std::string& prefix, int64_t layer) {
  NormIndex n;
  n.gain = b.add(prefix + ".gain", Role::norm, {c.N}, layer);
  if (c.norm == NormKind::layernorm) n.bias = b.add(prefix + ".bias", Role::bias, {c.N}, layer);
  return n;
}

void add_attention(Builder& b, const ModelConfig& c, const std::string& p, int64_t l,
                   BlockIndex& i) {
  i.wq = b.add(p + ".attn.wq", Role::attn_qk, {c.N, c.N}, l);
  i.wk = b.add(p + ".attn.wk", Role::attn_qk, {c.N, c.N}, l);
  i.wv = b.add(p + ".attn.wv", Role::attn_v, {c.N, c.N}, l);
  i.wo = b.add(p + ".attn.wo", Role::attn_o, {c.N, c.N}, l);
  if (c.linear_bias) {
    i.bq = b.add(p + ".attn.bq", Role::bias, {c.N}, l);
    i.bk = b.add(p + ".attn.bk", Role::bias, {c.N}, l);
    i.bv = b.add(p + ".attn.bv", Role::bias, {c.N}, l);
    i.bo = b.add(p + ".attn.bo", Role::bias, {c.N}, l);
  }
}

void add_moe(Builder& b, const ModelConfig& c, const ExpertShard& shard, const std::string& p,
             int64_t l, BlockIndex& i) {
  i.router = b.add(p + ".moe.router", Role::router, {c.N, c.M}, l);
  i.route_bias = b.add(p + ".moe.route_bias", Role::route_bias, {c.M}, l);
  MlpIndex& e = i.experts;
  const int64_t held = shard.experts_held(c.M), first = shard.first_expert(c.M);
  const auto add_experts = [&](const std::string& name, Role role, std::vector<int64_t> shape) {
    shape.insert(shape.begin(), held);
    return b.add(p + name, role, std::move(shape), l, held, first, c.M);
  };
  e.up = add_experts(".moe.expert_up", Role::expert_up, {c.N, c.up_cols(c.Ne)});
  e.down = add_experts(".moe.expert_down", Role::expert_down, {c.Ne, c.N});
  if (c.linear_bias) {
    e.up_bias = add_experts(".moe.expert_up_bias", Role::bias, {c.up_cols(c.Ne)});
    e.down_bias = add_experts(".moe.expert_down_bias", Role::bias, {c.N});
  }
  if (c.shared_experts > 0) {
    const int64_t S = c.shared_experts, Ns = c.shared_width();
    MlpIndex& s = i.shared;
    s.up = b.add(p + ".moe.shared_up", Role::shared_up, {S, c.N, c.up_cols(Ns)}, l, S);
    s.down = b.add(p + ".moe.shared_down", Role::shared_down, {S, Ns, c.N}, l, S);
    if (c.linear_bias) {
      s.up_bias = b.add(p + ".moe.shared_up_bias", Role::bias, {S, c.up_cols(Ns)}, l, S);
      s.down_bias = b.add(p + ".moe.shared_down_bias", Role::bias, {S, c.N}, l, S);
    }
  }
}

void add_dense_ffn(Builder& b, const ModelConfig& c, const std::string& p, int64_t l, MlpIndex& f) {
  const int64_t Nf = c.dense_width();
  f.up = b.add(p + ".ffn.up", Role::dense_up, {c.N, c.up_cols(Nf)}, l);
  f.down = b.add(p + ".ffn.down", Role::dense_down, {Nf, c.N}, l);
  if (c.linear_bias) {
    f.up_bias = b.add(p + ".ffn.up_bias", Role::bias, {c.up_cols(Nf)}, l);
    f.down_bias = b.add(p + ".ffn.down_bias", Role::bias, {c.N}, l);
  }
}

}  // namespace

ModelLayout model_layout(const ModelConfig& c, const ExpertShard& shard) {
  if (c.has_moe()) validate_expert_shard(shard, c.M);
  Builder b;
  ModelLayout layout;
  layout.embed = b.add("embed", Role::embed, {c.vocab, c.N}, -1);
  if (c.pos == PosEncoding::learned)
    layout.pos_embed = b.add("pos_embed", Role::pos_embed, {c.seq, c.N}, -1);
  for (int64_t l = 0; l < c.L; ++l) {
    const std::string p = "blocks." + std::to_string(l);
    BlockIndex& i = layout.blocks.emplace_back();
    i.ln1 = add_norm(b, c, p + ".ln1", l);
    add_attention(b, c, p, l, i);
    i.ln2 = add_norm(b, c, p + ".ln2", l);
    if (c.is_moe_block(l))
      add_moe(b, c, shard, p, l, i);
    else
      add_dense_ffn(b, c, p, l, i.ffn);
  }
  layout.final_norm = add_norm(b, c, "final_norm", -1);
  if (!c.tied_embed) layout.unembed = b.add("unembed", Role::unembed, {c.N, c.vocab}, -1);
  layout.tensors = b.take();
  return layout;
}

std::vector<TensorInfo> model_tensors(const ModelConfig& c) { return model_layout(c).tensors; }

int64_t total_numel(const std::vector<TensorInfo>& tensors) {
  int64_t n = 0;
  for (const auto& t : tensors) n += t.numel;
  return n;
}

int64_t active_numel(const ModelConfig& c, const std::vector<TensorInfo>& tensors) {
  int64_t n = 0;
  for (const auto& t : tensors) {
    if (t.role == Role::expert_up || t.role == Role::expert_down ||
        (t.role == Role::bias && t.experts == c.M && t.name.find(".expert_") != std::string::npos))
      n += t.numel / c.M * c.K;
    else
      n += t.numel;
  }
  return n;
}

int find_tensor(const std::vector<TensorInfo>& tensors, const std::string& name) {
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].name == name) return int(i);
  return -1;
}

}  // namespace moet
