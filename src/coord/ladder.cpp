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

std::string valid_axis_names() {
  std::string out;
  for (const Axis a : param::kAllAxes) {
    if (!out.empty()) out += '|';
    out += param::axis_name(a);
  }
  for (const std::string& r : param::regime_names()) out += "|" + std::string(kRegimePrefix) + r;
  return out;
}

// The axes `name` grows: one axis (param::axis_named), or a regime's widths (param/regime.h).
std::vector<Axis> axes_named(const std::string& name) {
  if (const std::optional<Axis> axis = param::axis_named(name)) return {*axis};
  for (const std::string& r : param::regime_names())
    if (name == std::string(kRegimePrefix) + r) return param::regime_axes(r);
  fail("--axis: '{}' is not one of {}", name, valid_axis_names());
}

}  // namespace

std::vector<Axis> parse_coord_axes(const std::vector<std::string>& names) {
  std::vector<Axis> axes;
  for (const std::string& entry : names)
    for (const std::string& name : split_list(entry)) {
      const std::vector<Axis> named = axes_named(name);
      axes.insert(axes.end(), named.begin(), named.end());
    }
  if (axes.empty()) fail("--axis: give at least one axis ({})", valid_axis_names());
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
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

std::string describe_axes(const std::vector<Axis>& axes) {
  for (const std::string& r : param::regime_names())
    if (param::regime_axes(r) == axes) return std::string(kRegimePrefix) + r;
  return param::axis_list(axes);
}

param::AxisValues ladder_shape(const CoordLadder& ladder, const param::AxisValues& base,
                               double scale) {
  param::AxisValues shape = base;
  for (const Axis a : ladder.axes) {
    const double v = double(base[a]) * scale;
    if (std::fabs(v - std::round(v)) > 1e-9 * std::max(1.0, v) || std::round(v) < 1)
      fail("--scales: scale {} gives {} = {} x {} = {}, not a positive integer", scale,
           param::axis_name(a), base[a], scale, v);
    if (v > double(kMaxDimension))
      fail("--scales: scale {} gives {} = {} x {} = {:g}, more than {}", scale, param::axis_name(a),
           base[a], scale, v, kMaxDimension);
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
