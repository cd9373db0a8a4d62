// read_file and require_file: a directory, a missing file and a size-less /proc file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include "../support/error_of.h"
#include "core/error.h"
#include "core/files.h"

namespace moet {
namespace {

namespace fs = std::filesystem;

using testing::error_of;

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("moet_files_" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "sub");
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// The C++ streams read a directory as an empty file: `train --config DIR` trained on defaults.
TEST_F(FilesTest, ReadingADirectoryIsAnError) {
  const std::string sub = (dir_ / "sub").string();
  EXPECT_EQ(error_of([&] { read_file(sub); }), sub + ": is a directory, not a file");
  EXPECT_EQ(error_of([&] { require_file(sub); }), sub + ": is a directory, not a file");
}

TEST_F(FilesTest, AMissingFileNamesThePathAndTheReason) {
  const std::string none = (dir_ / "none.toml").string();
  EXPECT_EQ(error_of([&] { read_file(none); }), none + ": cannot open (No such file or directory)");
  EXPECT_EQ(error_of([&] { require_file(none); }),
            none + ": cannot open (No such file or directory)");
}

TEST_F(FilesTest, ReadsWholeFilesIncludingOnesWithoutASize) {
  const std::string path = (dir_ / "a.bin").string();
  std::string bytes(200000, 'x');
  bytes[7] = '\0';
  write_file_atomic(path, bytes);
  EXPECT_EQ(read_file(path), bytes);
  EXPECT_NO_THROW(require_file(path));
  // /proc files report size 0 but have contents.
  EXPECT_NE(read_file("/proc/self/status").find("Name:"), std::string::npos);
}

}  // namespace
}  // namespace moet
