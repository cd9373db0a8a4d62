// train(): one training run, start to finish or resumed from its last checkpoint.
//
// It resolves the parameterization (or, when resuming, reloads the one stored in the
// checkpoint — never re-derives it), trains with gradient accumulation, clipping, the LR
// schedule and the balancing-bias rule, validates periodically, writes metrics, checkpoints and
// status into the run directory, and stops early with status "diverged" when the loss turns
// NaN/inf or its running average exceeds train.diverge_factor times the first step's loss.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "core/config.h"
#include "core/exit_code.h"
#include "dist/world.h"
#include "train/run_status.h"

namespace moet {

struct TrainOptions {
  std::string out_dir;
  // Continue the run in out_dir from its latest checkpoint. A run killed before its first
  // checkpoint starts over; a finished one (status.json done at train.steps, or diverged) is
  // left untouched and its stored result returned. Without resume, out_dir must not hold a
  // checkpoint or a finished run (what a killed run left before its first checkpoint is reused).
  bool resume = false;
  bool quiet = false;  // no progress bar, no parameterization table
  // Stop (with a checkpoint, status "stopped") once this many steps are done; 0 = run to
  // train.steps. For time-limited jobs: the run continues later with --resume.
  int64_t stop_after = 0;
};

struct TrainResult {
  RunStatus status = RunStatus::done;  // done | diverged | stopped
  int64_t steps = 0;
  double train_loss = 0;  // mean of the last log interval (NaN before the first)
  double val_loss = 0;    // last validation pass (NaN if none ran)
  double tokens_per_s = 0;
  nlohmann::json to_json() const;
};

TrainResult train(const Config& config, const TrainOptions& options);
// Data parallel over the ranks of world (train/data_parallel.h): every rank calls it with the
// same config and options; rank 0 alone prints and writes the run directory. Errors that every
// rank meets while reading (a bad config, a missing checkpoint, a batch the ranks do not divide)
// are thrown on every rank as dist::AgreedError.
TrainResult train(const Config& config, const TrainOptions& options, dist::World& world);

// The config a resumed run continues with: the run's own config.toml plus overrides, of which
// only resumable_train_keys() may differ from the stored run (train_config.h says why).
Config resume_config(const std::string& run_dir, const std::vector<std::string>& sets);

}  // namespace moet
