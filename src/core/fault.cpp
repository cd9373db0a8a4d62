#include "core/fault.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace moet {

namespace {

// The order is that of a training run's life, then a sweep's.
const std::vector<std::string_view> kPoints = {
    "file.tmp",          // write_file_atomic: the temporary is complete, not yet renamed
    "file.renamed",      // write_file_atomic: renamed into place
    "train.step",        // the trainer, before each optimizer step
    "metrics.torn",      // half of a metrics line written and flushed
    "ckpt.model",        // checkpoint: model.safetensors in the temporary directory
    "ckpt.optimizer",    // ... optimizer.safetensors too
    "ckpt.state",        // ... state.json too, not yet renamed to ckpt-<step>
    "ckpt.published",    // renamed to ckpt-<step>; `latest` still names the previous one
    "ckpt.latest",       // `latest` names it; older checkpoints not yet removed
    "train.final",       // the final checkpoint is written, status.json is not
    "sweep.registered",  // the sweep's trials are in the database, none started
    "sweep.spawned",     // a trial is marked running and its process started
    "sweep.reaped",      // a trial's process ended; its result is not recorded yet
    "sweep.recorded",    // a trial's result is recorded
};

struct FaultPlan {
  bool armed = false;
  std::string point;  // "*" for any
  int64_t hit = 0;    // 1-based
  int64_t seen = 0;
};

FaultPlan parse_plan(const char* text) {
  FaultPlan plan;
  if (!text || !*text) return plan;
  const std::string value = text;
  const size_t colon = value.rfind(':');
  char* end = nullptr;
  plan.point = value.substr(0, colon == std::string::npos ? 0 : colon);
  plan.hit = colon == std::string::npos ? 0 : std::strtoll(value.c_str() + colon + 1, &end, 10);
  if (colon == std::string::npos || *end != '\0' || plan.hit < 1)
    fail("MOET_FAULT: expected <point>:<n> with n >= 1, got '{}'", value);
  if (plan.point != "*" && std::find(kPoints.begin(), kPoints.end(), plan.point) == kPoints.end())
    fail("MOET_FAULT: unknown point '{}'", plan.point);
  plan.armed = true;
  return plan;
}

FaultPlan& plan() {
  static FaultPlan p = [] {
    try {
      return parse_plan(std::getenv("MOET_FAULT"));
    } catch (const Error& e) {
      // Before main (below) rather than at the first point, which may be halfway through a write.
      std::fprintf(stderr, "moet: %s\n", e.what());
      std::_Exit(2);
    }
  }();
  return p;
}

[[maybe_unused]] const bool g_plan_checked = (plan(), true);

}  // namespace

bool fault_due(std::string_view point) {
  FaultPlan& p = plan();
  if (!p.armed) return false;
  MOET_CHECK(std::find(kPoints.begin(), kPoints.end(), point) != kPoints.end());
  if (p.point != "*" && p.point != point) return false;
  return ++p.seen == p.hit;
}

void fault_kill(std::string_view point) {
  const std::string line =
      fmt::format("moet: MOET_FAULT: killed at {} (hit {})\n", point, plan().seen);
  [[maybe_unused]] const ssize_t n = ::write(2, line.data(), line.size());
  ::raise(SIGKILL);
  ::_exit(137);  // not reached
}

const std::vector<std::string_view>& fault_points() { return kPoints; }

}  // namespace moet
