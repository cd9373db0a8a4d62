// Does a tuned learning rate transfer along one ladder? The analysis of one preset x ladder:
// each scale's optimum, how far the optimum moves from the base's along the ladder, and the
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
  int seeds = 0;                            // finished trials (done or diverged)
  int diverged = 0;  // of which diverged; any diverged seed makes the LR count as diverged
  std::map<int64_t, double> by_seed;  // seed -> loss (inf: diverged): the per-seed curves
  bool is_diverged() const { return diverged > 0; }
};

struct ScaleCurve {
  double scale = 1;
  std::string shape;            // "N=64 Ne=64": the ladder's axes at this scale
  std::vector<LrPoint> points;  // sorted by LR
};

// The default tolerance on the drift of the optimum, in octaves per doubling of the ladder's
// scale: halfway between no drift (what muP-style presets aim for) and the octave per doubling
// that standard parameterization shows under Adam (hidden-layer LR ~ 1/width). Per doubling, so
// one rule serves a x4 and a x16 ladder; over x4 it allows 1 octave, a factor of 2 in LR.
constexpr double kDefaultDriftTolerance = 0.5;

enum class Trend { better, not_better, unknown };

// How far an optimum moves along a ladder. The verdict rests on the largest excursion from the
// base's optimum at any scale, not on the two ends alone: an optimum that moves two octaves at x2
// and comes back by x8 does not transfer to the x2 model. The allowance is the tolerance per
// doubling times the doublings from the base to the scale furthest from it, at every scale, so a
// rung's noise is judged against the ladder's whole band (x8 at 0.5 per doubling: 1.5 octaves).
struct Drift {
  double octaves = NAN;          // end to end: optimum at the largest scale minus at the smallest
  double scale_ratio = 1;        // largest / smallest scale
  double per_doubling = NAN;     // octaves / log2(scale_ratio)
  double excursion = NAN;        // the largest |optimum - base optimum| over the scales, signed
  double excursion_scale = NAN;  // where it is
  double excursion_per_doubling = NAN;  // over the doublings from the base to the furthest scale
  bool is_bound = false;  // an optimum is at the grid edge: the excursion may be larger
  bool holds = false;     // |excursion per doubling| <= tolerance; no edge or missing optimum
  bool fails = false;     // beyond the tolerance: does not transfer (neither: uncertain)
  std::string text;       // "optimum drifts +0.50 octaves over 8x (+0.17 per doubling): ..."
};

// optima and their scales in scale order, base the index of the tuned scale (base_index);
// tolerance in octaves per doubling; grid_name says what the optima are of ("LR", "init std").
Drift measure_drift(const std::vector<Optimum>& optima, const std::vector<double>& scales,
                    size_t base, double tolerance, const std::string& grid_name);

// The scale whose optimum is the tuned value: x1, else the smallest (scales in order).
size_t base_index(const std::vector<double>& scales);

// One seed's own optimum: how far seeds alone move it is the yardstick for a drift.
struct SeedOptimum {
  int64_t seed = 0;
  Optimum optimum;
};

struct LadderAnalysis {
  std::vector<Optimum> optima;                        // per scale, of the mean over seeds
  std::vector<std::vector<SeedOptimum>> seed_optima;  // per scale; empty where it has one seed
  int base = 0;  // the scale whose optimum is the tuned LR: x1, else the smallest
  Drift drift;
  double base_grid_log2_lr = NAN;             // the grid LR nearest the base's optimum
  std::vector<double> loss_at_base_lr;        // per scale at that LR (NaN: missing or diverged)
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
