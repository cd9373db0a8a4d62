// The ladder of a coordinate check: which axes grow, by which factors, and the config of every
// rung.
//
// Axis names mean what they mean in a sweep spec's `axes` (param::axis_named), plus paper 2's
// regimes (param/regime.h) as shorthands:
//   N, Ne, M, K, L   that axis alone (M alone moves K/M; so does K alone: the parameterization
//                    warns)
//   1/Ne (any axis)  that axis divided by the scale: `--axis M,K,1/Ne` is a granularity ladder
//                    (more, narrower experts at a fixed active width)
//   regimeI          N, Ne          (M, K fixed)
//   regimeII         N, M, K        (Ne fixed)
//   regimeIII        N, Ne, M, K
// Several axes co-scale: `--axis N --axis Ne` is regime I, and `--axis M,K` grows the experts
// with K/M fixed, as a sweep's `axes = ["M", "K"]` does. The config's model.* shape is scale 1,
// the base of the parameterization (param.base.* is set to it on every rung); a rung at scale s
// multiplies each chosen axis by s (divides a 1/X axis by s).
//
// A sweep's run axes (tokens, batch) are refused: every rung of a coordinate check trains the
// same few steps on the same batch, so there is no token budget or batch to scale.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "param/axes.h"
#include "param/resolve.h"

namespace moet {

struct CoordLadder {
  std::vector<param::Axis> axes;       // distinct, in N, Ne, M, K, L order
  std::vector<double> scales;          // ascending, distinct, positive
  std::vector<param::Axis> shrinking;  // those of axes the scale divides (written 1/X)
};

// Axis names as above; each entry may itself be a comma list. The axes written 1/X go to
// *shrinking as well (a 1/X name with shrinking null is an error). Throws Error naming a bad
// name, a run axis, or an axis that both grows and shrinks.
std::vector<param::Axis> parse_coord_axes(const std::vector<std::string>& names,
                                          std::vector<param::Axis>* shrinking = nullptr);
// "1,2,4,8"; throws Error (naming --scales) unless there are >= 2 distinct positive numbers.
std::vector<double> parse_coord_scales(const std::string& text);
// "N, Ne" style ("M, K, 1/Ne" with shrinking axes), for headers; regime names when the axes are
// exactly one.
std::string describe_axes(const std::vector<param::Axis>& axes,
                          const std::vector<param::Axis>& shrinking = {});
// "Ne" or "1/Ne": an axis as --axis and a sweep's axes write it.
std::string axis_label(param::Axis axis, const std::vector<param::Axis>& shrinking);

// The shape at `scale`: every chosen axis of base times scale (over scale when shrinking). Throws
// Error naming the axis when a value is not a positive integer.
param::AxisValues ladder_shape(const CoordLadder& ladder, const param::AxisValues& base,
                               double scale);

struct CoordRung {
  double scale = 1;
  Config config;
  param::Parameterization parameterization;
};

// Every rung, in scale order: model.* set to the rung's shape, param.base.* to the config's
// shape, and its resolved parameterization. When param.regime is auto and the preset has regime
// rules, the regime is inferred once from the rung farthest from the base and set on every rung
// (the base rung alone shows none). Throws Error naming the scale and the key when a rung is not
// a valid model or parameterization.
std::vector<CoordRung> ladder_rungs(const Config& config, const CoordLadder& ladder);

}  // namespace moet
