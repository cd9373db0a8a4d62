// One axis of a sweep ladder (docs/sweeps.md §1): a shape axis of param/axes.h that the scale
// multiplies ("N") or divides ("1/Ne", for granularity ladders where experts get narrower as
// they multiply), or a run axis: the token budget ("tokens") or the batch ("batch").
//
// Run axes change no shape, so the parameterization never sees them: its rules, and the regime
// inferred for regime presets, read the shape axes alone. Scaling `tokens` multiplies the token
// budget at a fixed batch (more steps); scaling `batch` multiplies train.batch at a fixed token
// budget (fewer steps); both together keep the steps fixed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "param/axes.h"

namespace moet::sweep {

struct LadderAxis {
  enum class Kind { shape, tokens, batch };
  Kind kind = Kind::shape;
  param::Axis shape = param::Axis::N;  // the shape axis, when kind is shape
  int exponent = 1;                    // +1: base x scale; -1: base / scale (shape axes only)
  bool operator==(const LadderAxis&) const = default;
};

// "N", "1/Ne", "tokens" or "batch"; nullopt for anything else. Shape names are read by
// param::axis_named.
std::optional<LadderAxis> ladder_axis_named(const std::string& name);
// The name ladder_axis_named reads back.
std::string ladder_axis_name(const LadderAxis& axis);
// What the axis measures, its exponent aside: "Ne" for both Ne and 1/Ne.
std::string quantity_name(const LadderAxis& axis);
bool same_quantity(const LadderAxis& a, const LadderAxis& b);
// "tokens|batch|N|Ne|M|K|L (a shape axis may be written 1/Ne)": the names, for messages.
std::string ladder_axis_choices();

// "N,Ne" or "M,K,1/Ne": the ladder_points.axes column; parse_ladder_axes reads it back and
// throws Error naming the text when a name is unknown.
std::string ladder_axes_text(const std::vector<LadderAxis>& axes);
std::vector<LadderAxis> parse_ladder_axes(const std::string& text);

// The shape axes of a ladder as param::Axis, exponent aside.
std::vector<param::Axis> shape_axes_of(const std::vector<LadderAxis>& axes);
bool has_run_axis(const std::vector<LadderAxis>& axes);
bool has_kind(const std::vector<LadderAxis>& axes, LadderAxis::Kind kind);

}  // namespace moet::sweep
