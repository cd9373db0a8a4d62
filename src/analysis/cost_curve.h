// The cost curve (docs/performance.md): `moet bench` along one axis of the model's shape, one
// JSON line per point as bench/cost_curve.sh writes them, drawn as three stacked SVG plots
// against the axis (log2): tokens/s, fraction of the measured fp32 peak, and peak resident
// memory per token, with PyTorch eager beside moet where the line has it.
//
// A line: {"axis": "N", "value": 512, "moet": <moet bench --json>, "torch_tokens_per_s": x,
// "torch_peak_fraction": y} (the torch fields only where the peer ran).
#pragma once

#include <cmath>
#include <string>
#include <vector>

namespace moet::analysis {

struct CostPoint {
  double value = 0;  // the axis coordinate (N, M, Ne, L or seq)
  double tokens_per_s = 0;
  double peak_fraction = 0;         // of the fp32 peak measured in the same run
  double rss_kib_per_token = 0;     // peak RSS over the tokens of one step
  double torch_tokens_per_s = NAN;  // NaN where PyTorch eager did not run
  double torch_peak_fraction = NAN;
};

struct CostCurve {
  std::string axis;
  std::vector<CostPoint> points;  // by value
};

// Throws Error "<path>:<line>: <field> ..." on a malformed line; every line must share one axis.
CostCurve read_cost_curve(const std::string& path);
std::string cost_curve_svg(const CostCurve& curve);

}  // namespace moet::analysis
