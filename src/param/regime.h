// Paper 2's co-scaling regimes: which of N, Ne, M, K grow together along a ladder.
//
//   I    N ≍ Ne         (M, K fixed)
//   II   N ≍ M ≍ K      (Ne fixed)
//   III  N ≍ Ne ≍ M ≍ K
//
// Only presets with regime-specific rules (mssp) need one. Depth is not part of a regime: depth
// rules compose separately, so L is ignored when a regime is inferred from a ladder.
#pragma once

#include <string>
#include <vector>

#include "param/axes.h"

namespace moet::param {

const std::vector<std::string>& regime_names();     // I, II, III
const std::vector<std::string>& regime_settings();  // auto, I, II, III: the values of param.regime
// The widths that regime `name` (I, II or III) co-scales, in N, Ne, M, K order; throws Error
// naming the valid regimes for another name.
const std::vector<Axis>& regime_axes(const std::string& name);

// param.regime (auto | I | II | III) for a preset with regime rules. auto infers the regime from
// the axes that differ between base and target and throws Error naming them and the valid
// regimes when they match none; an explicit regime that the ladder contradicts adds a warning.
// For a preset derived on paper 2's regime ladders only (preset key derived_for_regimes): a
// warning when the ladder's differing widths match none of them, so its rules there are moet's
// extrapolation of the power laws. Nothing for base = target or L-only ladders.
void add_regime_range_warning(const std::vector<std::string>& derived_for,
                              const std::string& preset, const AxisValues& base,
                              const AxisValues& target, std::vector<std::string>& warnings);

std::string choose_regime(const std::string& setting, const std::string& preset,
                          const AxisValues& base, const AxisValues& target,
                          std::vector<std::string>& warnings);

}  // namespace moet::param
