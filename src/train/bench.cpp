#include "train/bench.h"

#include <omp.h>
#include <sys/resource.h>

#include "core/error.h"
#include "core/profile.h"
#include "core/rng.h"
#include "core/timer.h"
#include "kernels/gemm.h"
#include "kernels/peak.h"
#include "kernels/threads.h"
#include "model/flops.h"
#include "model/model.h"
#include "optim/optimizer.h"
#include "param/resolve.h"
#include "train/data_parallel.h"
#include "train/run_memory.h"
#include "train/train_config.h"

namespace moet {

std::vector<std::string> bench_preset_names() { return {"tiny", "small"}; }

std::vector<std::string> bench_preset(const std::string& name) {
  const std::vector<std::string> common = {
      "model.norm=layernorm", "model.pos=learned",          "model.tied_embed=true",
      "model.act=gelu",       "model.router_score=sigmoid", "param.preset=completep-moe",
      "optim.name=adam"};
  std::vector<std::string> shape;
  if (name == "tiny")
    shape = {"model.N=128",  "model.L=4",       "model.d_head=32", "model.M=8",     "model.K=2",
             "model.Ne=128", "model.vocab=256", "model.seq=256",   "train.batch=16"};
  else if (name == "small")
    shape = {"model.N=512",  "model.L=4",        "model.d_head=64", "model.M=16",   "model.K=4",
             "model.Ne=512", "model.vocab=8192", "model.seq=512",   "train.batch=8"};
  else
    fail("bench config '{}' is not one of tiny|small", name);
  shape.insert(shape.end(), common.begin(), common.end());
  return shape;
}

nlohmann::json BenchResult::to_json() const {
  return {{"config", name},
          {"steps", steps},
          {"tokens_per_step", tokens_per_step},
          {"seconds", seconds},
          {"tokens_per_s", tokens_per_s},
          {"gflops_per_s", gflops_per_s},
          {"peak_gflops_per_s", peak_gflops_per_s},
          {"peak_fraction", peak_fraction},
          {"peak_unit", peak_unit},
          {"precision", precision},
          {"recompute", recompute},
          {"bf16_peak_unit", bf16_peak_unit},
          {"bf16_peak_gflops_per_s", bf16_peak_gflops_per_s},
          {"bf16_peak_fraction", bf16_peak_fraction},
          {"peak_rss_mb", peak_rss_mb},
          {"memory_estimate_mb", memory_estimate_mb},
          {"threads", threads},
          {"params", params},
          {"active_params", active_params},
          {"phase_seconds", nlohmann::json(phase_seconds)},
          {"gemm_builds", gemm_builds},
          {"ranks", ranks},
          {"bytes_sent_per_step", bytes_sent_per_step}};
}

BenchResult run_benchmark(const std::string& name, const Config& config, int64_t steps,
                          int64_t warmup_steps) {
  dist::SingleWorld alone;
  return run_benchmark(name, config, steps, warmup_steps, alone);
}

BenchResult run_benchmark(const std::string& name, const Config& config, int64_t steps,
                          int64_t warmup_steps, dist::World& world) {
  const ModelConfig mc = model_config_from(config);
  const TrainConfig tc = train_config_from(config);
  use_threads(tc.threads);
  const RunMemory memory = run_memory(config, RunKind::bench);
  memory.require_fits();
  const param::Parameterization p = param::resolve_parameterization(config);
  DataParallel ranks(world, mc, tc.batch, tc.expert_parallel);
  Model<float> model(mc, p.plan, ranks.rows().count, tc.attention, tc.recompute, ranks.groups());
  model.set_precision(tc.precision);
  model.init(uint64_t(tc.seed));
  Optimizer optimizer = ranks.make_optimizer(optim_config_from(config), model.tensors(), p.hyper);

  // Random tokens: throughput does not depend on the data, only on routing balance, which a
  // fresh router with the bias rule keeps near uniform.
  Rng rng(uint64_t(tc.seed), 17);
  const int64_t global_rows = tc.batch * mc.seq, first = ranks.rows().begin * mc.seq;
  std::vector<int32_t> inputs(static_cast<size_t>(global_rows)), targets(inputs.size());
  const auto step = [&] {
    for (auto& t : inputs) t = int32_t(rng.below(uint64_t(mc.vocab)));
    for (auto& t : targets) t = int32_t(rng.below(uint64_t(mc.vocab)));
    model.zero_grad();
    model.forward_train(inputs.data() + first, targets.data() + first, 1.0f / float(ranks.ranks()));
    model.backward();
    const float* grads = ranks.reduce_scatter(model.grads());
    {
      PhaseScope scope(Phase::optimizer);
      optimizer.step(ranks.owned_params(model.params()), grads, 1.0);
    }
    ranks.all_gather(model.params());
  };
  for (int64_t i = 0; i < warmup_steps; ++i) step();
  const int64_t builds_before = gemm_cache_stats().misses;
  ranks.reset_traffic();
  profile::set_enabled(true);
  const double start = now_s();
  for (int64_t i = 0; i < steps; ++i) step();
  const double seconds = now_s() - start;
  const int64_t bytes_sent = ranks.bytes_sent();
  const auto phase_seconds = profile::seconds();
  profile::set_enabled(false);

  BenchResult r;
  r.name = name;
  r.steps = steps;
  r.tokens_per_step = global_rows;
  r.seconds = seconds;
  r.tokens_per_s = double(steps * global_rows) / seconds;
  r.gflops_per_s = training_flops(mc, steps * global_rows) / seconds / 1e9;
  // Every rank measures at the same time: the peak of all the ranks' threads together.
  r.peak_gflops_per_s = measure_fp32_peak_gflops() * ranks.ranks();
  r.peak_fraction = r.gflops_per_s / r.peak_gflops_per_s;
  r.peak_unit = fp32_vector_unit();
  r.precision = precision_name(tc.precision);
  r.recompute = recompute_name(tc.recompute);
  if (tc.precision == Precision::bf16) {
    const Bf16Unit unit = fastest_bf16_unit();
    r.bf16_peak_unit = bf16_unit_name(unit);
    r.bf16_peak_gflops_per_s = measure_bf16_peak_gflops(unit) * ranks.ranks();
    r.bf16_peak_fraction =
        r.bf16_peak_gflops_per_s > 0 ? r.gflops_per_s / r.bf16_peak_gflops_per_s : 0.0;
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  r.peak_rss_mb = double(usage.ru_maxrss) / 1024.0;
  r.memory_estimate_mb = double(memory.estimate.total) / double(1 << 20);
  r.threads = omp_get_max_threads();
  r.params = total_numel(p.tensors);
  r.active_params = active_numel(mc, p.tensors);
  for (size_t i = 0; i < phase_seconds.size(); ++i)
    r.phase_seconds.emplace_back(phase_name(Phase(i)), phase_seconds[i]);
  r.gemm_builds = gemm_cache_stats().misses - builds_before;
  r.ranks = ranks.ranks();
  r.bytes_sent_per_step = steps > 0 ? bytes_sent / steps : 0;
  return r;
}

}  // namespace moet
