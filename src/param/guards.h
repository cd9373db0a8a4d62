// Guards: configurations that would train without an error but silently wrong are rejected, and
// ladders that break an assumption of transfer get a warning (docs/parameterization.md §7).
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "model/config.h"
#include "param/axes.h"
#include "param/preset.h"
#include "param/resolve.h"

namespace moet::param {

// Router and balancing bias both starting at zero under top-K routing (K < M): every gate ties,
// top-K breaks the tie by index, and every token in every layer uses the same experts without
// anything showing in the loss ([P1-E], failure mode F21). Throws Error.
void reject_routing_collapse(const ModelConfig& target, const Parameterization& p);

// kappa = K/M differing between base and target (no transfer across kappa: [P1-KAPPA]),
// and explicitly fixed dense / shared widths while the axis the rules scale them with moves.
void add_ladder_warnings(const ModelConfig& target, const AxisValues& base,
                         std::vector<std::string>& warnings);

// A preset's [requires] settings that the config does not have: the rules were derived for an
// architecture this run does not use. Throws Error naming the preset file, key and both values.
void reject_unmet_requirements(const Preset& preset, const Config& config);

}  // namespace moet::param
