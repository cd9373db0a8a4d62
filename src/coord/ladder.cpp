#include "coord/ladder.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>
#include <string_view>

#include "core/error.h"
#include "core/number_text.h"
#include "model/config.h"
#include "param/regime.h"

namespace moet {

using param::Axis;

namespace {

// A regime written as an axis name: "regime" + I, II or III.
constexpr std::string_view kRegimePrefix = "regime";

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    out.push_back(item);
  }
  return out;
}

// An axis the scale divides: "1/" and its name, as a sweep spec writes it.
constexpr std::string_view kInverse = "1/";

std::string valid_axis_names() {
  std::string out;
  for (const Axis a : param::kAllAxes) {
    if (!out.empty()) out += '|';
    out += param::axis_name(a);
  }
  for (const std::string& r : param::regime_names()) out += "|" + std::string(kRegimePrefix) + r;
  return out + " (an axis the scale divides: 1/Ne)";
}

// The axes `name` grows: one axis (param::axis_named), or a regime's widths (param/regime.h).
std::vector<Axis> axes_named(const std::string& name) {
  if (const std::optional<Axis> axis = param::axis_named(name)) return {*axis};
  if (name == "tokens" || name == "batch")
    fail("--axis: '{}' is a sweep's run axis, which a coordinate check cannot scale: every rung "
         "trains the same --steps on the same train.batch (a {} ladder is a sweep's: axes = "
         "[\"{}\"])",
         name, name == "tokens" ? "token-budget" : "batch", name);
  for (const std::string& r : param::regime_names())
    if (name == std::string(kRegimePrefix) + r) return param::regime_axes(r);
  fail("--axis: '{}' is not one of {}", name, valid_axis_names());
}

}  // namespace

std::vector<Axis> parse_coord_axes(const std::vector<std::string>& names,
                                   std::vector<Axis>* shrinking) {
  std::vector<Axis> grown, divided;
  for (const std::string& entry : names)
    for (const std::string& name : split_list(entry)) {
      if (name.rfind(kInverse, 0) != 0) {
        const std::vector<Axis> named = axes_named(name);
        grown.insert(grown.end(), named.begin(), named.end());
        continue;
      }
      const std::optional<Axis> axis = param::axis_named(name.substr(kInverse.size()));
      if (!axis)
        fail("--axis: '{}': only a single axis may be divided (1/N, 1/Ne, 1/M, 1/K, 1/L)", name);
      if (!shrinking) fail("--axis: '{}': this ladder takes no shrinking axes", name);
      divided.push_back(*axis);
    }
  for (auto* list : {&grown, &divided}) {
    std::sort(list->begin(), list->end());
    list->erase(std::unique(list->begin(), list->end()), list->end());
  }
  for (const Axis a : divided)
    if (std::binary_search(grown.begin(), grown.end(), a))
      fail("--axis: {} both grows and shrinks ({} and 1/{})", param::axis_name(a),
           param::axis_name(a), param::axis_name(a));
  std::vector<Axis> axes = grown;
  axes.insert(axes.end(), divided.begin(), divided.end());
  std::sort(axes.begin(), axes.end());
  if (axes.empty()) fail("--axis: give at least one axis ({})", valid_axis_names());
  if (shrinking) *shrinking = divided;
  return axes;
}

std::vector<double> parse_coord_scales(const std::string& text) {
  std::vector<double> scales;
  for (const std::string& item : split_list(text)) {
    const std::optional<double> v = parse_finite_double(item);
    if (!v || *v <= 0)
      fail("--scales: '{}' is not a positive number (e.g. --scales 1,2,4,8)", item);
    scales.push_back(*v);
  }
  std::sort(scales.begin(), scales.end());
  if (std::adjacent_find(scales.begin(), scales.end()) != scales.end())
    fail("--scales: '{}' repeats a scale", text);
  if (scales.size() < 2) fail("--scales: a slope needs at least two scales (got '{}')", text);
  return scales;
}

std::string axis_label(Axis axis, const std::vector<Axis>& shrinking) {
  const bool divided = std::find(shrinking.begin(), shrinking.end(), axis) != shrinking.end();
  return (divided ? std::string(kInverse) : "") + param::axis_name(axis);
}

std::string describe_axes(const std::vector<Axis>& axes, const std::vector<Axis>& shrinking) {
  if (shrinking.empty())
    for (const std::string& r : param::regime_names())
      if (param::regime_axes(r) == axes) return std::string(kRegimePrefix) + r;
  std::string out;
  for (const Axis a : axes) out += (out.empty() ? "" : ", ") + axis_label(a, shrinking);
  return out;
}

param::AxisValues ladder_shape(const CoordLadder& ladder, const param::AxisValues& base,
                               double scale) {
  param::AxisValues shape = base;
  for (const Axis a : ladder.axes) {
    const bool divided =
        std::find(ladder.shrinking.begin(), ladder.shrinking.end(), a) != ladder.shrinking.end();
    const double v = divided ? double(base[a]) / scale : double(base[a]) * scale;
    const char* op = divided ? "/" : "x";
    if (std::fabs(v - std::round(v)) > 1e-9 * std::max(1.0, v) || std::round(v) < 1)
      fail("--scales: scale {} gives {} = {} {} {} = {}, not a positive integer", scale,
           param::axis_name(a), base[a], op, scale, v);
    if (v > double(kMaxDimension))
      fail("--scales: scale {} gives {} = {} {} {} = {:g}, more than {}", scale,
           param::axis_name(a), base[a], op, scale, v, kMaxDimension);
    shape[a] = int64_t(std::llround(v));
  }
  return shape;
}

std::vector<CoordRung> ladder_rungs(const Config& config, const CoordLadder& ladder) {
  const param::AxisValues base = param::axis_values(model_config_from(config));
  for (const Axis a : param::kAllAxes) {
    const std::string key = fmt::format("param.base.{}", param::axis_name(a));
    const int64_t given = config.get_int(key);
    if (given != 0 && given != base[a])
      fail("{} = {}: the coordinate check's base is the config's own shape (model.{} = {}, "
           "scale 1); drop {}",
           key, given, param::axis_name(a), base[a], key);
  }
  std::vector<CoordRung> rungs;
  for (const double scale : ladder.scales) {
    const param::AxisValues shape = ladder_shape(ladder, base, scale);
    Config rung = config;
    for (const Axis a : param::kAllAxes) {
      rung.set(fmt::format("model.{}", param::axis_name(a)), std::to_string(shape[a]));
      rung.set(fmt::format("param.base.{}", param::axis_name(a)), std::to_string(base[a]));
    }
    rungs.push_back({scale, std::move(rung), {}});
  }
  const auto resolve = [&](CoordRung& rung) {
    try {
      validate(model_config_from(rung.config));
      rung.parameterization = param::resolve_parameterization(rung.config);
    } catch (const Error& e) {
      fail("scale {}: {}", rung.scale, e.what());
    }
  };
  // One regime for the whole ladder, read off the rung farthest from the base.
  const size_t far = ladder.scales.back() != 1.0 ? rungs.size() - 1 : 0;
  resolve(rungs[far]);
  const std::string regime = rungs[far].parameterization.regime;
  const bool set_regime = config.get_string("param.regime") == "auto" && !regime.empty();
  for (size_t i = 0; i < rungs.size(); ++i) {
    if (set_regime) rungs[i].config.set("param.regime", regime);
    if (i != far || set_regime) resolve(rungs[i]);
  }
  return rungs;
}

}  // namespace moet
