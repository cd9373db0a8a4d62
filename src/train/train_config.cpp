#include "train/train_config.h"

#include "core/byte_size.h"
#include "core/checked_size.h"
#include "core/error.h"

namespace moet {

std::vector<KeySpec> train_config_keys() {
  const TrainConfig d;
  const auto i = [](int64_t v) { return std::to_string(v); };
  return {
      {"train.steps", KeyType::Int, i(d.steps), "optimizer steps"},
      {"train.batch", KeyType::Int, i(d.batch), "sequences per micro-batch (B)"},
      {"train.accum", KeyType::Int, i(d.accum), "micro-batches per step (gradient accumulation)"},
      {"train.seed", KeyType::Int, i(d.seed), "seed of the initialisation and the data order"},
      {"train.eval_every", KeyType::Int, i(d.eval_every), "validate every n steps (0: at the end)"},
      {"train.eval_batches", KeyType::Int, i(d.eval_batches), "batches per validation pass"},
      {"train.log_every", KeyType::Int, i(d.log_every), "write a metrics line every n steps"},
      {"train.ckpt_every", KeyType::Int, i(d.ckpt_every),
       "checkpoint every n steps (0: at the end)"},
      {"train.threads", KeyType::Int, i(d.threads),
       fmt::format("OpenMP threads (0: all; at most {})", kMaxThreads)},
      {"train.diverge_factor", KeyType::Float, fmt::format("{}", d.diverge_factor),
       "diverged when, past step 10, the loss's moving average (weight 0.1 per step) exceeds "
       "this times the first step's loss, or at a loss or gradient that is not finite"},
      {"train.save", KeyType::Bool, d.save ? "true" : "false", "write checkpoints"},
      {"train.precision", KeyType::String, precision_name(d.precision),
       "GEMM number format: fp32 | bf16 (mixed precision, fp32 master weights; model/precision.h)"},
      {"train.attention", KeyType::String, attention_kernel_name(d.attention),
       "attention kernel: auto | strips (keeps the T x T softmax) | flash (recomputes it; memory "
       "linear in T); auto picks by model.seq (model/attention_kernel.h)",
       true},
      {"train.recompute", KeyType::String, recompute_name(d.recompute),
       "activations to compute again in the backward pass instead of keeping: none | attention "
       "(each block's attention sublayer) | block (whole blocks); same numbers, less memory, more "
       "compute (model/recompute.h)",
       true},
      {"train.max_memory", KeyType::String, "auto",
       "memory a run may use, e.g. 8GiB; auto: what the machine has available (runs whose "
       "estimate exceeds it are refused at start)",
       true},
      {"train.expert_parallel", KeyType::Int, i(d.expert_parallel),
       "E: ranks that split every MoE layer's experts (must divide model.M and the rank count; "
       "the other R / E ranks are data parallel)",
       true},
  };
}

const std::vector<std::string>& resumable_train_keys() {
  static const std::vector<std::string> keys = {
      "train.steps",      "train.eval_every",     "train.eval_batches",   "train.log_every",
      "train.ckpt_every", "train.threads",        "train.diverge_factor", "train.save",
      "train.recompute",  "train.expert_parallel"};
  return keys;
}

TrainConfig train_config_from(const Config& c) {
  TrainConfig t;
  t.steps = c.get_int("train.steps");
  t.batch = c.get_int("train.batch");
  t.accum = c.get_int("train.accum");
  t.seed = c.get_int("train.seed");
  t.eval_every = c.get_int("train.eval_every");
  t.eval_batches = c.get_int("train.eval_batches");
  t.log_every = c.get_int("train.log_every");
  t.ckpt_every = c.get_int("train.ckpt_every");
  t.threads = c.get_int("train.threads");
  t.diverge_factor = c.get_float("train.diverge_factor");
  t.save = c.get_bool("train.save");
  t.precision = precision_from_name(c.get_string("train.precision"));
  t.expert_parallel = c.get_int("train.expert_parallel");
  t.attention = attention_kernel_from_name(
      require_choice("train.attention", c.get_string("train.attention"), attention_kernel_names()));
  t.recompute = recompute_from_name(c.get_string("train.recompute"));
  require_positive("train.steps", t.steps);
  require_positive("train.batch", t.batch);
  require_positive("train.accum", t.accum);
  require_non_negative("train.seed", t.seed);
  require_non_negative("train.eval_every", t.eval_every);
  require_positive("train.eval_batches", t.eval_batches);
  require_positive("train.log_every", t.log_every);
  require_non_negative("train.ckpt_every", t.ckpt_every);
  require_non_negative("train.threads", t.threads);
  require_positive("train.expert_parallel", t.expert_parallel);
  if (t.threads > kMaxThreads)
    fail("train.threads: at most {} (got {}); 0 uses every core", kMaxThreads, t.threads);
  const std::string& max_memory = c.get_string("train.max_memory");
  if (max_memory != "auto") {
    t.max_memory = parse_byte_size(max_memory, "train.max_memory");
    if (t.max_memory == 0)
      fail("train.max_memory: must be positive or auto (got '{}')", max_memory);
  }
  if ((CheckedSize(t.batch) * t.accum * c.get_int("model.seq")).overflow())
    fail("train.accum: {} x {} sequences of {} tokens per step overflow int64", t.batch, t.accum,
         c.get_int("model.seq"));
  if (!(t.diverge_factor > 1))
    fail("train.diverge_factor: must exceed 1 (got {})", t.diverge_factor);
  return t;
}

}  // namespace moet
