#include "sweep/ladder_axis.h"

#include <algorithm>
#include <sstream>

#include "core/error.h"

namespace moet::sweep {

namespace {

constexpr const char* kInverse = "1/";

}  // namespace

std::optional<LadderAxis> ladder_axis_named(const std::string& name) {
  if (name == "tokens") return LadderAxis{LadderAxis::Kind::tokens, param::Axis::N, 1};
  if (name == "batch") return LadderAxis{LadderAxis::Kind::batch, param::Axis::N, 1};
  const bool inverse = name.rfind(kInverse, 0) == 0;
  const std::optional<param::Axis> shape = param::axis_named(inverse ? name.substr(2) : name);
  if (!shape) return std::nullopt;
  return LadderAxis{LadderAxis::Kind::shape, *shape, inverse ? -1 : 1};
}

std::string quantity_name(const LadderAxis& axis) {
  switch (axis.kind) {
    case LadderAxis::Kind::tokens: return "tokens";
    case LadderAxis::Kind::batch: return "batch";
    case LadderAxis::Kind::shape: break;
  }
  return param::axis_name(axis.shape);
}

std::string ladder_axis_name(const LadderAxis& axis) {
  return (axis.exponent < 0 ? kInverse : "") + quantity_name(axis);
}

bool same_quantity(const LadderAxis& a, const LadderAxis& b) {
  return a.kind == b.kind && (a.kind != LadderAxis::Kind::shape || a.shape == b.shape);
}

std::string ladder_axis_choices() {
  std::string out;
  for (const param::Axis a : param::kAllAxes) out += std::string(param::axis_name(a)) + "|";
  return out + "tokens|batch (a shape axis that shrinks as the scale grows: 1/Ne)";
}

std::string ladder_axes_text(const std::vector<LadderAxis>& axes) {
  std::string out;
  for (const LadderAxis& a : axes) out += (out.empty() ? "" : ",") + ladder_axis_name(a);
  return out;
}

std::vector<LadderAxis> parse_ladder_axes(const std::string& text) {
  std::vector<LadderAxis> axes;
  std::stringstream in(text);
  for (std::string name; std::getline(in, name, ',');) {
    const std::optional<LadderAxis> axis = ladder_axis_named(name);
    if (!axis) fail("ladder axes '{}': '{}' is not one of {}", text, name, ladder_axis_choices());
    axes.push_back(*axis);
  }
  return axes;
}

std::vector<param::Axis> shape_axes_of(const std::vector<LadderAxis>& axes) {
  std::vector<param::Axis> out;
  for (const LadderAxis& a : axes)
    if (a.kind == LadderAxis::Kind::shape) out.push_back(a.shape);
  return out;
}

bool has_kind(const std::vector<LadderAxis>& axes, LadderAxis::Kind kind) {
  return std::any_of(axes.begin(), axes.end(), [&](const LadderAxis& a) { return a.kind == kind; });
}

bool has_run_axis(const std::vector<LadderAxis>& axes) {
  return has_kind(axes, LadderAxis::Kind::tokens) || has_kind(axes, LadderAxis::Kind::batch);
}

}  // namespace moet::sweep
