// The memory estimate (model/memory.h): layout counts in O(1) of L that match the layout, the
// estimate against what constructing a Model really makes resident, overflow reported instead
// of wrapped, and validate() refusing shapes too large to lay out.
#include <gtest/gtest.h>
#include <malloc.h>
#include <omp.h>
#include <unistd.h>

#include <fstream>
#include <functional>

#include "../support/model_fixtures.h"
#include "core/error.h"
#include "kernels/flash_attention_bf16.h"
#include "kernels/onednn_matmul.h"
#include "model/memory.h"
#include "model/readout_rows.h"

namespace moet {
namespace {

std::vector<ModelConfig> architectures() {
  std::vector<ModelConfig> out;
  ModelConfig c = testing::small_config();
  out.push_back(c);
  c.moe_every = 2;
  c.L = 5;
  out.push_back(c);
  c.moe_every = 3;
  c.shared_experts = 2;
  c.shared_Ne = 20;
  c.act = Activation::swiglu;
  c.linear_bias = true;
  c.tied_embed = false;
  out.push_back(c);
  c.moe_every = 0;
  c.pos = PosEncoding::rope;
  c.norm = NormKind::rmsnorm;
  c.qk_norm = true;
  c.dense_Nf = 24;
  out.push_back(c);
  return out;
}

TEST(LayoutCounts, MatchTheLayoutWithoutBuildingIt) {
  for (const ModelConfig& c : architectures()) {
    const std::vector<TensorInfo> tensors = model_tensors(c);
    const LayoutCounts counts = layout_counts(c);
    EXPECT_EQ(counts.tensors, int64_t(tensors.size())) << c.moe_every;
    EXPECT_EQ(counts.parameters, total_numel(tensors)) << c.moe_every;
    EXPECT_FALSE(counts.parameters_overflow);
  }
}

int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * int64_t(sysconf(_SC_PAGE_SIZE));
}

int64_t part(const MemoryEstimate& e, const std::string& name) {
  for (const MemoryPart& p : e.parts)
    if (p.name == name) return p.bytes;
  return 0;
}

// Constructing a model allocates and zeroes every buffer the estimate counts for the model
// itself, so the resident memory it adds must match (the rest of a run lives elsewhere).
TEST(MemoryEstimate, TracksWhatAModelMakesResident) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's allocator and shadow memory add their own resident pages";
#endif
  // glibc raises its mmap threshold after large frees, after which big buffers come from heap
  // pages an earlier model left resident: pin it so every buffer is freshly mapped and counted.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  const std::pair<AttentionKernel, Recompute> kinds[] = {
      {AttentionKernel::strips, Recompute::none},
      {AttentionKernel::flash, Recompute::none},
      {AttentionKernel::flash, Recompute::attention},
      {AttentionKernel::strips, Recompute::block}};
  for (const ModelConfig& base : architectures())
    for (const auto& [attention, recompute] : kinds) {
      ModelConfig c = base;
      c.vocab = 2048;
      c.seq = 128;
      c.N = 128;
      c.d_head = 32;
      c.Ne = 128;
      MemoryPlan plan;
      plan.batch = 16;  // 2048 rows, past one chunk of logits
      plan.threads = omp_get_max_threads();
      plan.attention = attention;
      plan.recompute = recompute;
      const MemoryEstimate e = estimate_training_memory(c, plan);
      const int64_t model_parts = part(e, "parameters") + part(e, "gradients") +
                                  part(e, "activations") + part(e, "attention scratch");
      const int64_t before = resident_bytes();
      Model<float> model(c, testing::random_plan(c, 1), plan.batch, attention, recompute);
      const int64_t made = resident_bytes() - before;
      const std::string what =
          fmt::format("moe_every {} {} recompute {}", c.moe_every, attention_kernel_name(attention),
                      recompute_name(recompute));
      EXPECT_GT(made, 20 << 20) << "too small a model to measure";
      // Measured 0.991-0.998: the difference is each buffer's last page and the small vectors.
      EXPECT_GE(double(model_parts), 0.97 * double(made)) << what;
      EXPECT_LE(double(model_parts), 1.05 * double(made)) << what;
    }
}

// Recomputation drops block activations: the more it recomputes, the less the estimate, and with
// whole blocks recomputed the activations no longer grow with every block's.
TEST(MemoryEstimate, ShrinksWithRecomputation) {
  ModelConfig c = testing::small_config();
  c.L = 8;
  MemoryPlan plan;
  plan.batch = 4;
  const auto activations = [&](Recompute recompute, int64_t L) {
    MemoryPlan p = plan;
    p.recompute = recompute;
    ModelConfig shape = c;
    shape.L = L;
    return part(estimate_training_memory(shape, p), "activations");
  };
  EXPECT_LT(activations(Recompute::attention, 8), activations(Recompute::none, 8));
  EXPECT_LT(activations(Recompute::block, 8), activations(Recompute::attention, 8));
  // One more block adds its whole activations without recomputation, its input and routing with.
  const int64_t per_block_kept = activations(Recompute::none, 9) - activations(Recompute::none, 8);
  const int64_t per_block_recomputed =
      activations(Recompute::block, 9) - activations(Recompute::block, 8);
  EXPECT_LT(4 * per_block_recomputed, per_block_kept);
}

// The readout holds one chunk of logits (model/readout_rows.h), not [rows, vocab]: the vocabulary
// adds kReadoutRows rows of words to the activations of a batch with more rows than that, and
// all its rows for a smaller batch (held to a Model's residency by TracksWhatAModelMakesResident).
TEST(MemoryEstimate, HoldsOneChunkOfLogits) {
  ModelConfig c = testing::small_config();
  c.seq = 128;
  const auto activations = [&](int64_t vocab, int64_t batch) {
    ModelConfig shape = c;
    shape.vocab = vocab;
    MemoryPlan plan;
    plan.batch = batch;
    return part(estimate_training_memory(shape, plan), "activations");
  };
  ASSERT_GT(16 * 128, kReadoutRows);
  EXPECT_EQ(activations(2000, 16) - activations(1000, 16), kReadoutRows * 1000 * 4);
  EXPECT_EQ(activations(2000, 1) - activations(1000, 1), 128 * 1000 * 4);
}

// train.attention = auto: the strips below kFlashFromSeq, flash from it on, in the model and in
// its estimate alike.
TEST(MemoryEstimate, FollowsTheAutomaticAttentionKernel) {
  for (const int64_t seq : {kFlashFromSeq - 1, kFlashFromSeq}) {
    ModelConfig c = testing::small_config();
    c.seq = seq;
    const AttentionKernel want =
        seq < kFlashFromSeq ? AttentionKernel::strips : AttentionKernel::flash;
    EXPECT_EQ(Model<float>(c, testing::random_plan(c, 1), 1).attention_kernel(), want) << seq;
    MemoryPlan automatic, chosen;
    chosen.attention = want;
    EXPECT_EQ(estimate_training_memory(c, automatic).total,
              estimate_training_memory(c, chosen).total)
        << seq;
    chosen.attention =
        want == AttentionKernel::flash ? AttentionKernel::strips : AttentionKernel::flash;
    EXPECT_NE(estimate_training_memory(c, automatic).total,
              estimate_training_memory(c, chosen).total)
        << seq;
  }
}

TEST(MemoryEstimate, CountsOptimizerCopiesDataAndBf16) {
  const ModelConfig c = testing::small_config();
  MemoryPlan plan;
  const int64_t params = layout_counts(c).parameters;
  plan.optimizer_buffers = 2;
  plan.parameter_copies = 3;
  plan.data_bytes = 12345;
  const MemoryEstimate e = estimate_training_memory(c, plan);
  EXPECT_EQ(part(e, "parameters"), 4 * params);
  EXPECT_EQ(part(e, "optimizer"), 8 * params);
  EXPECT_EQ(part(e, "parameter copies"), 12 * params);
  EXPECT_EQ(part(e, "data"), 12345);
  EXPECT_EQ(part(e, "bf16 copies"), 0);
  plan.precision = Precision::bf16;
  EXPECT_GE(part(estimate_training_memory(c, plan), "bf16 copies"), 2 * params);
  int64_t sum = 0;
  for (const MemoryPart& p : e.parts) sum += p.bytes;
  EXPECT_EQ(e.total, sum);
  EXPECT_FALSE(e.overflows());
}

// Where oneDNN has no bf16 matmul, gemm_bf16 widens both operands into fp32 buffers per thread:
// counted there, at least both operands of the readout's GEMM ([vocab, N] and its input), and
// growing with the threads that run experts; nowhere else.
TEST(MemoryEstimate, CountsTheBf16WideningWhereTheCpuHasNoBf16Matmul) {
  const ModelConfig c = testing::small_config();
  MemoryPlan plan;
  const auto widening = [&](int64_t threads) {
    plan.threads = threads;
    return part(estimate_training_memory(c, plan), "bf16 widening");
  };
  EXPECT_EQ(widening(1), 0) << "fp32";
  plan.precision = Precision::bf16;
  if (onednn_has_bf16_matmul()) {
    EXPECT_EQ(widening(1), 0);
    return;
  }
  EXPECT_GE(widening(1), 2 * c.vocab * c.N * 4);
  EXPECT_GT(widening(2), widening(1));
}

// The bf16 attention core's per-thread scratch is counted where the model runs that core (a bf16
// model on the flash kernel, on a CPU with AMX) and nowhere else; absurd shapes overflow.
TEST(MemoryEstimate, CountsTheBf16AttentionScratchWhereTheCoreRuns) {
  ModelConfig c = testing::small_config();
  c.seq = 512;
  MemoryPlan plan;
  plan.threads = 2;
  plan.attention = AttentionKernel::flash;
  const auto scratch = [&] {
    return part(estimate_training_memory(c, plan), "bf16 attention scratch");
  };
  EXPECT_EQ(scratch(), 0) << "fp32";
  plan.precision = Precision::bf16;
  const CheckedSize per_thread = flash_attention_bf16_scratch_bytes(c.seq, c.d_head);
  ASSERT_FALSE(per_thread.overflow());
  // At least Q, K and V of one head packed in bf16.
  EXPECT_GE(per_thread.value(), 3 * c.seq * c.d_head * 2);
  EXPECT_EQ(scratch(), bf16_attention_available() ? 2 * per_thread.value() : 0);
  plan.attention = AttentionKernel::strips;
  EXPECT_EQ(scratch(), 0) << "strips";
  EXPECT_TRUE(flash_attention_bf16_scratch_bytes(kMaxDimension, kMaxDimension).overflow());
}

TEST(MemoryEstimate, ReportsOverflowInsteadOfWrapping) {
  ModelConfig c = testing::small_config();
  c.seq = kMaxDimension;  // the attention probabilities alone: B x H x T^2 words
  MemoryPlan plan;
  plan.batch = int64_t(1) << 20;
  plan.attention = AttentionKernel::strips;
  const MemoryEstimate e = estimate_training_memory(c, plan);
  EXPECT_TRUE(e.overflows());
  EXPECT_EQ(e.overflow, "activations");
  // Flash keeps no T^2 store: the same shape fits in int64 bytes (if in no machine), and only
  // a far larger batch overflows.
  plan.attention = AttentionKernel::flash;
  EXPECT_FALSE(estimate_training_memory(c, plan).overflows());
  plan.batch = int64_t(1) << 40;
  EXPECT_EQ(estimate_training_memory(c, plan).overflow, "activations");
}

std::string validation_error(const std::function<void(ModelConfig&)>& edit) {
  ModelConfig c = testing::small_config();
  edit(c);
  try {
    validate(c);
  } catch (const Error& e) {
    return e.what();
  }
  return "valid";
}

TEST(ModelValidation, RefusesShapesTooLargeToLayOut) {
  EXPECT_EQ(validation_error([](ModelConfig& c) { c.L = 100000000; }),
            "model.L: 100000000 blocks make 1200000004 tensors, more than the 262144 moet's "
            "layout holds");
  EXPECT_EQ(validation_error([](ModelConfig& c) { c.N = int64_t(1) << 40; }),
            "model.N: at most 2147483647 (got 1099511627776)");
  EXPECT_EQ(validation_error([](ModelConfig& c) { c.seq = int64_t(1) << 33; }),
            "model.seq: at most 2147483647 (got 8589934592)");
  // Each factor fits, their product does not.
  const std::string product = validation_error([](ModelConfig& c) {
    c.N = int64_t(1) << 30;
    c.M = c.Ne = kMaxDimension;
  });
  EXPECT_NE(product.find("takes the parameter count past int64"), std::string::npos) << product;
  EXPECT_EQ(validation_error([](ModelConfig&) {}), "valid");
}

}  // namespace
}  // namespace moet
