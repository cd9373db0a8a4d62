// How much memory this process can expect to allocate, for refusing a run that cannot fit before
// it starts instead of being killed (or aborting with std::bad_alloc) halfway.
#pragma once

#include <cstdint>
#include <string>

namespace moet {

struct SystemMemory {
  int64_t bytes = 0;   // what a new allocation can use
  std::string source;  // where the figure comes from, for messages: "available", ...
};

// MemAvailable from /proc/meminfo (memory the kernel can hand out without swapping), capped by
// the cgroup's memory.max when the process runs in a limited container; physical memory
// (sysconf) when neither can be read.
SystemMemory system_memory();

}  // namespace moet
