#include "model/config.h"

#include "core/enum_names.h"
#include "core/error.h"
#include "model/memory.h"

namespace moet {

namespace {
constexpr EnumName<NormKind> kNorms[] = {{NormKind::layernorm, "layernorm"},
                                         {NormKind::rmsnorm, "rmsnorm"}};
constexpr EnumName<PosEncoding> kPositions[] = {{PosEncoding::learned, "learned"},
                                                {PosEncoding::rope, "rope"}};
constexpr EnumName<Activation> kActivations[] = {{Activation::gelu, "gelu"},
                                                 {Activation::swiglu, "swiglu"}};
constexpr EnumName<RouterScore> kRouterScores[] = {{RouterScore::sigmoid, "sigmoid"},
                                                   {RouterScore::softmax, "softmax"}};
constexpr EnumName<GateFn> kGateFns[] = {{GateFn::linear, "linear"}, {GateFn::sqrt, "sqrt"}};
}  // namespace

const char* name_of(NormKind norm) { return enum_name(norm, kNorms); }
const char* name_of(PosEncoding pos) { return enum_name(pos, kPositions); }
const char* name_of(Activation act) { return enum_name(act, kActivations); }
const char* name_of(RouterScore score) { return enum_name(score, kRouterScores); }
const char* name_of(GateFn fn) { return enum_name(fn, kGateFns); }

bool ModelConfig::has_moe() const {
  for (int64_t l = 0; l < L; ++l)
    if (is_moe_block(l)) return true;
  return false;
}

std::vector<KeySpec> model_config_keys() {
  const ModelConfig d;
  const auto i = [](int64_t v) { return std::to_string(v); };
  const auto f = [](double v) { return fmt::format("{}", v); };
  const auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  return {
      {"model.vocab", KeyType::Int, i(d.vocab), "vocabulary size V"},
      {"model.seq", KeyType::Int, i(d.seq), "context length T"},
      {"model.N", KeyType::Int, i(d.N), "width (d_model)"},
      {"model.L", KeyType::Int, i(d.L), "depth (transformer blocks)"},
      {"model.d_head", KeyType::Int, i(d.d_head), "head dimension (fixed; heads = N / d_head)"},
      {"model.M", KeyType::Int, i(d.M), "experts per MoE layer"},
      {"model.K", KeyType::Int, i(d.K), "active experts per token (top-K)"},
      {"model.Ne", KeyType::Int, i(d.Ne), "expert hidden width"},
      {"model.norm", KeyType::String, name_of(d.norm), "layernorm | rmsnorm"},
      {"model.norm_eps", KeyType::Float, f(d.norm_eps), "epsilon inside every norm"},
      {"model.pos", KeyType::String, name_of(d.pos), "learned | rope"},
      {"model.rope_base", KeyType::Float, f(d.rope_base), "RoPE frequency base"},
      {"model.qk_norm", KeyType::Bool, b(d.qk_norm), "RMSNorm on q and k per head"},
      {"model.act", KeyType::String, name_of(d.act), "expert/FFN activation: gelu | swiglu"},
      {"model.tied_embed", KeyType::Bool, b(d.tied_embed), "tie the readout to the embedding"},
      {"model.linear_bias", KeyType::Bool, b(d.linear_bias), "biases on attention and MLP linears"},
      {"model.moe_every", KeyType::Int, i(d.moe_every),
       "MoE FFN in every k-th block (1 all, 2 alternate with dense, 0 none)"},
      {"model.dense_Nf", KeyType::Int, i(d.dense_Nf), "dense FFN hidden width (0 = 4 N)"},
      {"model.shared_experts", KeyType::Int, i(d.shared_experts),
       "always-on experts per MoE layer"},
      {"model.shared_Ne", KeyType::Int, i(d.shared_Ne), "shared expert hidden width (0 = Ne)"},
      {"model.router_score", KeyType::String, name_of(d.router_score), "sigmoid | softmax"},
      {"model.gate_renorm", KeyType::Bool, b(d.gate_renorm), "renormalise the selected gates"},
      // Left out of stored configs at its default, so existing runs' configs stay as they were.
      {"model.gate_fn", KeyType::String, name_of(d.gate_fn),
       "expert weight: linear (the gate) | sqrt (its square root: HyperP's SqrtGate)", true},
      {"balance.bias_lr", KeyType::Float, f(d.bias_lr),
       "eta_bias of the bias rule b -= eta_bias (load - K/M); 0 turns it off"},
      {"balance.aux_weight", KeyType::Float, f(d.aux_weight), "Switch auxiliary loss weight"},
      {"balance.z_weight", KeyType::Float, f(d.z_weight), "router z-loss weight"},
  };
}

ModelConfig model_config_from(const Config& c) {
  ModelConfig m;
  m.vocab = c.get_int("model.vocab");
  m.seq = c.get_int("model.seq");
  m.N = c.get_int("model.N");
  m.L = c.get_int("model.L");
  m.d_head = c.get_int("model.d_head");
  m.M = c.get_int("model.M");
  m.K = c.get_int("model.K");
  m.Ne = c.get_int("model.Ne");
  m.norm = parse_enum("model.norm", c.get_string("model.norm"), kNorms);
  m.norm_eps = c.get_float("model.norm_eps");
  m.pos = parse_enum("model.pos", c.get_string("model.pos"), kPositions);
  m.rope_base = c.get_float("model.rope_base");
  m.qk_norm = c.get_bool("model.qk_norm");
  m.act = parse_enum("model.act", c.get_string("model.act"), kActivations);
  m.tied_embed = c.get_bool("model.tied_embed");
  m.linear_bias = c.get_bool("model.linear_bias");
  m.moe_every = c.get_int("model.moe_every");
  m.dense_Nf = c.get_int("model.dense_Nf");
  m.shared_experts = c.get_int("model.shared_experts");
  m.shared_Ne = c.get_int("model.shared_Ne");
  m.router_score =
      parse_enum("model.router_score", c.get_string("model.router_score"), kRouterScores);
  m.gate_renorm = c.get_bool("model.gate_renorm");
  m.gate_fn = parse_enum("model.gate_fn", c.get_string("model.gate_fn"), kGateFns);
  m.bias_lr = c.get_float("balance.bias_lr");
  m.aux_weight = c.get_float("balance.aux_weight");
  m.z_weight = c.get_float("balance.z_weight");
  validate(m);
  return m;
}

void validate(const ModelConfig& m) {
  require_positive("model.vocab", m.vocab);
  require_positive("model.seq", m.seq);
  require_positive("model.N", m.N);
  require_positive("model.L", m.L);
  require_positive("model.d_head", m.d_head);
  require_positive("model.M", m.M);
  require_positive("model.K", m.K);
  require_positive("model.Ne", m.Ne);
  if (m.N % m.d_head != 0)
    fail("model.N: must be divisible by model.d_head (N {} is not a multiple of d_head {})", m.N,
         m.d_head);
  if (m.K > m.M) fail("model.K: must not exceed model.M (K {} > M {})", m.K, m.M);
  // Sizes beyond int32 are absurd for any model here; bounding them keeps the helpers above
  // (4 N, 2 Ne) and every two-factor product far from int64's limit.
  for (const auto& [key, value] : {std::pair<const char*, int64_t>{"model.vocab", m.vocab},
                                   {"model.seq", m.seq},
                                   {"model.N", m.N},
                                   {"model.L", m.L},
                                   {"model.d_head", m.d_head},
                                   {"model.M", m.M},
                                   {"model.K", m.K},
                                   {"model.Ne", m.Ne},
                                   {"model.dense_Nf", m.dense_Nf},
                                   {"model.shared_experts", m.shared_experts},
                                   {"model.shared_Ne", m.shared_Ne}})
    if (value > kMaxDimension) fail("{}: at most {} (got {})", key, kMaxDimension, value);
  if (m.pos == PosEncoding::rope && m.d_head % 2 != 0)
    fail("model.d_head: must be even with model.pos = rope (got {})", m.d_head);
  if (!(m.norm_eps > 0)) fail("model.norm_eps: must be positive (got {})", m.norm_eps);
  if (!(m.rope_base > 1)) fail("model.rope_base: must exceed 1 (got {})", m.rope_base);
  require_non_negative("model.moe_every", m.moe_every);
  require_non_negative("model.dense_Nf", m.dense_Nf);
  require_non_negative("model.shared_experts", m.shared_experts);
  require_non_negative("model.shared_Ne", m.shared_Ne);
  require_non_negative("balance.bias_lr", m.bias_lr);
  require_non_negative("balance.aux_weight", m.aux_weight);
  require_non_negative("balance.z_weight", m.z_weight);
  // Every tensor costs bookkeeping (names, plans, LR rows) in every command, even those that
  // allocate no parameters; an absurd depth would exhaust memory building the list.
  const LayoutCounts counts = layout_counts(m);
  if (counts.tensors > kMaxTensors)
    fail("model.L: {} blocks make {} tensors, more than the {} moet's layout holds", m.L,
         counts.tensors, kMaxTensors);
  if (counts.parameters_overflow)
    fail("model: the parameter count of N {} Ne {} M {} L {} vocab {} overflows int64", m.N, m.Ne,
         m.M, m.L, m.vocab);
}

}  // namespace moet
