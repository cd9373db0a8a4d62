#include "analysis/init_transfer.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <utility>

namespace moet::analysis {

std::vector<InitTransfer> analyze_init_transfer(const std::vector<Panel>& panels,
                                                const std::vector<LadderAnalysis>& analyses,
                                                double drift_tolerance) {
  // preset x ladder, in the panels' order -> init std -> scale -> (shape, best grid point)
  std::vector<std::pair<std::string, std::string>> order;
  std::map<std::pair<std::string, std::string>,
           std::map<double, std::map<double, std::pair<std::string, InitStdPoint>>>>
      grouped;
  for (size_t k = 0; k < panels.size(); ++k) {
    const Panel& p = panels[k];
    if (!p.init_swept || !(p.init_std > 0)) continue;
    const std::pair<std::string, std::string> key{p.preset, p.ladder};
    if (!grouped.count(key)) order.push_back(key);
    auto& by_scale = grouped[key][p.init_std];
    for (size_t i = 0; i < p.curves.size(); ++i) {
      const Optimum& o = analyses[k].optima[i];
      InitStdPoint point{p.init_std, o.grid_log2_x, o.kind == OptimumKind::none ? INFINITY : o.loss};
      by_scale[p.curves[i].scale] = {p.curves[i].shape, point};
    }
  }

  std::vector<InitTransfer> out;
  for (const auto& key : order) {
    const auto& by_std = grouped[key];
    if (by_std.size() < 2) continue;
    InitTransfer t{key.first, key.second, {}, {}, {}};
    // Every scale gets a point per init std, NaN where that scale has no trials at it yet, so
    // the curves line up (a missing point counts as an edge for the optimum beside it).
    std::map<double, InitCurve> by_scale;
    for (const auto& [init_std, scales] : by_std)
      for (const auto& [scale, entry] : scales) by_scale[scale].shape = entry.first;
    for (auto& [scale, c] : by_scale) {
      c.scale = scale;
      for (const auto& [init_std, scales] : by_std) {
        const auto found = scales.find(scale);
        c.points.push_back(found != scales.end() ? found->second.second
                                                 : InitStdPoint{init_std, NAN, NAN});
      }
    }
    std::vector<Optimum> optima;
    std::vector<double> scales;
    for (auto& [scale, c] : by_scale) {
      std::vector<LossPoint> points;
      for (const InitStdPoint& q : c.points) points.push_back({std::log2(q.init_std), q.loss});
      c.optimum = find_optimum(points);
      optima.push_back(c.optimum);
      scales.push_back(scale);
      t.curves.push_back(c);
    }
    t.drift = measure_drift(optima, scales, drift_tolerance, "init std");
    std::string best;
    for (const InitCurve& c : t.curves)
      best += fmt::format("{}{} {}", best.empty() ? "" : ", ", scale_label(c.scale),
                          c.optimum.kind == OptimumKind::none
                              ? std::string("none")
                              : fmt::format("{:.3g}", std::exp2(c.optimum.log2_x)));
    t.verdict = "init std: " + t.drift.text + " (best init std " + best + ")";
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace moet::analysis
