#include "param/regime.h"

#include <algorithm>

#include "core/config.h"
#include "core/error.h"

namespace moet::param {

namespace {

struct RegimeAxes {
  const char* name;
  std::vector<Axis> co_scaling;  // exactly these of N, Ne, M, K differ
  const char* meaning;
};

const std::vector<RegimeAxes>& regimes() {
  static const std::vector<RegimeAxes> all = {
      {"I", {Axis::N, Axis::Ne}, "I (N, Ne co-scale; M, K fixed)"},
      {"II", {Axis::N, Axis::M, Axis::K}, "II (N, M, K co-scale; Ne fixed)"},
      {"III", {Axis::N, Axis::Ne, Axis::M, Axis::K}, "III (N, Ne, M, K co-scale)"},
  };
  return all;
}

std::vector<Axis> differing_widths(const AxisValues& base, const AxisValues& target) {
  std::vector<Axis> out = differing_axes(base, target);
  out.erase(std::remove(out.begin(), out.end(), Axis::L), out.end());
  return out;
}

std::string valid_regimes() {
  std::string out;
  for (const auto& r : regimes()) {
    if (!out.empty()) out += ", ";
    out += r.meaning;
  }
  return out;
}

}  // namespace

const std::vector<std::string>& regime_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& r : regimes()) out.push_back(r.name);
    return out;
  }();
  return names;
}

const std::vector<std::string>& regime_settings() {
  static const std::vector<std::string> settings = [] {
    std::vector<std::string> out = regime_names();
    out.insert(out.begin(), "auto");
    return out;
  }();
  return settings;
}

const std::vector<Axis>& regime_axes(const std::string& name) {
  for (const auto& r : regimes())
    if (name == r.name) return r.co_scaling;
  fail("'{}' is not a regime; valid regimes: {}", name, valid_regimes());
}

void add_regime_range_warning(const std::vector<std::string>& derived_for,
                              const std::string& preset, const AxisValues& base,
                              const AxisValues& target, std::vector<std::string>& warnings) {
  const std::vector<Axis> differing = differing_widths(base, target);
  if (derived_for.empty() || differing.empty()) return;
  for (const std::string& name : derived_for)
    if (regime_axes(name) == differing) return;
  warnings.push_back(fmt::format(
      "preset {} was derived for paper 2's regimes {} only, but the axes that differ between "
      "base and target are {}: its rules along this ladder are moet's extrapolation of the "
      "regimes' power laws, untested by the paper (docs/parameterization.md D22)",
      preset, join(derived_for, ", "), axis_list(differing)));
}

std::string choose_regime(const std::string& setting, const std::string& preset,
                          const AxisValues& base, const AxisValues& target,
                          std::vector<std::string>& warnings) {
  require_choice("param.regime", setting, regime_settings());
  const std::vector<Axis> differing = differing_widths(base, target);
  if (setting == "auto") {
    for (const auto& r : regimes())
      if (r.co_scaling == differing) return r.name;
    fail("param.regime = auto: cannot infer the regime of preset {} from the ladder: the axes "
         "that differ between base and target are {} (L is ignored); valid regimes: {}; set "
         "param.regime = I|II|III",
         preset, axis_list(differing), valid_regimes());
  }
  const auto& chosen = *std::find_if(regimes().begin(), regimes().end(),
                                     [&](const RegimeAxes& r) { return r.name == setting; });
  if (!differing.empty() && differing != chosen.co_scaling)
    warnings.push_back(fmt::format(
        "param.regime = {} but the axes that differ between base and target are {}, not those "
        "of regime {}",
        setting, axis_list(differing), chosen.meaning));
  return setting;
}

}  // namespace moet::param
