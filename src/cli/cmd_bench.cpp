// moet bench: training throughput of the fixed tiny/small models against the measured peak.
#include <fmt/format.h>

#include <memory>
#include <optional>

#include "cli/command.h"
#include "core/config.h"
#include "core/error.h"
#include "dist/agree.h"
#include "dist/guard.h"
#include "dist/launch.h"
#include "train/bench.h"
#include "train/schema.h"

namespace moet::cli {
namespace {

void print_bench(const BenchResult& r, bool json) {
  if (json) {
    fmt::print("{}\n", r.to_json().dump());
  } else {
    fmt::print("{}: {} steps of {} tokens in {:.2f} s on {} threads ({}{})\n", r.name, r.steps,
               r.tokens_per_step, r.seconds, r.threads, r.precision,
               r.recompute == "none" ? "" : ", recompute " + r.recompute);
    if (r.ranks > 1)
      fmt::print("  data parallel: {} ranks of {} threads; rank 0 sent {} bytes per step\n",
                 r.ranks, r.threads, r.bytes_sent_per_step);
    fmt::print("  {:.0f} tokens/s, {:.1f} GFLOP/s = {:.1f}% of the measured fp32 peak "
               "({:.0f} GFLOP/s, {})\n",
               r.tokens_per_s, r.gflops_per_s, 100 * r.peak_fraction, r.peak_gflops_per_s,
               r.peak_unit);
    if (r.bf16_peak_gflops_per_s > 0)
      fmt::print("  precision bf16: {:.1f}% of the measured bf16 peak ({}: {:.0f} GFLOP/s)\n",
                 100 * r.bf16_peak_fraction, r.bf16_peak_unit, r.bf16_peak_gflops_per_s);
    fmt::print("  {:.2f}M parameters ({:.2f}M active), peak RSS {:.0f} MB (estimated {:.0f} "
               "MB)\n",
               r.params / 1e6, r.active_params / 1e6, r.peak_rss_mb, r.memory_estimate_mb);
    fmt::print("  time by phase (ms per step, share):");
    for (const auto& [phase, s] : r.phase_seconds)
      if (s > 0)
        fmt::print(" {} {:.1f} ({:.0f}%)", phase, 1e3 * s / double(r.steps), 100 * s / r.seconds);
    fmt::print("\n  GEMM primitives built during the timed steps: {}\n", r.gemm_builds);
  }
}

MOET_COMMAND(
    bench,
    Command{
        "bench", "training throughput (tokens/s, GFLOP/s, fraction of measured peak, peak RSS)",
        [](CLI::App& app) {
          auto name = std::make_shared<std::string>("tiny");
          auto json = std::make_shared<bool>(false);
          auto steps = std::make_shared<int64_t>(0);
          auto sets = std::make_shared<std::vector<std::string>>();
          app.add_option("--config", *name, "tiny | small (fixed shapes; see docs/performance.md)");
          app.add_option("--steps", *steps, "timed steps (default: 10 tiny, 3 small)");
          app.add_option("--set", *sets, "override a key, e.g. --set train.threads=1")->take_all();
          app.add_flag("--json", *json, "print one JSON object");
          return std::function<int()>([=] {
            // Under mpirun every rank runs it, data parallel (train/data_parallel.h).
            const std::unique_ptr<dist::World> world = dist::make_world();
            return dist::run_guarded(*world, "moet bench", kExitBadInput, [&] {
              std::optional<BenchResult> r;
              dist::all_or_none(*world, [&] {
                std::vector<std::string> assignments = bench_preset(*name);
                assignments.insert(assignments.end(), sets->begin(), sets->end());
                const Config config = Config::load(full_config_schema(), "", assignments);
                const int64_t timed = *steps > 0 ? *steps : (*name == "tiny" ? 10 : 3);
                r = run_benchmark(*name, config, timed, 2, *world);
              });
              if (world->rank() == 0) print_bench(*r, *json);
              return kExitOk;
            });
          });
        }});

}  // namespace
}  // namespace moet::cli
