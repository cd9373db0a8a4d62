// Every tracked C++ file is formatted as .clang-format says, by the clang-format the repository
// is formatted with: Debian 12's clang-format-14, by name, since other versions format some
// constructs differently. `./moet.sh test` installs it; where it is missing the check is skipped.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "repo_files.h"

namespace moet::testing {
namespace {

constexpr const char* kClangFormat = "clang-format-14";

bool is_cpp(const std::string& file) {
  return file.ends_with(".cpp") || file.ends_with(".h") || file.ends_with(".cu");
}

TEST(Format, TrackedCppFilesAreClangFormatted) {
  int status = 0;
  command_output(std::string(kClangFormat) + " --version 2>/dev/null", &status);
  if (status != 0) GTEST_SKIP() << kClangFormat << " is not installed (./moet.sh test installs it)";
  std::vector<std::string> files;
  for (const std::string& f : repo_files())
    if (is_cpp(f)) files.push_back(f);
  ASSERT_GT(files.size(), 100u) << "the file list looks wrong";
  // One call for all files: --dry-run -Werror names each unformatted line and fails.
  std::string command = "cd '" + repo_root() + "' && " + kClangFormat + " --dry-run -Werror";
  for (const std::string& f : files) command += " '" + f + "'";
  const std::string report = command_output(command + " 2>&1", &status);
  EXPECT_EQ(status, 0) << "files not formatted (fix with `clang-format-14 -i FILE`):\n"
                       << report.substr(0, 4000);
}

}  // namespace
}  // namespace moet::testing
