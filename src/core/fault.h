// Fault injection, a test hook: named crash points that a test can arm one at a time.
//
// With MOET_FAULT=<point>:<n> in the environment, the process kills itself with SIGKILL the n-th
// time it reaches <point> (`*` counts every point), after one line on stderr naming the point.
// Tests use it to kill a run at every place a real crash could land (each step, each file of a
// checkpoint, before and after each rename, between the last checkpoint and status.json) and
// check that the next run recovers. Unset, a point costs one well-predicted branch; points sit
// at step and file granularity, never in a kernel.
#pragma once

#include <string_view>
#include <vector>

namespace moet {

// Counts a hit of `point`; true when this is the hit the environment asked to die at. For points
// that must do something first (write half a line), then call fault_kill.
bool fault_due(std::string_view point);
[[noreturn]] void fault_kill(std::string_view point);

inline void fault_point(std::string_view point) {
  if (fault_due(point)) fault_kill(point);
}

// Every point in the code, so a test can visit them all; reaching one not listed is a bug.
const std::vector<std::string_view>& fault_points();

}  // namespace moet
