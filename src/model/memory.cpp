#include "model/memory.h"

#include <algorithm>

#include "core/byte_size.h"
#include "core/checked_size.h"
#include "kernels/attention.h"
#include "kernels/flash_attention.h"
#include "kernels/flash_attention_bf16.h"
#include "kernels/onednn_matmul.h"
#include "model/layout.h"
#include "model/readout_rows.h"

namespace moet {

namespace {

// Counts below are in 4-byte words: activations are float, token ids and routing indices int32.
constexpr int64_t kWord = 4;

CheckedSize max_of(std::initializer_list<CheckedSize> sizes) {
  CheckedSize out = 0;
  for (const CheckedSize s : sizes) {
    if (s.overflow()) return s;
    if (s.value() > out.value()) out = s;
  }
  return out;
}

enum class FfnKind { dense, moe };

// Words of the one chunk of logits the readout holds (model/readout_rows.h) for R rows; rows past
// int64 are far more than a chunk.
CheckedSize logits_chunk_words(const ModelConfig& c, CheckedSize R) {
  return CheckedSize(R.overflow() ? kReadoutRows : readout_chunk_rows(R.value())) * c.vocab;
}

// Words of one block's attention sublayer activations (model/activations.h, AttentionActs).
CheckedSize attention_words(const ModelConfig& c, int64_t B, AttentionKernel attention) {
  const CheckedSize R = CheckedSize(B) * c.seq, N = c.N, H = c.heads();
  const CheckedSize RN = R * N;
  CheckedSize words = RN * 5 + R * 2;  // ln1 + norm statistics, q/k/v, att
  if (c.qk_norm || c.pos == PosEncoding::rope) words += RN * 2;
  if (c.qk_norm) words += R * H * 2;
  if (attention == AttentionKernel::flash) return words + CheckedSize(B) * H * c.seq;  // lse
  return words + CheckedSize(B) * H * c.seq * c.seq;  // attention probabilities
}

// Words of one MoE block's routing (RoutingActs), which every block keeps.
CheckedSize routing_words(const ModelConfig& c, int64_t B) {
  const CheckedSize R = CheckedSize(B) * c.seq, A = R * c.K;
  CheckedSize words = R * c.M * 2 + A * 5 + CheckedSize(c.M + 1) * 2;  // scores, picks, offsets
  if (c.aux_weight > 0 || c.z_weight > 0) words += R * c.M;
  if (c.z_weight > 0) words += R;
  return words;
}

// Words of one block's FFN activations besides its routing (FfnActs).
CheckedSize ffn_words(const ModelConfig& c, int64_t B, FfnKind ffn) {
  const CheckedSize R = CheckedSize(B) * c.seq, N = c.N;
  const CheckedSize words = R * N + R * 2;  // ln2 + norm statistics
  if (ffn == FfnKind::dense) return words + R * (c.up_cols(c.dense_width()) + c.dense_width());
  const CheckedSize A = R * c.K, S = c.shared_experts, Ns = c.shared_width();
  return words + A * N * 2 + A * (c.up_cols(c.Ne) + c.Ne) +  // grouped inputs, expert pre/act/out
         S * R * (c.up_cols(c.shared_width()) + Ns);
}

// Words of the block activations of the whole model: per block what recompute keeps, once what
// it drops (model/recompute.h). attention is resolved (strips or flash).
CheckedSize block_activation_words(const ModelConfig& c, int64_t B, AttentionKernel attention,
                                   Recompute recompute) {
  const CheckedSize RN = CheckedSize(B) * c.seq * c.N;  // the mid-block residual stream
  const int64_t moe_blocks = c.moe_every > 0 ? c.L / c.moe_every : 0;
  const int64_t dense_blocks = c.L - moe_blocks;
  const CheckedSize attn = attention_words(c, B, attention), routing = routing_words(c, B);
  const CheckedSize moe_ffn = ffn_words(c, B, FfnKind::moe) + routing;
  const CheckedSize dense_ffn = ffn_words(c, B, FfnKind::dense);
  if (recompute == Recompute::block)
    return attn + RN + routing * moe_blocks + (moe_blocks > 0 ? moe_ffn : CheckedSize(0)) +
           (dense_blocks > 0 ? dense_ffn : CheckedSize(0));
  const CheckedSize kept = (RN + moe_ffn) * moe_blocks + (RN + dense_ffn) * dense_blocks;
  if (recompute == Recompute::attention) return kept + (c.L > 0 ? attn : CheckedSize(0));
  return kept + attn * c.L;
}

// Words of everything Model allocates besides parameters and gradients: activations of every
// block, the residual streams, a chunk of logits, and the backward scratch shared by the blocks.
// attention is resolved (strips or flash).
CheckedSize model_activation_words(const ModelConfig& c, int64_t B, AttentionKernel attention,
                                   Recompute recompute) {
  const CheckedSize R = CheckedSize(B) * c.seq, N = c.N, RN = R * N;
  const int64_t moe_blocks = c.moe_every > 0 ? c.L / c.moe_every : 0;
  CheckedSize words = block_activation_words(c, B, attention, recompute);
  words += RN * (c.L + 1) + RN * 4 + R * 4;  // residual streams, final norm, branch/dh/dfinal
  words += logits_chunk_words(c, R);
  // The backward scratch; the MLPs' and experts' gradients are written over their own forward
  // buffers (model/mlp.h, model/moe_layer.h), so they add nothing here.
  words += RN * 8;
  if (moe_blocks > 0) words += R * c.K + R * c.M * 2;  // gates, scores and router logits
  if (c.pos == PosEncoding::rope) words += CheckedSize(c.seq) * c.d_head;  // cos and sin tables
  return words + R * 6;  // token ids: the model's copy, the step's and the evaluation's batches
}

// The largest operand a bf16 GEMM rounds into a scratch slot (kernels/mixed_gemm.h): a
// chunk of logits gradient, or a whole grouped-expert or MLP activation.
CheckedSize widest_bf16_operand(const ModelConfig& c, int64_t B) {
  const CheckedSize R = CheckedSize(B) * c.seq, A = R * c.K;
  const int64_t hidden = std::max({c.Ne, c.dense_width(), c.shared_width()});
  return max_of({logits_chunk_words(c, R), A * c.up_cols(c.Ne), A * c.N, R * c.up_cols(hidden)});
}

// One thread's attention tiles: attention_scratch_numel and flash_attention_scratch_numel for one
// thread, overflow-checked (tests/model/memory_test.cpp holds the two to what a Model allocates).
CheckedSize attention_scratch_words(const ModelConfig& c, AttentionKernel attention) {
  const CheckedSize T = c.seq;
  if (attention == AttentionKernel::strips) return T * c.seq + T * c.d_head;
  return T * c.d_head * 2 + CheckedSize(kFlashQueryBlock) * kFlashKeyBlock * 2 +
         std::max(c.seq, 2 * kFlashQueryBlock);
}

void add_part(MemoryEstimate& e, const std::string& name, CheckedSize bytes) {
  if (!bytes.overflow() && bytes.value() == 0) return;
  e.parts.push_back({name, bytes.overflow() ? 0 : bytes.value(), bytes.overflow()});
  if (bytes.overflow() && e.overflow.empty()) e.overflow = name;
}

}  // namespace

LayoutCounts layout_counts(const ModelConfig& c) {
  ModelConfig none = c, moe = c, dense = c;
  none.L = 0;
  moe.L = dense.L = 1;
  moe.moe_every = 1;
  dense.moe_every = 0;
  const std::vector<TensorInfo> base = model_tensors(none), moe_block = model_tensors(moe),
                                dense_block = model_tensors(dense);
  const int64_t moe_blocks = c.moe_every > 0 ? c.L / c.moe_every : 0;
  // The three layouts are small and built with checked offsets, so their own sizes are exact.
  const auto count = [&](auto size_of) {
    const int64_t base_size = size_of(base);
    return CheckedSize(base_size) + CheckedSize(size_of(moe_block) - base_size) * moe_blocks +
           CheckedSize(size_of(dense_block) - base_size) * (c.L - moe_blocks);
  };
  const CheckedSize tensors =
      count([](const std::vector<TensorInfo>& t) { return int64_t(t.size()); });
  const CheckedSize parameters = count(total_numel);
  // One expert's slice of an expert tensor, else the whole tensor, over the kinds of block used.
  int64_t widest_matrix = 0;
  const auto widen_to = [&](const std::vector<TensorInfo>& tensors) {
    for (const TensorInfo& t : tensors)
      widest_matrix = std::max(widest_matrix, t.numel / std::max<int64_t>(1, t.experts));
  };
  widen_to(base);
  if (moe_blocks > 0) widen_to(moe_block);
  if (c.L > moe_blocks) widen_to(dense_block);
  return {tensors.overflow() ? INT64_MAX : tensors.value(),
          parameters.overflow() ? 0 : parameters.value(), parameters.overflow(), widest_matrix};
}

MemoryEstimate estimate_training_memory(const ModelConfig& c, const MemoryPlan& plan) {
  const LayoutCounts layout = layout_counts(c);
  const CheckedSize params =
      layout.parameters_overflow ? CheckedSize(-1) : CheckedSize(layout.parameters);
  const CheckedSize param_bytes = params * kWord;
  const AttentionKernel attention = resolve_attention_kernel(plan.attention, c.seq);
  const CheckedSize activations =
      model_activation_words(c, plan.batch, attention, plan.recompute) * kWord;
  const int64_t threads = std::max<int64_t>(1, plan.threads);
  MemoryEstimate e;
  add_part(e, "parameters", param_bytes);
  add_part(e, "gradients", param_bytes);
  add_part(e, "optimizer", param_bytes * plan.optimizer_buffers);
  add_part(e, "activations", activations * (1 + plan.activation_copies));
  add_part(e, "attention scratch",
           CheckedSize(threads) * attention_scratch_words(c, attention) * kWord);
  if (plan.precision == Precision::bf16) {
    // The weight copy, three slots on the calling thread and on each thread that runs experts
    // side by side, each as large as the widest operand it rounds. Experts go to whichever thread
    // is free (model/moe_layer.cpp), so over a run every thread can hold expert-sized slots.
    const CheckedSize widest_operand = widest_bf16_operand(c, plan.batch);
    const CheckedSize slot = widest_operand * 2;
    const CheckedSize expert_rows =
        CheckedSize(plan.batch) * c.seq * std::max(c.N, c.up_cols(c.Ne));
    const CheckedSize expert_slot = expert_rows * 2;
    add_part(e, "bf16 copies", params * 2 + slot * 3 + expert_slot * 3 * threads);
    // Without a bf16 matmul, gemm_bf16 widens both operands into per-thread fp32 buffers that keep
    // the largest size seen (kernels/gemm.cpp): on the calling thread any operand, on the threads
    // running experts one expert's rows or weights.
    if (!onednn_has_bf16_matmul()) {
      const CheckedSize widest = max_of({widest_operand, layout.widest_matrix});
      const CheckedSize expert_widest = max_of({expert_rows, CheckedSize(c.N) * c.up_cols(c.Ne)});
      add_part(e, "bf16 widening", (widest + expert_widest * threads) * 2 * kWord);
    }
    // The bf16 attention core's per-thread scratch, where the model runs it (attention_block.cpp).
    if (attention == AttentionKernel::flash && bf16_attention_available())
      add_part(e, "bf16 attention scratch",
               CheckedSize(threads) * flash_attention_bf16_scratch_bytes(c.seq, c.d_head));
  }
  add_part(e, "parameter copies", param_bytes * plan.parameter_copies);
  add_part(e, "logit copies",
           CheckedSize(plan.batch) * c.seq * c.vocab * plan.logit_copies * kWord);
  add_part(e, "data", plan.data_bytes);
  add_part(e, "runtime", kRuntimeBytes);
  CheckedSize total = 0;
  for (const MemoryPart& p : e.parts) total += p.overflow ? CheckedSize(-1) : p.bytes;
  e.total = total.overflow() ? 0 : total.value();
  if (total.overflow() && e.overflow.empty()) e.overflow = "total";
  std::stable_sort(e.parts.begin(), e.parts.end(), [](const MemoryPart& a, const MemoryPart& b) {
    return (a.overflow && !b.overflow) || (a.overflow == b.overflow && a.bytes > b.bytes);
  });
  return e;
}

std::string MemoryEstimate::breakdown() const {
  std::string out;
  for (size_t i = 0; i < parts.size() && i < 3; ++i)
    out +=
        fmt::format("{}{} {}", i ? ", " : "", parts[i].name,
                    parts[i].overflow ? std::string("past int64") : format_bytes(parts[i].bytes));
  return out;
}

}  // namespace moet
