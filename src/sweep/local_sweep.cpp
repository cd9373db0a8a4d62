#include "sweep/local_sweep.h"

#include <fmt/format.h>

#include <set>

#include "sweep/results_store.h"

namespace moet::sweep {

std::string describe_sweep(const SweepSpec& spec, const Expansion& expansion) {
  std::set<double> scales, lrs;
  for (const auto& l : spec.ladders) scales.insert(l.scales.begin(), l.scales.end());
  for (const auto& t : expansion.trials) lrs.insert(t.lr);
  const auto plural = [](size_t n, const char* word) {
    return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
  };
  return fmt::format("{} x {} x {} x {} x {} = {}", plural(spec.presets.size(), "preset"),
                     plural(spec.ladders.size(), "ladder"), plural(scales.size(), "scale"),
                     plural(lrs.size(), "LR"), plural(spec.seeds.size(), "seed"),
                     plural(expansion.trials.size(), "trial"));
}

LocalSweepResult run_local_sweep(const SweepSpec& spec, const Expansion& expansion,
                                 const std::string& db_path, const LocalSweepOptions& options) {
  LocalSweepResult result;
  result.rank = rank_from_env();
  result.trials = int64_t(expansion.trials.size());
  // Several ranks may sit on several hosts: WAL would need them all on one.
  ResultsStore store = ResultsStore::open(
      db_path, result.rank.size > 1 ? JournalMode::rollback : JournalMode::wal);
  store.register_sweep(spec, expansion);

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
  result.plan = plan_workers(available_cores(result.rank), result.ran, options.workers,
                             options.threads, spec.threads);

  if (options.progress) {
    std::string rank;
    if (result.rank.size > 1)
      rank = fmt::format(" (MPI rank {} of {}, from {})", result.rank.rank, result.rank.size,
                         result.rank.source);
    fmt::print("sweep {}: {}; {} finished earlier; running {}{} on {} worker{} x {} thread{} "
               "({})\nresults: {}\n",
               spec.source, describe_sweep(spec, expansion), result.finished_before, result.ran,
               rank, result.plan.workers, result.plan.workers == 1 ? "" : "s",
               result.plan.threads, result.plan.threads == 1 ? "" : "s", result.plan.why,
               store.path());
    std::fflush(stdout);
  }
  RunnerOptions runner;
  runner.moet_binary = self_binary();
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
