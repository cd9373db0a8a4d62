#include "sweep/runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "core/exit_code.h"
#include "core/fault.h"
#include "core/files.h"
#include "core/timer.h"
#include "sweep/trainer_command.h"
#include "train/schema.h"

extern char** environ;

namespace moet::sweep {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

void on_stop_signal(int signal) { g_stop_signal = signal; }

// Installs the stop handlers for the lifetime of a run; without SA_RESTART, so a blocked
// waitpid returns at once with EINTR.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    struct sigaction action = {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ = {}, old_term_ = {};
};

// The run directory's config is this trial's (thread count aside, which only changes rounding):
// the one `moet train` wrote, or for a trainer trial the one the sweep gave the trainer.
bool same_config(const std::string& run_dir, const Trial& trial, bool trainer) {
  try {
    const std::string file = trainer ? kTrainerConfigFile : "config.toml";
    Config stored = Config::load(full_config_schema(), run_dir + "/" + file, {});
    stored.set("train.threads", "0");
    return stored.to_toml() == trial.config_toml;
  } catch (const Error&) {
    return false;
  }
}

std::string last_line(const std::string& path) {
  if (!file_exists(path)) return "";
  std::istringstream in(read_file(path));
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

// argv[0] is the program; env the whole environment (trial_environment).
pid_t spawn(std::vector<std::string> argv_text, std::vector<std::string> env_text,
            const std::string& log_path) {
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) fail("cannot start a trial process ({})", std::strerror(errno));
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(kExitCannotExec);  // the sweep died before prctl took effect
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int null = ::open("/dev/null", O_RDONLY);
    if (log < 0 || null < 0) ::_exit(kExitCannotExec);
    ::dup2(null, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(kExitCannotExec);
  }
  return pid;
}

std::string duration_text(double seconds) {
  if (!std::isfinite(seconds)) return "?";
  const int64_t s = int64_t(std::llround(seconds));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
}

}  // namespace

std::string self_binary() {
  std::error_code ec;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) fail("cannot find the moet binary (/proc/self/exe: {})", ec.message());
  return path.string();
}

namespace {

// Where a recorded result came from.
enum class Origin { trained, imported };

// One call of run_trials: the trials still to start, the child processes running, and the
// counts the summary and the ETA are made of.
class TrialPool {
 public:
  TrialPool(ResultsStore& store, std::vector<const Trial*> trials, const RunnerOptions& options)
      : store_(store), trials_(std::move(trials)), options_(options), start_(now_s()) {
    // Longest first, so the sweep does not end on one big trial running alone.
    std::stable_sort(trials_.begin(), trials_.end(),
                     [](const Trial* a, const Trial* b) { return a->flops > b->flops; });
    for (const Trial* t : trials_) flops_total_ += t->flops;
    std::vector<std::string> inherited;
    for (char** e = environ; *e; ++e) inherited.push_back(*e);
    environment_ = trial_environment(inherited, options_.launch, options_.plan.threads);
  }

  RunSummary run() {
    StopSignals stop_signals;
    while ((next_ < trials_.size() && !g_stop_signal) || !running_.empty()) {
      start_trials();
      if (running_.empty()) break;
      reap_one();
    }
    summary_.interrupted = g_stop_signal != 0;
    summary_.elapsed_s = now_s() - start_;
    return summary_;
  }

 private:
  struct Running {
    const Trial* trial;
    std::string run_dir;
    double started;
  };

  // Starts trials until every worker is busy; a trial whose run directory already holds its
  // finished result is recorded from there instead.
  void start_trials() {
    while (!g_stop_signal && next_ < trials_.size() &&
           int(running_.size()) < options_.plan.workers) {
      const Trial& trial = *trials_[next_++];
      const std::string run_dir = store_.runs_dir() + "/" + trial.key;
      if (file_exists(run_dir)) {
        if (const std::optional<TrialOutcome> outcome = finished_outcome(run_dir);
            outcome && same_config(run_dir, trial, !options_.trainer.empty())) {
          store_.record(trial.key, *outcome);
          report(trial, *outcome, Origin::imported);
          continue;
        }
        std::error_code ec;
        std::filesystem::remove_all(run_dir, ec);  // an unfinished run: start it over
        if (ec) fail("{}: cannot clear an unfinished run ({})", run_dir, ec.message());
      }
      make_dirs(run_dir);
      store_.set_status(trial.key, RunStatus::running);
      const pid_t pid = start(trial, run_dir);
      running_[pid] = {&trial, run_dir, now_s()};
      fault_point("sweep.spawned");
    }
  }

  // Starts the trial's process: `moet train`, or the spec's trainer with its input files.
  pid_t start(const Trial& trial, const std::string& run_dir) const {
    const int threads = options_.plan.threads;
    const std::string log = run_dir + "/train.log";
    if (options_.trainer.empty())
      return spawn(launch_argv(options_.launch, options_.moet_binary,
                               trial_command(trial, run_dir, threads), threads),
                   environment_, log);
    write_trainer_inputs(trial, run_dir, threads);
    std::vector<std::string> argv = trainer_argv(options_.trainer, trial, run_dir, threads);
    // Resolved again here: PATH may differ from where the spec was read (a Slurm node). Not
    // found, the child exits with kExitCannotExec and the trial fails with that status.
    const std::string program = find_program(argv.front());
    if (!program.empty()) argv.front() = program;
    std::vector<std::string> env = {"MOET_BINARY=" + options_.moet_binary};
    for (const std::string& entry : environment_)
      if (!entry.starts_with("MOET_BINARY=")) env.push_back(entry);
    return spawn(std::move(argv), std::move(env), log);
  }

  // A finished result in the run directory, or none: also none when its files are malformed (the
  // trial then runs again and, if they are again, fails saying why).
  static std::optional<TrialOutcome> finished_outcome(const std::string& run_dir) {
    try {
      return read_trial_outcome(run_dir);
    } catch (const Error&) {
      return std::nullopt;
    }
  }

  // Waits for one child and records its result; on the first stop signal, passes it on to
  // every child. A child stopped by us goes back to pending: that is not a result.
  void reap_one() {
    int wait_status = 0;
    const pid_t pid = ::waitpid(-1, &wait_status, 0);
    if (pid < 0) {
      if (errno != EINTR) fail("waiting for trials failed ({})", std::strerror(errno));
      if (g_stop_signal && !forwarded_) {
        forwarded_ = true;
        for (const auto& [child, r] : running_) ::kill(child, SIGTERM);
      }
      return;
    }
    const auto it = running_.find(pid);
    if (it == running_.end()) return;
    const Running r = it->second;
    running_.erase(it);
    fault_point("sweep.reaped");
    TrialOutcome outcome = outcome_of(r.run_dir, wait_status);
    // mpirun and srun pass the signal on and exit with a status of their own.
    const bool by_launcher = options_.launch.ranks > 1 && outcome.status == RunStatus::failed;
    if (g_stop_signal && (!WIFEXITED(wait_status) || by_launcher)) {
      store_.set_status(r.trial->key, RunStatus::pending);
      return;
    }
    outcome.seconds = now_s() - r.started;
    store_.record(r.trial->key, outcome);
    report(*r.trial, outcome, Origin::trained);
  }

  // A trial process's result: its run directory's when it exited as `moet train` does after a
  // run (done or diverged) and left well-formed run files, else failed, with why.
  static TrialOutcome outcome_of(const std::string& run_dir, int wait_status) {
    const bool exited = WIFEXITED(wait_status);
    const int code = exited ? WEXITSTATUS(wait_status) : -1;
    TrialOutcome outcome;
    outcome.status = RunStatus::failed;
    if (exited && (code == kExitOk || code == kExitDiverged)) {
      try {
        if (const std::optional<TrialOutcome> finished = read_trial_outcome(run_dir))
          return *finished;
        outcome.error = fmt::format("exited with {} but left no finished status.json", code);
      } catch (const Error& e) {
        outcome.error = fmt::format("exited with {}, but {}", code, e.what());
      }
      return outcome;
    }
    const std::string why = exited ? fmt::format("exit status {}", code)
                                   : fmt::format("killed by signal {}", WTERMSIG(wait_status));
    const std::string line = last_line(run_dir + "/train.log");
    outcome.error = line.empty() ? why : why + ": " + line;
    return outcome;
  }

  void report(const Trial& trial, const TrialOutcome& outcome, Origin origin) {
    fault_point("sweep.recorded");
    ++finished_;
    if (outcome.status == RunStatus::done)
      ++summary_.done;
    else if (outcome.status == RunStatus::diverged)
      ++summary_.diverged;
    else
      ++summary_.failed;
    if (origin == Origin::imported) {
      ++summary_.imported;
      flops_total_ -= trial.flops;  // no time was spent on it: keep it out of the ETA
    } else {
      flops_finished_ += trial.flops;
    }
    const double elapsed = now_s() - start_;
    const double eta =
        flops_finished_ > 0 ? elapsed * (flops_total_ - flops_finished_) / flops_finished_ : NAN;
    if (options_.on_finished)
      options_.on_finished(TrialEvent{trial, outcome, origin == Origin::imported, finished_,
                                      int(trials_.size()), elapsed, eta});
  }

  ResultsStore& store_;
  std::vector<const Trial*> trials_;
  const RunnerOptions& options_;
  const double start_;
  RunSummary summary_;
  double flops_total_ = 0, flops_finished_ = 0;
  int finished_ = 0;
  size_t next_ = 0;
  std::map<pid_t, Running> running_;
  std::vector<std::string> environment_;  // of every trial process
  bool forwarded_ = false;
};

}  // namespace

RunSummary run_trials(ResultsStore& store, std::vector<const Trial*> trials,
                      const RunnerOptions& options) {
  return TrialPool(store, std::move(trials), options).run();
}

std::string format_progress(const TrialEvent& e) {
  const Trial& t = e.trial;
  std::string where;
  for (const LadderPoint& p : t.points)
    where += fmt::format("{}{} x{:g}", where.empty() ? "" : ", ", p.ladder, p.scale);
  std::string result;
  if (e.outcome.status == RunStatus::done)
    result = fmt::format("val {:.4f}", e.outcome.val_loss);
  else if (e.outcome.status == RunStatus::diverged)
    result = fmt::format("diverged at step {}", e.outcome.steps);
  else
    result = e.outcome.error;
  return fmt::format("[{:>{}}/{} {:>6} eta {:>6}] {:<8} {} {}  lr 2^{:g}  seed {}  {}{}",
                     e.finished, std::to_string(e.total).size(), e.total,
                     duration_text(e.elapsed_s), duration_text(e.eta_s), name_of(e.outcome.status),
                     t.preset, where, std::round(std::log2(t.lr) * 100) / 100, t.seed, result,
                     e.imported ? "  (recorded from its run directory)"
                                : fmt::format("  ({:.1f} s)", e.outcome.seconds));
}

}  // namespace moet::sweep
