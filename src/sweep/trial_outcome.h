// What a finished trial left in its run directory, read back for the results database:
// status.json (done | diverged, final losses, throughput) and metrics.jsonl (the loss curve),
// whichever trainer wrote them.
//
// The run directory is the trial's own record: a result that reached it but not the database
// (the sweep was killed between the two) is imported from here on the next run instead of being
// trained again.
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "train/run_status.h"

namespace moet::sweep {

struct CurvePoint {
  int64_t step = 0;
  int64_t tokens = 0;
  double loss = NAN;
  double val_loss = NAN;  // NaN on lines without a validation pass
  double lr = NAN;
};

struct TrialOutcome {
  RunStatus status = RunStatus::failed;  // done | diverged | failed
  int64_t steps = 0;
  int64_t tokens = 0;
  double train_loss = NAN;
  double val_loss = NAN;
  nlohmann::json val_extra = nlohmann::json::object();  // extra validation sets: {"moby": 5.3}
  double tokens_per_s = NAN;
  double seconds = NAN;  // wall time of the trial process (NaN when imported)
  std::string error;     // failed: what went wrong, one line; diverged: why, when not the trainer's
  std::vector<CurvePoint> curve;
};

// The outcome of a run directory whose status.json says done or diverged; none when the run did
// not finish there (no status file, running, stopped). The files are checked field by field, the
// same for `moet train` and a sweep's own trainer (docs/trainer-protocol.md): a malformed one
// throws Error "<file>[:<line>]: <field>: <what>". A run that says done with a non-finite final
// loss is recorded as diverged.
std::optional<TrialOutcome> read_trial_outcome(const std::string& run_dir);

}  // namespace moet::sweep
