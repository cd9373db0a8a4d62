// Running the moet binary from tests: exit status, stdout and stderr of one command line.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace moet::testing {

struct CommandResult {
  int exit_code = -1;  // -1 when a signal ended it
  int signal = 0;      // the signal that ended it (run_moet_argv only)
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// One shell command line (quote its arguments yourself); stdout and stderr go through files in
// scratch_dir, whose path must need no quoting.
inline CommandResult run_command(const std::string& line, const std::string& scratch_dir) {
  const std::string out = scratch_dir + "/cmd.out", err = scratch_dir + "/cmd.err";
  const int status = std::system((line + " >" + out + " 2>" + err).c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// args are appended to the binary path as they are (quote them yourself).
inline CommandResult run_moet(const std::string& args, const std::string& scratch_dir) {
  return run_command(std::string(MOET_BINARY) + " " + args, scratch_dir);
}

// How a process ended, seen directly (no shell in between, which would turn a signal into an
// exit status of 128 + signal).
struct ProcessResult {
  int exit_code = -1;      // -1 unless it exited
  int signal = 0;          // the signal that killed it, 0 if none
  bool timed_out = false;  // killed by us after the timeout
  std::string out, err;
};

// Runs binary with args (no shell) and this process's environment plus extra_env ("K=V"),
// stdin from /dev/null, stdout and stderr into scratch_dir; killed (timed_out) after timeout_s.
// address_space_bytes > 0 caps the child's virtual memory (RLIMIT_AS), so a program that tries
// an absurd allocation fails at once instead of exhausting the machine.
inline ProcessResult run_process(const std::string& binary, const std::vector<std::string>& args,
                                 const std::string& scratch_dir, double timeout_s = 120,
                                 int64_t address_space_bytes = 0,
                                 std::vector<std::string> extra_env = {}) {
  const std::string out = scratch_dir + "/proc.out", err = scratch_dir + "/proc.err";
  std::vector<std::string> words = {binary};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    bool replaced = false;
    for (const std::string& extra : extra_env)
      replaced |= entry.substr(0, entry.find('=') + 1) == extra.substr(0, extra.find('=') + 1);
    if (!replaced) envp.push_back(*e);
  }
  for (std::string& e : extra_env) envp.push_back(e.data());
  envp.push_back(nullptr);
  ProcessResult r;
  // fork + exec rather than posix_spawn so the limit applies to the child alone; between the two
  // only async-signal-safe calls.
  const pid_t pid = fork();
  if (pid < 0) return r;
  if (pid == 0) {
    if (address_space_bytes > 0) {
      const rlimit capped{rlim_t(address_space_bytes), rlim_t(address_space_bytes)};
      setrlimit(RLIMIT_AS, &capped);
    }
    const int in = open("/dev/null", O_RDONLY);
    const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || o < 0 || e < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) _exit(127);
    execve(binary.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);

  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// The binary with these arguments (no shell) and these extra environment entries ("K=V"), so a
// signal that ends the process shows as such.
inline CommandResult run_moet_argv(const std::vector<std::string>& args,
                                   const std::vector<std::string>& env,
                                   const std::string& scratch_dir) {
  const ProcessResult p = run_process(MOET_BINARY, args, scratch_dir, 600, 0, env);
  CommandResult r;
  r.exit_code = p.exit_code;
  r.signal = p.signal;
  r.out = p.out;
  r.err = p.err;
  return r;
}

// Starts binary with argv (argv[0] included, no shell), stdout and stderr to /dev/null, and
// returns its pid without waiting (-1 if it could not start): for tests that kill it themselves.
inline pid_t spawn_quietly(const std::string& binary, std::vector<std::string> argv_text) {
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t quiet;
  posix_spawn_file_actions_init(&quiet);
  posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&quiet, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  if (posix_spawn(&pid, binary.c_str(), &quiet, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&quiet);
  return pid;
}

inline int count_lines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

}  // namespace moet::testing
