// Every tracked C++ file is formatted as .clang-format says, by the clang-format this repository
// is formatted with (Debian 12's, version 14; moet.sh installs it). Other versions format some
// constructs differently, so under them the check is skipped rather than failed.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "repo_files.h"

namespace moet::testing {
namespace {

constexpr const char* kClangFormat = "clang-format-14";

std::string run(const std::string& command, int* status) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {};
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  *status = pclose(pipe);
  return out;
}

bool is_cpp(const std::string& file) {
  return file.ends_with(".cpp") || file.ends_with(".h") || file.ends_with(".cu");
}

TEST(Format, TrackedCppFilesAreClangFormatted) {
  int status = 0;
  const std::string version = run(std::string(kClangFormat) + " --version 2>/dev/null", &status);
  if (status != 0) GTEST_SKIP() << kClangFormat << " is not installed (./moet.sh test installs it)";
  std::vector<std::string> files;
  for (const std::string& f : repo_files())
    if (is_cpp(f)) files.push_back(f);
  ASSERT_GT(files.size(), 100u) << "the file list looks wrong";
  // One call for all files: --dry-run -Werror names each unformatted line and fails.
  std::string command = "cd '" + repo_root() + "' && " + kClangFormat + " --dry-run -Werror";
  for (const std::string& f : files) command += " '" + f + "'";
  const std::string report = run(command + " 2>&1", &status);
  EXPECT_EQ(status, 0) << "files not formatted (fix with `clang-format-14 -i FILE`):\n"
                       << report.substr(0, 4000);
}

}  // namespace
}  // namespace moet::testing
