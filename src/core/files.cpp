#include "core/files.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "core/fault.h"

namespace moet {

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open ({})", path, std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) == 0 && S_ISDIR(info.st_mode)) {
    ::close(fd);
    fail("{}: is a directory, not a file", path);
  }
  std::string bytes;
  // Pipes and /proc files report no size: read until end of file whatever fstat said.
  if (S_ISREG(info.st_mode)) bytes.reserve(size_t(info.st_size));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::close(fd);
      fail("{}: read error ({})", path, std::strerror(saved));
    }
    bytes.append(buffer, size_t(n));
  }
  ::close(fd);
  return bytes;
}

void require_file(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) fail("{}: cannot open ({})", path, std::strerror(errno));
  if (S_ISDIR(info.st_mode)) fail("{}: is a directory, not a file", path);
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  const std::string tmp = temporary_path(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("{}: cannot create ({})", tmp, std::strerror(errno));
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      fail("{}: write failed ({})", tmp, std::strerror(saved));
    }
    written += size_t(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    fail("{}: cannot flush to disk", tmp);
  }
  fault_point("file.tmp");
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(tmp.c_str());
    fail("{}: cannot rename into place ({})", path, std::strerror(saved));
  }
  fault_point("file.renamed");
}

std::string temporary_path(const std::string& path) {
  return path + ".tmp." + std::to_string(::getpid());
}

void remove_stale_temporaries(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const size_t mark = name.rfind(".tmp.");
    if (mark == std::string::npos || mark + 5 == name.size() ||
        name.find_first_not_of("0123456789", mark + 5) != std::string::npos)
      continue;
    const long pid = std::strtol(name.c_str() + mark + 5, nullptr, 10);
    // kill(pid, 0) fails with ESRCH only when no such process exists.
    if (pid > 0 && ::kill(pid_t(pid), 0) != 0 && errno == ESRCH) stale.push_back(it->path());
  }
  if (ec) fail("{}: cannot list the directory ({})", dir, ec.message());
  for (const fs::path& path : stale) {
    fs::remove_all(path, ec);
    if (ec) fail("{}: cannot remove a stale temporary ({})", path.string(), ec.message());
  }
}

bool file_exists(const std::string& path) { return std::filesystem::exists(path); }

void make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) fail("{}: cannot create directory ({})", path, ec.message());
}

void sync_directory(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open directory ({})", path, std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) fail("{}: cannot flush directory ({})", path, std::strerror(errno));
}

}  // namespace moet
