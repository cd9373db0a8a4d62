// ModelConfig: the shape and architecture options of one MoE transformer (keys model.*, balance.*).
//
// Names follow docs/design.md §1: N width, Ne expert hidden width, M experts, K active experts,
// L blocks. Only architecture lives here; every number that scales with shape (init std,
// multipliers, LRs) comes from the parameterization as a ModelPlan.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"

namespace moet {

// The closed choices of model.*, parsed once by model_config_from; name_of gives the config text.
enum class NormKind { layernorm, rmsnorm };
enum class PosEncoding { learned, rope };
enum class Activation { gelu, swiglu };  // gelu is the tanh form
enum class RouterScore { sigmoid, softmax };
// How a chosen expert's output is weighted: by its gate, or by the gate's square root (HyperP's
// SqrtGate, which keeps the output RMS constant across granularity; docs/sources.md
// [HYPERP-2603]).
enum class GateFn { linear, sqrt };

const char* name_of(NormKind norm);
const char* name_of(PosEncoding pos);
const char* name_of(Activation act);
const char* name_of(RouterScore score);
const char* name_of(GateFn fn);

struct ModelConfig {
  int64_t vocab = 2048;  // the bundled tokenizer's vocabulary
  int64_t seq = 128;     // T, the context length
  int64_t N = 128;
  int64_t L = 2;
  int64_t d_head = 32;
  int64_t M = 8;
  int64_t K = 2;
  int64_t Ne = 128;

  NormKind norm = NormKind::layernorm;
  double norm_eps = 1e-5;
  PosEncoding pos = PosEncoding::learned;
  double rope_base = 10000.0;
  bool qk_norm = false;  // RMSNorm (no gain) on q and k per head
  Activation act = Activation::gelu;
  bool tied_embed = true;
  bool linear_bias = false;  // biases on attention and expert/dense linears
  // MoE FFN in blocks l with (l + 1) % moe_every == 0; 1 = every block, 2 = dense/MoE
  // alternating, 0 = dense FFN everywhere.
  int64_t moe_every = 1;
  int64_t dense_Nf = 0;  // dense FFN hidden width; 0 means 4 N
  int64_t shared_experts = 0;
  int64_t shared_Ne = 0;  // 0 means Ne
  RouterScore router_score = RouterScore::sigmoid;
  bool gate_renorm = false;  // divide the selected gates by their sum
  GateFn gate_fn = GateFn::linear;

  // Balancing (combinable): paper 1's bias rule, Switch auxiliary loss, router z-loss.
  // eta_bias in b_i -= eta_bias (load_i - K/M); 0 disables. 0.1 balanced best of
  // {0.001, 0.01, 0.1} on the bundled data (docs/parameterization.md), as [P1-BIAS] also found.
  double bias_lr = 0.1;
  double aux_weight = 0.0;
  double z_weight = 0.0;

  int64_t heads() const { return N / d_head; }
  bool is_moe_block(int64_t layer) const { return moe_every > 0 && (layer + 1) % moe_every == 0; }
  int64_t dense_width() const { return dense_Nf > 0 ? dense_Nf : 4 * N; }
  int64_t shared_width() const { return shared_Ne > 0 ? shared_Ne : Ne; }
  // Columns of an up-projection: SwiGLU keeps gate and up side by side.
  int64_t up_cols(int64_t hidden) const { return act == Activation::swiglu ? 2 * hidden : hidden; }
  bool has_moe() const;
};

// The largest value of any size key (model.N, model.seq, model.vocab, ...).
constexpr int64_t kMaxDimension = (int64_t(1) << 31) - 1;

std::vector<KeySpec> model_config_keys();
// Reads and validates; throws Error naming the first bad key.
ModelConfig model_config_from(const Config& config);
// Throws Error naming the first bad field (used by model_config_from and by code that builds
// configs directly, e.g. tests and benchmarks), including a shape too large to lay out (sizes
// past kMaxDimension, more than kMaxTensors tensors, parameters past int64).
void validate(const ModelConfig& config);

}  // namespace moet
