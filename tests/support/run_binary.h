// Running the moet binary from tests: exit status, stdout and stderr of one command line.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace moet::testing {

struct CommandResult {
  int exit_code = -1;
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

inline int count_lines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

}  // namespace moet::testing
