// moet sweep: train every trial of a sweep spec (docs/sweeps.md) into a results database, here,
// as a Slurm job array (--emit-slurm), one trial at a time (--trial, what array tasks run), or
// shared out across the ranks of mpirun.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "cli/command.h"
#include "core/error.h"
#include "core/files.h"
#include "sweep/local_sweep.h"
#include "sweep/results_store.h"
#include "sweep/slurm.h"
#include "sweep/trainer_command.h"
#include "sweep/trial_launch.h"
#include "sweep/trial_memory.h"

namespace moet::cli {
namespace {

using namespace moet::sweep;

std::string absolute(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

int emit_slurm(const SweepSpec& spec, const Expansion& expansion, const std::string& db_path,
               const std::string& script_path, int threads) {
  SlurmJob job;
  job.name = "moet-" +
             (spec.name.empty() ? std::filesystem::path(spec.source).stem().string() : spec.name);
  job.moet_binary = self_binary();
  job.spec_path = absolute(spec.source);
  job.db_path = absolute(db_path);
  job.workdir = absolute(".");
  job.trials = int64_t(expansion.trials.size());
  job.threads = threads > 0 ? threads : spec.threads > 0 ? spec.threads : 1;
  job.ranks = spec.ranks;
  const std::string script = slurm_array_script(job);  // refuses paths first, before any write
  // Array tasks write from many hosts: the database gets a rollback journal, not WAL.
  ResultsStore store = ResultsStore::open(db_path, JournalMode::rollback);
  store.register_sweep(spec, expansion);
  write_file_atomic(script_path, script);
  std::filesystem::permissions(script_path, std::filesystem::perms::owner_exec,
                               std::filesystem::perm_options::add);
  fmt::print("wrote {}: {} array tasks ({}), {}{} thread{} each\nsubmit: sbatch {}\nthen:   moet "
             "report {} --out DIR\n",
             script_path, job.trials, describe_sweep(spec, expansion),
             job.ranks > 1 ? fmt::format("{} ranks x ", job.ranks) : "", job.threads,
             job.threads == 1 ? "" : "s", shell_quote({script_path}), shell_quote({db_path}));
  return kExitOk;
}

int dry_run(const SweepSpec& spec, const Expansion& expansion, const std::string& db_path,
            int workers, int threads) {
  std::map<std::string, RunStatus> statuses;
  if (file_exists(db_path)) statuses = ResultsStore::open_read_only(db_path).statuses();
  const std::string runs_dir = runs_dir_for(db_path);
  const TrialLaunch shown{spec.ranks, Launcher::mpirun, "mpirun"};  // as printed, not resolved
  int64_t finished = 0;
  for (const Trial& t : expansion.trials) {
    const auto it = statuses.find(t.key);
    const bool known = it != statuses.end();
    const std::string status = known ? name_of(it->second) : "new";
    finished += known && is_finished(it->second);
    std::string points;
    for (const LadderPoint& p : t.points)
      points += fmt::format("{}{} x{:g}", points.empty() ? "" : ", ", p.ladder, p.scale);
    fmt::print("# trial {} [{}] {} {}\n", t.index, status, t.preset, points);
    if (spec.trainer.empty())
      fmt::print("{}\n",
                 shell_quote(launch_argv(shown, "moet", trial_command(t, runs_dir + "/" + t.key, 0),
                                         spec.threads > 0 ? int(spec.threads) : 1)));
    else
      fmt::print("{}\n", shell_quote(stored_command(spec.trainer, t, runs_dir + "/" + t.key)));
  }
  const WorkerPlan plan =
      plan_sweep_workers(spec, available_cores(rank_from_env()),
                         int64_t(expansion.trials.size()) - finished, workers, threads);
  fmt::print("# {}; {} finished in {}; would run {} on {} workers{} x {} threads ({})\n",
             describe_sweep(spec, expansion), finished, db_path,
             int64_t(expansion.trials.size()) - finished, plan.workers,
             spec.ranks > 1 ? fmt::format(" x {} ranks", spec.ranks) : "", plan.threads, plan.why);
  return kExitOk;
}

int run_one(const SweepSpec& spec, const Expansion& expansion, const std::string& db_path,
            int64_t index, int threads, Launcher launcher) {
  if (index < 0 || index >= int64_t(expansion.trials.size()))
    fail("--trial {}: the spec has trials 0..{}", index, int64_t(expansion.trials.size()) - 1);
  const Trial& trial = expansion.trials[size_t(index)];
  // A database a lone task creates is a cluster's: rollback journal (see results_store.h).
  ResultsStore store = ResultsStore::open(db_path, JournalMode::rollback);
  store.register_sweep(spec, expansion);
  const auto statuses = store.statuses();
  if (is_finished(statuses.at(trial.key))) {
    fmt::print("trial {} ({}) is already {} in {}\n", index, trial.key,
               name_of(statuses.at(trial.key)), db_path);
    return kExitOk;
  }
  RunnerOptions runner;
  runner.moet_binary = self_binary();
  runner.trainer = spec.trainer;
  runner.launch = find_trial_launch(spec.ranks, launcher);
  // Under srun the trial runs on the cores Slurm allocated to the job, not on this process's.
  const int cores = spec.ranks > 1 && launcher == Launcher::srun
                        ? spec.ranks * std::max({threads, int(spec.threads), 1})
                        : available_cores(RankInfo{});
  runner.plan = plan_sweep_workers(spec, cores, 1, 1, threads);
  require_trials_fit(spec, {&trial}, runner.plan);
  bool failed = false;
  runner.on_finished = [&](const TrialEvent& e) {
    fmt::print("{}\n", format_progress(e));
    failed = e.outcome.status == RunStatus::failed;
  };
  const RunSummary summary = run_trials(store, {&trial}, runner);
  if (summary.interrupted) return kExitInterrupted;
  return failed ? kExitTrialFailed : kExitOk;
}

MOET_COMMAND(
    sweep,
    Command{
        "sweep", "train every trial of a sweep spec into a results database (docs/sweeps.md)",
        [](CLI::App& app) {
          auto spec_path = std::make_shared<std::string>();
          auto db = std::make_shared<std::string>();
          auto workers = std::make_shared<int>(0);
          auto threads = std::make_shared<int>(0);
          auto slurm = std::make_shared<std::string>();
          auto dry = std::make_shared<bool>(false);
          auto trial = std::make_shared<int64_t>(-1);
          app.add_option("spec", *spec_path, "sweep spec (TOML, docs/sweeps.md)")->required();
          app.add_option("--db", *db, "results database (SQLite; created when missing)")
              ->required();
          add_sweep_resource_options(app, *workers, *threads);
          app.add_option("--emit-slurm", *slurm,
                         "write a Slurm job-array script (one trial per task) instead of running");
          app.add_flag("--dry-run", *dry,
                       "print every trial's command and what would run; run none");
          CLI::Option* trial_option = app.add_option(
              "--trial", *trial, "run only trial N of the spec (what array tasks do)");
          auto launch = std::make_shared<std::string>("mpirun");
          CLI::Option* launch_option = app.add_option(
              "--launch", *launch,
              "with --trial: how a trial of several ranks starts, mpirun (default) or "
              "srun (what array tasks of a multi-rank spec do)");
          app.footer(
              "Re-running the same command skips finished trials and redoes unfinished ones. Under "
              "mpirun (OMPI_COMM_WORLD_RANK/SIZE or PMI_RANK/SIZE) or srun (SLURM_PROCID/"
              "SLURM_STEP_NUM_TASKS) each rank runs its share.\nExit "
              "status: 0 all trials done or diverged, 1 some failed (see the error column and the "
              "trial's train.log), 2 bad input, 130 interrupted.");
          return std::function<int()>([=]() -> int {
            const SweepSpec spec = load_sweep_spec(*spec_path);
            const Expansion expansion = expand_sweep(spec);
            if (*workers < 0 || *threads < 0) fail("--workers and --threads must be positive");
            if (trial_option->count() && *trial < 0) fail("--trial: must not be negative");
            if (!slurm->empty()) return emit_slurm(spec, expansion, *db, *slurm, *threads);
            if (*dry) return dry_run(spec, expansion, *db, *workers, *threads);
            const std::optional<Launcher> launcher = launcher_named(*launch);
            if (!launcher) fail("--launch {:?}: expected mpirun or srun", *launch);
            if (launch_option->count() && *trial < 0)
              fail("--launch: only with --trial (a local sweep starts its trials under mpirun)");
            if (*trial >= 0) return run_one(spec, expansion, *db, *trial, *threads, *launcher);
            LocalSweepOptions options;
            options.workers = *workers;
            options.threads = *threads;
            const LocalSweepResult r = run_local_sweep(spec, expansion, *db, options);
            const RunSummary& s = r.summary;
            fmt::print("{}: {} done, {} diverged, {} failed{} in {:.0f} s ({} finished earlier)\n",
                       s.interrupted ? "interrupted" : "finished", s.done, s.diverged, s.failed,
                       s.imported
                           ? fmt::format(" ({} recorded from their run directories)", s.imported)
                           : "",
                       s.elapsed_s, r.finished_before);
            if (s.interrupted) {
              fmt::print("run the same command again to continue\n");
              return kExitInterrupted;
            }
            fmt::print("report: moet report {} --out DIR\n", shell_quote({*db}));
            return s.failed ? kExitTrialFailed : kExitOk;
          });
        }});

}  // namespace
}  // namespace moet::cli
