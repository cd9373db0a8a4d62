// Does a tuned learning rate transfer along one ladder? The analysis of one preset x ladder:
// each scale's optimum, the drift of the optimum from the smallest to the largest scale, and the
// two "larger is better" checks: loss at the base's optimal LR, and loss at each scale's own
// optimum, should both fall at every step up the ladder. Plain data in, plain data out; the
// report and `moet transfer` are built on it.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "analysis/lr_optimum.h"

namespace moet::analysis {

// One LR at one scale, over its seeds.
struct LrPoint {
  double log2_lr = 0;
  double mean = NAN, min = NAN, max = NAN;  // over the seeds that did not diverge
  int seeds = 0;     // finished trials (done or diverged)
  int diverged = 0;  // of which diverged; any diverged seed makes the LR count as diverged
  std::map<int64_t, double> by_seed;  // seed -> loss (inf: diverged): the per-seed curves
  bool is_diverged() const { return diverged > 0; }
};

struct ScaleCurve {
  double scale = 1;
  std::string shape;  // "N=64 Ne=64": the ladder's axes at this scale
  std::vector<LrPoint> points;  // sorted by LR
};

// The default tolerance on the drift of the optimum, in octaves per doubling of the ladder's
// scale: halfway between no drift (what muP-style presets aim for) and the octave per doubling
// that standard parameterization shows under Adam (hidden-layer LR ~ 1/width). Per doubling, so
// one rule serves a x4 and a x16 ladder; over x4 it allows 1 octave, a factor of 2 in LR.
constexpr double kDefaultDriftTolerance = 0.5;

enum class Trend { better, not_better, unknown };

// How far an optimum moved from the smallest to the largest scale of a ladder.
struct Drift {
  double octaves = NAN;       // optimum at the largest scale minus at the smallest
  double scale_ratio = 1;     // largest / smallest scale
  double per_doubling = NAN;  // octaves / log2(scale_ratio)
  bool is_bound = false;      // an end optimum is at the grid edge: the drift may be larger
  bool holds = false;         // |per doubling| <= tolerance, and not a bound
  std::string text;           // "optimum drifts +0.50 octaves over 8x (+0.17 per doubling): ..."
};

// optima and their scales in scale order; tolerance in octaves per doubling; grid_name says what
// the optima are of ("LR", "init std") in the text.
Drift measure_drift(const std::vector<Optimum>& optima, const std::vector<double>& scales,
                    double tolerance, const std::string& grid_name);

// One seed's own optimum: how far seeds alone move it is the yardstick for a drift.
struct SeedOptimum {
  int64_t seed = 0;
  Optimum optimum;
};

struct LadderAnalysis {
  std::vector<Optimum> optima;  // per scale, of the mean over seeds
  std::vector<std::vector<SeedOptimum>> seed_optima;  // per scale; empty where it has one seed
  int base = 0;                 // the scale whose optimum is the tuned LR: x1, else the smallest
  Drift drift;
  double base_grid_log2_lr = NAN;   // the grid LR nearest the base's optimum
  std::vector<double> loss_at_base_lr;  // per scale at that LR (NaN: missing or diverged)
  std::vector<double> seed_range_at_base_lr;  // per scale: max - min over seeds (NaN: one seed)
  Trend at_base_lr = Trend::unknown, at_optimum = Trend::unknown;
  std::vector<std::string> base_lr_breaks, optimum_breaks;  // "x2 -> x4: +0.012"
  std::vector<std::string> notes;                           // edges, missing scales
  std::string verdict;  // without the "preset / ladder: " prefix
};

// curves sorted by scale (at least one); drift_tolerance in octaves per doubling.
LadderAnalysis analyze_ladder(const std::vector<ScaleCurve>& curves, double drift_tolerance);

// "x2", "x0.5".
std::string scale_label(double scale);

}  // namespace moet::analysis
