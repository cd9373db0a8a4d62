#include "sweep/local_sweep.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <set>

#include "core/error.h"
#include "core/fault.h"
#include "sweep/results_store.h"
#include "sweep/trial_memory.h"

namespace moet::sweep {

std::string describe_sweep(const SweepSpec& spec, const Expansion& expansion) {
  // Counts per ladder and per preset; a range when they differ ("3-4 scales").
  const auto count_text = [](size_t lo, size_t hi, const char* word) {
    const std::string n = lo == hi ? std::to_string(lo) : fmt::format("{}-{}", lo, hi);
    return fmt::format("{} {}{}", n, word, hi == 1 ? "" : "s");
  };
  size_t scales_lo = SIZE_MAX, scales_hi = 0, lrs_lo = SIZE_MAX, lrs_hi = 0;
  size_t seeds_lo = SIZE_MAX, seeds_hi = 0, stds_lo = SIZE_MAX, stds_hi = 0;
  for (const auto& l : spec.ladders) {
    scales_lo = std::min(scales_lo, l.scales.size()),
    scales_hi = std::max(scales_hi, l.scales.size());
    const size_t seeds = (l.seeds.empty() ? spec.seeds : l.seeds).size();
    seeds_lo = std::min(seeds_lo, seeds), seeds_hi = std::max(seeds_hi, seeds);
  }
  for (const auto& p : spec.presets) {
    std::set<double> lrs, stds;
    for (const auto& t : expansion.trials)
      if (t.preset == p.name) lrs.insert(t.lr), stds.insert(t.init_std);
    lrs_lo = std::min(lrs_lo, lrs.size()), lrs_hi = std::max(lrs_hi, lrs.size());
    stds_lo = std::min(stds_lo, stds.size()), stds_hi = std::max(stds_hi, stds.size());
  }
  size_t points = 0;  // trials before sharing: one per ladder point
  for (const auto& t : expansion.trials) points += t.points.size();
  return fmt::format("{} x {} x {} x {}{} x {} = {}{}",
                     count_text(spec.presets.size(), spec.presets.size(), "preset"),
                     count_text(spec.ladders.size(), spec.ladders.size(), "ladder"),
                     count_text(scales_lo, scales_hi, "scale"),
                     stds_hi > 1 ? count_text(stds_lo, stds_hi, "init std") + " x " : "",
                     count_text(lrs_lo, lrs_hi, "LR"), count_text(seeds_lo, seeds_hi, "seed"),
                     count_text(expansion.trials.size(), expansion.trials.size(), "trial"),
                     points > expansion.trials.size()
                         ? fmt::format(" ({} ladder points; ladders share base trials)", points)
                         : std::string());
}

WorkerPlan plan_sweep_workers(const SweepSpec& spec, int cores, int64_t trials, int workers,
                              int threads) {
  try {
    return plan_workers(cores, trials, workers, threads, spec.threads, spec.ranks);
  } catch (const Error& e) {
    fail("{}: {}", spec.source, e.what());
  }
}

LocalSweepResult run_local_sweep(const SweepSpec& spec, const Expansion& expansion,
                                 const std::string& db_path, const LocalSweepOptions& options) {
  LocalSweepResult result;
  result.rank = rank_from_env();
  result.trials = int64_t(expansion.trials.size());
  // Several ranks may sit on several hosts: WAL would need them all on one.
  ResultsStore store =
      ResultsStore::open(db_path, result.rank.size > 1 ? JournalMode::rollback : JournalMode::wal);
  store.register_sweep(spec, expansion);
  fault_point("sweep.registered");

  const auto statuses = store.statuses();
  std::vector<const Trial*> todo;
  for (const Trial& t : expansion.trials) {
    const auto it = statuses.find(t.key);
    if (it != statuses.end() && is_finished(it->second)) {
      ++result.finished_before;
      continue;
    }
    if (t.index % result.rank.size == result.rank.rank) todo.push_back(&t);
  }
  result.ran = int64_t(todo.size());
  // A trial's mpirun would find the sweep's own launcher in its environment and mistake itself
  // for a part of that job.
  if (spec.ranks > 1 && !result.rank.source.empty())
    fail("{}: ranks = {}: a sweep shared out by a launcher ({}) cannot start trials of several "
         "ranks; run `moet sweep` alone here, or --emit-slurm",
         spec.source, spec.ranks, result.rank.source);
  result.plan = plan_sweep_workers(spec, available_cores(result.rank), result.ran, options.workers,
                                   options.threads);
  require_trials_fit(spec, todo, result.plan);
  RunnerOptions runner;
  runner.launch = find_trial_launch(spec.ranks, Launcher::mpirun);

  std::string rank;
  if (result.rank.size > 1)
    rank = fmt::format("MPI rank {} of {}", result.rank.rank, result.rank.size);
  if (options.progress && result.ran == 0) {
    // mpirun may start more ranks than there are unfinished trials.
    fmt::print("sweep {}: {}; {}\nresults: {}\n", spec.source, describe_sweep(spec, expansion),
               result.finished_before == result.trials
                   ? std::string("all finished earlier")
                   : fmt::format("no unfinished trial falls to {}", rank),
               store.path());
  } else if (options.progress) {
    if (!rank.empty()) rank = fmt::format(" ({}, from {})", rank, result.rank.source);
    const std::string ranks =
        spec.ranks > 1 ? fmt::format(" x {} ranks under mpirun", spec.ranks) : "";
    fmt::print("sweep {}: {}; {} finished earlier; running {}{} on {} worker{}{} x {} thread{} "
               "({})\nresults: {}\n",
               spec.source, describe_sweep(spec, expansion), result.finished_before, result.ran,
               rank, result.plan.workers, result.plan.workers == 1 ? "" : "s", ranks,
               result.plan.threads, result.plan.threads == 1 ? "" : "s", result.plan.why,
               store.path());
    std::fflush(stdout);
  }
  runner.moet_binary = self_binary();
  runner.trainer = spec.trainer;
  runner.plan = result.plan;
  if (options.progress)
    runner.on_finished = [](const TrialEvent& e) {
      fmt::print("{}\n", format_progress(e));
      std::fflush(stdout);
    };
  result.summary = run_trials(store, todo, runner);
  return result;
}

}  // namespace moet::sweep
