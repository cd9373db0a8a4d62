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
#include <sstream>

#include "core/error.h"
#include "core/fault.h"
#include "core/files.h"
#include "core/timer.h"
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

// The run directory's config is this trial's (thread count aside, which only changes rounding).
bool same_config(const std::string& run_dir, const Trial& trial) {
  try {
    Config stored = Config::load(full_config_schema(), run_dir + "/config.toml", {});
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

pid_t spawn(const std::string& binary, const std::vector<std::string>& args,
            const std::string& log_path, int threads) {
  std::vector<std::string> argv_text = {binary};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The trial's OpenMP (and oneDNN's) thread count, also for anything read before the config.
  // A fault-injection plan (MOET_FAULT) is aimed at the sweep itself, not at its trials.
  std::vector<std::string> env_text;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "OMP_NUM_THREADS=", 16) != 0 && std::strncmp(*e, "MOET_FAULT=", 11) != 0)
      env_text.push_back(*e);
  env_text.push_back("OMP_NUM_THREADS=" + std::to_string(threads));
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) fail("cannot start a trial process ({})", std::strerror(errno));
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the sweep died before prctl took effect
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int null = ::open("/dev/null", O_RDONLY);
    if (log < 0 || null < 0) ::_exit(127);
    ::dup2(null, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::execve(binary.c_str(), argv.data(), envp.data());
    ::_exit(127);
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

RunSummary run_trials(ResultsStore& store, std::vector<const Trial*> trials,
                      const RunnerOptions& options) {
  std::stable_sort(trials.begin(), trials.end(), [](const Trial* a, const Trial* b) {
    return a->flops > b->flops;
  });
  RunSummary summary;
  const double start = now_s();
  double flops_total = 0, flops_finished = 0;
  for (const Trial* t : trials) flops_total += t->flops;
  int finished = 0;
  const int total = int(trials.size());

  const auto report = [&](const Trial& trial, const TrialOutcome& outcome, bool imported) {
    fault_point("sweep.recorded");
    ++finished;
    if (outcome.status == "done") ++summary.done;
    else if (outcome.status == "diverged") ++summary.diverged;
    else ++summary.failed;
    if (imported) {
      ++summary.imported;
      flops_total -= trial.flops;  // no time was spent on it: keep it out of the ETA
    } else {
      flops_finished += trial.flops;
    }
    const double elapsed = now_s() - start;
    const double eta = flops_finished > 0
                           ? elapsed * (flops_total - flops_finished) / flops_finished
                           : NAN;
    if (options.on_finished)
      options.on_finished(TrialEvent{trial, outcome, imported, finished, total, elapsed, eta});
  };

  struct Running {
    const Trial* trial;
    std::string run_dir;
    double started;
  };
  std::map<pid_t, Running> running;
  StopSignals stop_signals;
  bool forwarded = false;
  size_t next = 0;

  while ((next < trials.size() && !g_stop_signal) || !running.empty()) {
    while (!g_stop_signal && next < trials.size() &&
           int(running.size()) < options.plan.workers) {
      const Trial& trial = *trials[next++];
      const std::string run_dir = store.runs_dir() + "/" + trial.key;
      if (file_exists(run_dir)) {
        const TrialOutcome outcome = read_trial_outcome(run_dir);
        if (is_finished(outcome.status) && same_config(run_dir, trial)) {
          store.record(trial.key, outcome);
          report(trial, outcome, true);
          continue;
        }
        std::error_code ec;
        std::filesystem::remove_all(run_dir, ec);  // an unfinished run: start it over
        if (ec) fail("{}: cannot clear an unfinished run ({})", run_dir, ec.message());
      }
      make_dirs(run_dir);
      store.set_status(trial.key, "running");
      const pid_t pid =
          spawn(options.moet_binary, trial_command(trial, run_dir, options.plan.threads),
                run_dir + "/train.log", options.plan.threads);
      running[pid] = {&trial, run_dir, now_s()};
      fault_point("sweep.spawned");
    }
    if (running.empty()) break;

    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno != EINTR) fail("waiting for trials failed ({})", std::strerror(errno));
      if (g_stop_signal && !forwarded) {
        forwarded = true;
        for (const auto& [child, r] : running) ::kill(child, SIGTERM);
      }
      continue;
    }
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    const Running r = it->second;
    running.erase(it);
    fault_point("sweep.reaped");

    TrialOutcome outcome;
    const bool exited = WIFEXITED(status);
    const int code = exited ? WEXITSTATUS(status) : -1;
    if (g_stop_signal && !exited) {
      store.set_status(r.trial->key, "pending");  // stopped by us: not a result
      continue;
    }
    if (exited && (code == 0 || code == 3)) {
      outcome = read_trial_outcome(r.run_dir);
      if (outcome.status.empty()) {
        outcome.status = "failed";
        outcome.error = fmt::format("exited with {} but left no finished status.json", code);
      }
    } else {
      outcome.status = "failed";
      const std::string why = exited ? fmt::format("exit status {}", code)
                                     : fmt::format("killed by signal {}", WTERMSIG(status));
      const std::string line = last_line(r.run_dir + "/train.log");
      outcome.error = line.empty() ? why : why + ": " + line;
    }
    outcome.seconds = now_s() - r.started;
    store.record(r.trial->key, outcome);
    report(*r.trial, outcome, false);
  }
  summary.interrupted = g_stop_signal != 0;
  summary.elapsed_s = now_s() - start;
  return summary;
}

std::string format_progress(const TrialEvent& e) {
  const Trial& t = e.trial;
  std::string where;
  for (const LadderPoint& p : t.points)
    where += fmt::format("{}{} x{:g}", where.empty() ? "" : ", ", p.ladder, p.scale);
  std::string result;
  if (e.outcome.status == "done")
    result = fmt::format("val {:.4f}", e.outcome.val_loss);
  else if (e.outcome.status == "diverged")
    result = fmt::format("diverged at step {}", e.outcome.steps);
  else
    result = e.outcome.error;
  return fmt::format("[{:>{}}/{} {:>6} eta {:>6}] {:<8} {} {}  lr 2^{:g}  seed {}  {}{}", e.finished,
                     std::to_string(e.total).size(), e.total, duration_text(e.elapsed_s),
                     duration_text(e.eta_s), e.outcome.status, t.preset, where,
                     std::round(std::log2(t.lr) * 100) / 100, t.seed, result,
                     e.imported ? "  (recorded from its run directory)"
                                : fmt::format("  ({:.1f} s)", e.outcome.seconds));
}

}  // namespace moet::sweep
