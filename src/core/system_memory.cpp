#include "core/system_memory.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace moet {

namespace {

// "MemAvailable:   22943380 kB" -> bytes; 0 when the line is missing.
int64_t meminfo_bytes(const std::string& field) {
  std::ifstream in("/proc/meminfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::istringstream words(line.substr(field.size() + 1));
    int64_t kib = 0;
    if (words >> kib && kib > 0) return kib * 1024;
  }
  return 0;
}

int64_t read_limit(const std::string& path) {
  std::ifstream in(path);
  int64_t bytes = 0;
  // cgroup v1 writes "no limit" as a number near 2^63, v2 as "max" (which fails to parse).
  if (in >> bytes && bytes > 0 && bytes < (int64_t(1) << 60)) return bytes;
  return 0;
}

// The memory limit of this process's cgroup (v2 memory.max or v1 memory.limit_in_bytes); 0 when
// there is none.
int64_t cgroup_limit_bytes() {
  std::vector<std::string> paths = {"/sys/fs/cgroup/memory.max",
                                    "/sys/fs/cgroup/memory/memory.limit_in_bytes"};
  std::ifstream cgroup("/proc/self/cgroup");
  for (std::string line; std::getline(cgroup, line);) {
    if (line.rfind("0::", 0) == 0)
      paths.push_back("/sys/fs/cgroup" + line.substr(3) + "/memory.max");
    if (line.find(":memory:") != std::string::npos)
      paths.push_back("/sys/fs/cgroup/memory" + line.substr(line.find(":memory:") + 8) +
                      "/memory.limit_in_bytes");
  }
  int64_t limit = 0;
  for (const std::string& path : paths)
    if (const int64_t bytes = read_limit(path); bytes > 0 && (limit == 0 || bytes < limit))
      limit = bytes;
  return limit;
}

}  // namespace

SystemMemory system_memory() {
  SystemMemory memory{meminfo_bytes("MemAvailable"), "available"};
  if (memory.bytes == 0) {
    memory.bytes = int64_t(sysconf(_SC_PHYS_PAGES)) * int64_t(sysconf(_SC_PAGE_SIZE));
    memory.source = "physical memory";
  }
  const int64_t limit = cgroup_limit_bytes();
  if (limit > 0 && limit < memory.bytes) memory = {limit, "allowed by the cgroup"};
  return memory;
}

}  // namespace moet
