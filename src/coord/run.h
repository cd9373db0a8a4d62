// run_coord: train every rung of a coordinate-check ladder for a few steps, several seeds each,
// and collect the probe's metrics (coord/probe.h) at the recorded steps.
//
// Fixed global hyperparameters (the config's optim.*, param.*) on every rung; only the shape
// and the parameterization's resolution of it change. Seed s initialises the model with
// train.seed + s and draws the batches with the same seed, so every rung of one seed trains on
// the same batches; the probe batch is the first of them. Steps go through StepRunner, as in
// `moet train`. optim.warmup is 0 (a constant LR: every step the same size) unless the config
// gives it. A run whose loss turns NaN/inf stops; its later values stay NaN.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "coord/ladder.h"
#include "core/config.h"

namespace moet {

struct CoordOptions {
  CoordLadder ladder;
  int64_t steps = 20;
  int64_t seeds = 3;
  std::vector<int64_t> record_steps;                 // ascending, distinct, each in [0, steps]
  std::function<void(const std::string&)> progress;  // a line per finished run; may be empty
};

// One metric of one layer across the ladder.
struct CoordSeries {
  std::string metric;
  // Block index; "last" for the deepest block when the ladder moves L (blocks that not every
  // rung has are left out); "-" for whole-model metrics.
  std::string layer;
  // values[step][scale][seed], indexed like CoordData::steps, scales and seeds; NaN where a run
  // diverged before that step or a rung has no such metric.
  std::vector<std::vector<std::vector<double>>> values;
};

struct CoordData {
  std::string preset, regime, depth, optimizer;
  std::vector<param::Axis> axes;
  std::vector<param::Axis> shrinking;  // of axes, those the scale divides (1/X)
  std::vector<double> scales;
  std::vector<param::AxisValues> shapes;  // per scale
  std::vector<int64_t> steps;             // the recorded steps
  int64_t train_steps = 0;
  int64_t seeds = 0;
  std::vector<CoordSeries> series;  // in the probe's order
};

// Throws Error (one line naming the option or key) on bad input.
CoordData run_coord(const Config& config, const CoordOptions& options);

// The default recorded steps: 0, 1, 2, 5, 10 and the last, those within [0, steps].
std::vector<int64_t> default_record_steps(int64_t steps);
// "0,1,2,5,10,last" -> ascending steps within [0, steps] ("last" = steps). Throws Error naming
// --record for a bad entry or a step beyond `steps`.
std::vector<int64_t> parse_record_steps(const std::string& text, int64_t steps);

}  // namespace moet
