// The coordinate check as an SVG: a grid of small log-log panels, one per metric and layer, each
// showing the metric (mean over seeds) against the scale with one line per recorded step
// (light = early, dark = late), titled with the last step's slope and verdict.
//
// Hand-written SVG (no dependency): a flat metric draws horizontal lines, a growing one lines
// that climb to the right. Values <= 0 cannot sit on a log axis and are left out of a line.
// (analysis/svg_plot.h draws single linear-axis plots; this grid needs log axes on both sides.)
#pragma once

#include <string>
#include <vector>

#include "coord/report.h"

namespace moet {

std::string coord_svg(const CoordData& data, const CoordAnalysis& analysis,
                      const std::vector<std::string>& prefixes = {});

}  // namespace moet
