#include "model/model.h"

#include <omp.h>

#include <algorithm>
#include <optional>
#include <type_traits>

#include "core/error.h"
#include "core/profile.h"
#include "kernels/bf16.h"
#include "kernels/embedding.h"
#include "kernels/gemm.h"
#include "kernels/linear.h"
#include "kernels/mixed_gemm.h"
#include "kernels/parallel.h"
#include "kernels/xent.h"
#include "model/attention_block.h"
#include "model/ffn_block.h"
#include "model/init.h"
#include "model/norm_layer.h"

namespace moet {

template <typename T>
Weight<T> Model<T>::weight(int index) {
  if (index < 0) return {};  // a tensor this config does not have
  const TensorInfo& t = layout_.tensors[size_t(index)];
  return Weight<T>{params_.data() + t.offset, grads_.data() + t.offset,
                   T(plan_.tensors[size_t(index)].multiplier)};
}

template <typename T>
NormWeights<T> Model<T>::norm_weights(const NormIndex& index) {
  return {weight(index.gain), weight(index.bias)};
}

template <typename T>
MlpWeights<T> Model<T>::mlp_weights(const MlpIndex& index, int64_t hidden) {
  return {weight(index.up), weight(index.up_bias), weight(index.down), weight(index.down_bias),
          hidden};
}

template <typename T>
typename Model<T>::BlockBuffers Model<T>::block_buffers(int64_t l) {
  BlockActs<T>& a = acts_[size_t(l)];
  if (recompute_ == Recompute::none) return {&a.attn, a.resid_mid.data(), &a.ffn};
  if (recompute_ == Recompute::attention) return {&attn_workspace_, a.resid_mid.data(), &a.ffn};
  return {&attn_workspace_, resid_mid_workspace_.data(), &ffn_workspace_[blocks_[l].moe]};
}

template <typename T>
void Model<T>::allocate_activations() {
  const ModelConfig& c = config_;
  const size_t rn = size_t(rows() * c.N);
  acts_.resize(size_t(c.L));
  if (recompute_ != Recompute::none) allocate_attention(attn_workspace_, c, B_, attention_);
  if (recompute_ == Recompute::block) {
    resid_mid_workspace_.assign(rn, T(0));
    for (int64_t l = 0; l < c.L; ++l) {
      FfnActs<T>& ws = ffn_workspace_[blocks_[l].moe];
      if (ws.ln.out.empty()) allocate_ffn(ws, c, B_, blocks_[l].moe);
      acts_[l].ffn.routing = ws.routing;  // what a block keeps: its routing, for probes
    }
    recompute_stats_.counts.resize(size_t(c.M));
    return;
  }
  for (int64_t l = 0; l < c.L; ++l) {
    if (recompute_ == Recompute::none) allocate_attention(acts_[l].attn, c, B_, attention_);
    acts_[l].resid_mid.assign(rn, T(0));
    allocate_ffn(acts_[l].ffn, c, B_, blocks_[l].moe);
  }
}

template <typename T>
void Model<T>::recompute_block(const BlockContext<T>& ctx, int64_t l, const BlockBuffers& b) {
  const BlockWeights<T>& w = blocks_[size_t(l)];
  norm_forward(config_, w.ln1, b.attn->ln, resid_[l].data(), rows());
  if (recompute_ == Recompute::attention) {
    attention_acts_forward(ctx, w, *b.attn, scratch_);
    return;
  }
  attention_block_forward(ctx, w, *b.attn, branch_.data(), scratch_);
  residual_norm_forward(config_, w.ln2, b.ffn->ln, b.resid_mid, resid_[l].data(), branch_.data(),
                        T(plan_.block.residual_mult), rows());
  ffn_block_forward(ctx, w, *b.ffn, branch_.data(), w.moe ? &recompute_stats_ : nullptr);
}

template <typename T>
void Model<T>::forward_block(const BlockContext<T>& ctx, int64_t l, RoutingStats* stats) {
  const BlockWeights<T>& w = blocks_[size_t(l)];
  const BlockBuffers b = block_buffers(l);
  const T rm = T(plan_.block.residual_mult);
  attention_block_forward(ctx, w, *b.attn, branch_.data(), scratch_);
  residual_norm_forward(config_, w.ln2, b.ffn->ln, b.resid_mid, resid_[l].data(), branch_.data(),
                        rm, rows());
  ffn_block_forward(ctx, w, *b.ffn, branch_.data(), stats);
  // The add into the next block's input, fused with that block's first norm (or the final one).
  // Under recomputation the next block's attention buffers are this block's, which it no longer
  // reads.
  const bool last = l + 1 == config_.L;
  residual_norm_forward(config_, last ? final_norm_w_ : blocks_[size_t(l + 1)].ln1,
                        last ? final_norm_ : block_buffers(l + 1).attn->ln, resid_[l + 1].data(),
                        b.resid_mid, branch_.data(), rm, rows());
  if (recompute_ == Recompute::block) acts_[size_t(l)].ffn.routing = b.ffn->routing;
}

template <typename T>
Model<T>::Model(const ModelConfig& config, const ModelPlan& plan, int64_t batch,
                AttentionKernel attention, Recompute recompute, ParallelGroups groups)
    : config_(config),
      plan_(plan),
      layout_(model_layout(config, expert_shard(groups))),
      B_(batch),
      attention_(resolve_attention_kernel(attention, config.seq)),
      recompute_(recompute),
      groups_(groups) {
  validate(config_);
  validate_plan(layout_.tensors, plan_);
  if (B_ <= 0) fail("batch size must be positive (got {})", B_);
  const ModelConfig& c = config_;
  const int64_t n = total_numel(layout_.tensors);
  params_.assign(size_t(n), T(0));
  grads_.assign(size_t(n), T(0));

  embed_ = weight(layout_.embed);
  pos_embed_ = weight(layout_.pos_embed);
  unembed_ = weight(layout_.unembed);
  final_norm_w_ = norm_weights(layout_.final_norm);
  for (int64_t l = 0; l < c.L; ++l) {
    const BlockIndex& i = layout_.blocks[size_t(l)];
    BlockWeights<T> w;
    w.ln1 = norm_weights(i.ln1);
    w.ln2 = norm_weights(i.ln2);
    w.wq = weight(i.wq);
    w.wk = weight(i.wk);
    w.wv = weight(i.wv);
    w.wo = weight(i.wo);
    w.bq = weight(i.bq);
    w.bk = weight(i.bk);
    w.bv = weight(i.bv);
    w.bo = weight(i.bo);
    w.moe = c.is_moe_block(l);
    if (w.moe) {
      w.router = weight(i.router);
      w.route_bias = weight(i.route_bias);
      w.experts = mlp_weights(i.experts, c.Ne);
      if (c.shared_experts > 0) w.shared = mlp_weights(i.shared, c.shared_width());
    } else {
      w.ffn = mlp_weights(i.ffn, c.dense_width());
    }
    blocks_.push_back(w);
  }
  if (c.pos == PosEncoding::rope) rope_ = make_rope_table<T>(c.seq, c.d_head, c.rope_base);
  if (!groups_.tokens) groups_.tokens = groups_.experts;
  if (c.has_moe() && expert_shard(groups_).ranks > 1)
    experts_ = std::make_unique<ExpertDispatch<T>>(*groups_.experts, c.M, c.N);

  const int64_t R = rows(), N = c.N;
  inputs_.assign(size_t(R), 0);
  targets_.assign(size_t(R), 0);
  resid_.assign(size_t(c.L + 1), std::vector<T>(size_t(R * N), T(0)));
  allocate_activations();
  final_norm_.resize(R, N);
  set_readout_rows(kReadoutRows);
  token_loss_.assign(size_t(R), T(0));
  branch_.assign(size_t(R * N), T(0));
  dh_.assign(size_t(R * N), T(0));
  dfinal_.assign(size_t(R * N), T(0));

  BackwardScratch<T>& s = scratch_;
  for (auto* v : {&s.dbranch, &s.dln, &s.datt, &s.dq, &s.dk, &s.dv, &s.dq_lin, &s.dk_lin})
    v->assign(size_t(R * N), T(0));
  if (c.has_moe()) {
    s.dgates.assign(size_t(R * c.K), T(0));
    s.dscores.assign(size_t(R * c.M), T(0));
    s.drouter.assign(size_t(R * c.M), T(0));
  }
  // Sized for the threads of the model's owner at construction; more threads later are capped.
  s.attn_threads = omp_get_max_threads();
  s.attn.assign(size_t(attention_block_scratch_numel(attention_, c, s.attn_threads)), T(0));
  routing_.resize(size_t(std::count_if(blocks_.begin(), blocks_.end(),
                                       [](const BlockWeights<T>& b) { return b.moe; })));
}

template <typename T>
void Model<T>::init(uint64_t seed) {
  init_parameters<T>(layout_.tensors, plan_, seed, params_.data());
}

template <typename T>
void Model<T>::set_precision(Precision precision) {
  if (precision == Precision::bf16 && !std::is_same_v<T, float>)
    fail("train.precision = bf16 needs a float model");
  precision_ = precision;
  params_bf16_.assign(precision == Precision::bf16 ? params_.size() : 0, 0);
  attach_bf16_weights();
}

template <typename T>
void Model<T>::attach_bf16_weights() {
  const auto attach = [&](Weight<T>& w) {
    w.bf16 =
        (w && !params_bf16_.empty()) ? params_bf16_.data() + (w.value - params_.data()) : nullptr;
  };
  const auto attach_mlp = [&](MlpWeights<T>& m) {
    attach(m.up);
    attach(m.down);
  };
  // The embedding's GEMM is the tied readout; the router stays in fp32.
  attach(embed_);
  attach(unembed_);
  for (BlockWeights<T>& b : blocks_) {
    for (Weight<T>* w : {&b.wq, &b.wk, &b.wv, &b.wo}) attach(*w);
    attach_mlp(b.ffn);
    attach_mlp(b.experts);
    attach_mlp(b.shared);
  }
}

template <typename T>
void Model<T>::zero_grad() {
  std::fill(grads_.begin(), grads_.end(), T(0));
}

template <typename T>
void Model<T>::set_readout_rows(int64_t rows) {
  MOET_CHECK(rows > 0);
  readout_rows_ = readout_chunk_rows(this->rows(), rows);
  logits_.assign(size_t(readout_rows_ * config_.vocab), T(0));
}

template <typename T>
void Model<T>::readout_gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k,
                            T alpha, const T* a, const uint16_t* a_bf16, int64_t lda, const T* b,
                            const uint16_t* b_bf16, int64_t ldb, T beta, T* c, int64_t ldc) const {
  if constexpr (std::is_same_v<T, float>)
    gemm_mixed(precision_ == Precision::bf16, trans_a, trans_b, m, n, k, alpha, {a, a_bf16}, lda,
               {b, b_bf16}, ldb, beta, c, ldc);
  else
    gemm<T>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template <typename T>
T Model<T>::readout_mult() const {
  // Tied: the embedding's own multiplier acts on the input side only.
  return T(plan_.block.readout_mult) * (unembed_ ? unembed_.mult : T(1));
}

template <typename T>
BlockContext<T> Model<T>::block_context() {
  return {config_, plan_.block,    config_.pos == PosEncoding::rope ? &rope_ : nullptr,
          B_,      experts_.get(), groups_.tokens};
}

template <typename T>
void Model<T>::readout_chunk(int64_t first, int64_t rows, std::optional<T> loss_scale) {
  const int64_t N = config_.N, V = config_.vocab;
  const T* x = final_norm_.out.data() + first * N;
  T* logits = logits_.data();
  if (unembed_)
    linear_forward<T>(logits, x, unembed_.value, {}, rows, N, V, readout_mult(), Accumulate::no,
                      unembed_.bf16);
  else  // logits = mult * x embed^T
    readout_gemm(Transpose::no, Transpose::yes, rows, V, N, readout_mult(), x, nullptr, N,
                 embed_.value, embed_.bf16, N, T(0), logits, V);
  const int32_t* targets = targets_.data() + first;
  softmax_xent_forward<T>(token_loss_.data() + first, logits, targets, rows, V);
  if (!loss_scale) return;
  // The loss is the last op, so its gradient is known now: the probabilities turn into d loss /
  // d logits in place, and the readout's backward follows while they are at hand.
  T* dlogits = logits;
  softmax_xent_backward<T>(dlogits, logits, targets, rows, V, *loss_scale / T(this->rows()));
  T* dx = dfinal_.data() + first * N;
  if (unembed_) {
    linear_backward<T>(dx, unembed_.grad, {}, dlogits, x, unembed_.value, rows, N, V,
                       readout_mult(), Accumulate::no, unembed_.bf16);
    return;
  }
  // dlogits is rounded once for both products in bf16.
  const uint16_t* dlogits_bf16 = nullptr;
  if constexpr (std::is_same_v<T, float>)
    if (embed_.bf16) dlogits_bf16 = round_to_bf16_scratch(dlogits, rows * V, Bf16Slot::caller);
  readout_gemm(Transpose::yes, Transpose::no, V, N, rows, readout_mult(), dlogits, dlogits_bf16, V,
               x, nullptr, N, T(1), embed_.grad, N);
  readout_gemm(Transpose::no, Transpose::no, rows, N, V, readout_mult(), dlogits, dlogits_bf16, V,
               embed_.value, embed_.bf16, N, T(0), dx, N);
}

template <typename T>
ForwardResult Model<T>::forward(const int32_t* inputs, const int32_t* targets) {
  return run_forward(inputs, targets, std::nullopt);
}

template <typename T>
ForwardResult Model<T>::forward_train(const int32_t* inputs, const int32_t* targets, T loss_scale) {
  return run_forward(inputs, targets, loss_scale);
}

template <typename T>
ForwardResult Model<T>::run_forward(const int32_t* inputs, const int32_t* targets,
                                    std::optional<T> loss_scale) {
  const ModelConfig& c = config_;
  const int64_t R = rows(), N = c.N, V = c.vocab;
  for (int64_t i = 0; i < R; ++i) {
    if (inputs[i] < 0 || inputs[i] >= V || targets[i] < 0 || targets[i] >= V)
      fail("token id {} is outside the vocabulary (model.vocab = {})",
           (inputs[i] < 0 || inputs[i] >= V) ? inputs[i] : targets[i], V);
  }
  std::copy(inputs, inputs + R, inputs_.begin());
  std::copy(targets, targets + R, targets_.begin());
  loss_scale_.reset();  // a backward() must follow the pass it belongs to
  if constexpr (std::is_same_v<T, float>) {
    if (precision_ == Precision::bf16) {
      // The weights as this pass sees them: the optimizer changed the fp32 masters since the last.
      PhaseScope scope(Phase::other);
      const int64_t n = int64_t(params_.size());
      constexpr int64_t kChunk = int64_t(1) << 16;
#pragma omp parallel for schedule(static) if (worth_parallel(n))
      for (int64_t i = 0; i < n; i += kChunk)
        float_to_bf16(params_.data() + i, params_bf16_.data() + i, std::min(kChunk, n - i));
    }
  }

  T* h0 = resid_[0].data();
  {
    PhaseScope scope(Phase::embed);
    embedding_forward<T>(h0, inputs, embed_.value, R, N, embed_.mult);
    if (pos_embed_) add_positions<T>(h0, pos_embed_.value, B_, c.seq, N, pos_embed_.mult);
  }

  const BlockContext<T> ctx = block_context();
  ForwardResult result;
  size_t moe_index = 0;
  norm_forward(c, blocks_[0].ln1, block_buffers(0).attn->ln, h0, R);  // model.L >= 1
  for (int64_t l = 0; l < c.L; ++l) {
    RoutingStats* stats = blocks_[l].moe ? &routing_[moe_index++] : nullptr;
    forward_block(ctx, l, stats);
    if (stats) {
      stats->layer = l;
      result.aux_loss += stats->aux_loss;
      result.z_loss += stats->z_loss;
    }
  }
  PhaseScope scope(Phase::readout);
  for (int64_t first = 0; first < R; first += readout_rows_)
    readout_chunk(first, std::min(readout_rows_, R - first), loss_scale);
  double sum = 0;
  for (const T v : token_loss_) sum += v;
  result.loss = sum / R;
  loss_scale_ = loss_scale;
  return result;
}

template <typename T>
void Model<T>::backward() {
  const ModelConfig& c = config_;
  const int64_t R = rows(), N = c.N;
  MOET_CHECK(loss_scale_.has_value());  // one backward per forward_train
  const T loss_scale = *loss_scale_;
  loss_scale_.reset();
  // forward_train left d loss / d final norm output in dfinal_ (the readout's backward).
  T* dh = dh_.data();
  std::fill(dh, dh + R * N, T(0));
  norm_backward(c, final_norm_w_, final_norm_, dh, dfinal_.data(), resid_[c.L].data(), R);

  const BlockContext<T> ctx = block_context();
  for (int64_t l = c.L - 1; l >= 0; --l) {
    const BlockBuffers b = block_buffers(l);
    // The last block's buffers still hold what its forward pass left there.
    if (recompute_ != Recompute::none && l != c.L - 1) recompute_block(ctx, l, b);
    ffn_block_backward(ctx, blocks_[l], *b.ffn, b.resid_mid, dh, loss_scale, scratch_);
    attention_block_backward(ctx, blocks_[l], *b.attn, resid_[l].data(), dh, scratch_);
  }
  PhaseScope scope(Phase::embed);
  embedding_backward<T>(embed_.grad, inputs_.data(), dh, R, N, embed_.mult);
  if (pos_embed_) positions_backward<T>(pos_embed_.grad, dh, B_, c.seq, N, pos_embed_.mult);
}

template class Model<float>;
template class Model<double>;

}  // namespace moet
