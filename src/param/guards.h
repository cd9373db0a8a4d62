// Guards: configurations that would train without an error but silently wrong are rejected, and
// ladders that break an assumption of transfer get a warning (DESIGN.md §2, anchors §8).
#pragma once

#include <string>
#include <vector>

#include "model/config.h"
#include "param/axes.h"
#include "param/resolve.h"

namespace moet::param {

// Router and balancing bias both starting at zero under top-K routing (K < M): every gate ties,
// top-K breaks the tie by index, and every token in every layer uses the same experts without
// anything showing in the loss (paper 1 note §1.3, failure mode F21). Throws Error.
void reject_routing_collapse(const ModelConfig& target, const Parameterization& p);

// kappa = K/M differing between base and target (no transfer across kappa: paper 1 §1.1, §5.1),
// and explicitly fixed dense / shared widths while the axis the rules scale them with moves.
void add_ladder_warnings(const ModelConfig& target, const AxisValues& base,
                         std::vector<std::string>& warnings);

}  // namespace moet::param
