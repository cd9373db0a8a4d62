#include "analysis/init_transfer.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <utility>

namespace moet::analysis {

std::vector<InitTransfer> analyze_init_transfer(const std::vector<Panel>& panels,
                                                const std::vector<LadderAnalysis>& analyses,
                                                double drift_tolerance) {
  // preset x ladder, in the panels' order -> init std -> index of its panel
  std::vector<std::pair<std::string, std::string>> order;
  std::map<std::pair<std::string, std::string>, std::map<double, size_t>> panel_of;
  for (size_t k = 0; k < panels.size(); ++k) {
    const Panel& p = panels[k];
    if (!p.init_swept || !(p.init_std > 0)) continue;
    const std::pair<std::string, std::string> key{p.preset, p.ladder};
    if (!panel_of.count(key)) order.push_back(key);
    panel_of[key][p.init_std] = k;
  }

  std::vector<InitTransfer> out;
  for (const auto& key : order) {
    const std::map<double, size_t>& by_std = panel_of[key];
    if (by_std.size() < 2) continue;
    std::map<double, InitCurve> by_scale;
    for (const auto& [init_std, k] : by_std)
      for (const ScaleCurve& c : panels[k].curves) by_scale[c.scale].shape = c.shape;
    // Every scale gets a point per init std, NaN where that scale has no trials at it yet, so
    // the curves line up (a missing point counts as an edge for the optimum beside it).
    InitTransfer t{key.first, key.second, {}, {}, {}};
    std::vector<Optimum> optima;
    std::vector<double> scales;
    std::vector<LossPoint> points;
    for (auto& [scale, c] : by_scale) {
      c.scale = scale;
      points.clear();
      for (const auto& [init_std, k] : by_std) {
        InitStdPoint q{init_std, NAN, NAN};
        for (size_t i = 0; i < panels[k].curves.size(); ++i) {
          if (panels[k].curves[i].scale != scale) continue;
          const Optimum& o = analyses[k].optima[i];
          q.log2_lr = o.grid_log2_x;
          q.loss = o.kind == OptimumKind::none ? INFINITY : o.loss;
        }
        c.points.push_back(q);
        points.push_back({std::log2(init_std), q.loss});
      }
      c.optimum = find_optimum(points);
      optima.push_back(c.optimum);
      scales.push_back(scale);
      t.curves.push_back(c);
    }
    t.drift = measure_drift(optima, scales, base_index(scales), drift_tolerance, "init std");
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
