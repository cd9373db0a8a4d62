// Running the moet binary from tests: exit status, stdout and stderr of one command line.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
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

// args are appended to the binary path as they are (quote them yourself).
inline CommandResult run_moet(const std::string& args, const std::string& scratch_dir) {
  const std::string out = scratch_dir + "/cmd.out", err = scratch_dir + "/cmd.err";
  const std::string line = std::string(MOET_BINARY) + " " + args + " >" + out + " 2>" + err;
  const int status = std::system(line.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// The binary with these arguments (no shell) and these extra environment entries ("K=V"), so a
// signal that ends the process shows as such.
inline CommandResult run_moet_argv(const std::vector<std::string>& args,
                                   const std::vector<std::string>& env,
                                   const std::string& scratch_dir) {
  const std::string out = scratch_dir + "/cmd.out", err = scratch_dir + "/cmd.err";
  std::vector<std::string> argv_text = {MOET_BINARY};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv, envp;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_text = env;
  for (char** e = environ; *e; ++e) env_text.push_back(*e);
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&files, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  CommandResult r;
  const int spawned = posix_spawn(&pid, MOET_BINARY, &files, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&files);
  int status = 0;
  if (spawned != 0 || ::waitpid(pid, &status, 0) != pid) return r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

inline int count_lines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

}  // namespace moet::testing
