// Wall-clock time in seconds, for throughput figures and ETAs.
#pragma once

#include <chrono>

namespace moet {

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace moet
