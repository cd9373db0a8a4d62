#include "analysis/sweep_panels.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "core/config.h"
#include "core/error.h"
#include "sweep/run_shape.h"

namespace moet::analysis {

double trial_metric(const sweep::TrialRecord& trial, const std::string& metric) {
  if (metric == "val") return trial.val_loss;
  if (metric == "train") return trial.train_loss;
  const auto it = trial.val_extra.find(metric);
  return it != trial.val_extra.end() && it->is_number() ? it->get<double>() : NAN;
}

std::vector<std::string> available_metrics(const std::vector<sweep::TrialRecord>& trials) {
  std::vector<std::string> names = {"val", "train"};
  std::set<std::string> extra;
  for (const auto& t : trials)
    for (const auto& [name, value] : t.val_extra.items()) extra.insert(name);
  names.insert(names.end(), extra.begin(), extra.end());
  return names;
}

namespace {

// Panels in ladder order, then preset order of first appearance; init stds ascending. The
// database lists ladder points in spec order, so the ladders keep the spec's order.
struct PanelOrder {
  std::vector<std::string> ladders, presets;
  std::map<std::pair<std::string, std::string>, std::set<double>> init_stds;  // (preset, ladder)
  std::map<std::string, std::string> ladder_axes;
};

PanelOrder panel_order(const std::vector<sweep::TrialRecord>& trials) {
  PanelOrder order;
  for (const auto& t : trials) {
    if (std::find(order.presets.begin(), order.presets.end(), t.preset) == order.presets.end())
      order.presets.push_back(t.preset);
    for (const auto& p : t.points) {
      if (std::find(order.ladders.begin(), order.ladders.end(), p.ladder) == order.ladders.end())
        order.ladders.push_back(p.ladder);
      order.ladder_axes[p.ladder] = p.axes;
      order.init_stds[{t.preset, p.ladder}].insert(t.init_std);
    }
  }
  return order;
}

// "N=64 Ne=64", "Ne=8 M=16 K=4 tokens=2048000": a trial's values along a ladder's axes, shape
// axes in N, Ne, M, K, L order, then the run axes.
std::string ladder_shape_text(const sweep::TrialRecord& trial,
                              const std::vector<sweep::LadderAxis>& axes) {
  std::vector<param::Axis> shape_axes;
  for (const param::Axis a : param::kAllAxes)
    for (const sweep::LadderAxis& axis : axes)
      if (axis.kind == sweep::LadderAxis::Kind::shape && axis.shape == a) shape_axes.push_back(a);
  std::string out = param::shape_text(trial.shape, shape_axes);
  if (!sweep::has_run_axis(axes)) return out;
  const sweep::RunShape run = sweep::run_shape_of(trial.config_toml, trial.key);
  for (const sweep::LadderAxis& axis : axes)
    if (axis.kind != sweep::LadderAxis::Kind::shape)
      out += fmt::format("{}{}={}", out.empty() ? "" : " ", sweep::quantity_name(axis),
                         axis.kind == sweep::LadderAxis::Kind::tokens ? run.tokens : run.batch);
  return out;
}

}  // namespace

std::vector<Panel> build_panels(const std::vector<sweep::TrialRecord>& trials,
                                const std::string& metric) {
  const std::vector<std::string> metrics = available_metrics(trials);
  if (std::find(metrics.begin(), metrics.end(), metric) == metrics.end())
    fail("--loss: '{}' is not one of {}", metric, join(metrics, "|"));

  const PanelOrder order = panel_order(trials);
  std::vector<Panel> panels;
  for (const auto& ladder : order.ladders) {
    for (const auto& preset : order.presets) {
      const auto stds = order.init_stds.find({preset, ladder});
      if (stds == order.init_stds.end()) continue;
      for (const double init_std : stds->second) {
        Panel panel;
        panel.preset = preset;
        panel.ladder = ladder;
        panel.axes = order.ladder_axes.at(ladder);
        panel.init_std = init_std;
        panel.init_swept = stds->second.size() > 1;
        // scale -> log2 LR -> trials
        std::map<double, std::map<double, std::vector<const sweep::TrialRecord*>>> grid;
        std::map<double, const sweep::TrialRecord*> example;  // a trial per scale, for its shape
        for (const auto& t : trials) {
          if (t.preset != preset || t.init_std != init_std) continue;
          for (const auto& p : t.points) {
            if (p.ladder != ladder) continue;
            const double log2_lr = std::round(std::log2(t.lr) * 1e6) / 1e6;
            grid[p.scale][log2_lr].push_back(&t);
            example[p.scale] = &t;
            if (t.status == RunStatus::failed)
              ++panel.failed;
            else if (!is_finished(t.status))
              ++panel.unfinished;
          }
        }
        for (const auto& [scale, by_lr] : grid) {
          ScaleCurve curve;
          curve.scale = scale;
          curve.shape = ladder_shape_text(*example[scale], sweep::parse_ladder_axes(panel.axes));
          std::vector<std::vector<std::string>> keys;
          for (const auto& [log2_lr, group] : by_lr) {
            LrPoint point;
            point.log2_lr = log2_lr;
            std::vector<std::string> point_keys;
            double sum = 0;
            int counted = 0;
            for (const sweep::TrialRecord* t : group) {
              point_keys.push_back(t->key);
              if (t->status == RunStatus::diverged) {
                ++point.seeds, ++point.diverged;
                point.by_seed[t->seed] = INFINITY;
              } else if (t->status == RunStatus::done) {
                const double v = trial_metric(*t, metric);
                if (!std::isfinite(v)) continue;
                ++point.seeds, ++counted;
                point.by_seed[t->seed] = v;
                sum += v;
                point.min = counted == 1 ? v : std::min(point.min, v);
                point.max = counted == 1 ? v : std::max(point.max, v);
              }
            }
            if (counted > 0) point.mean = sum / counted;
            curve.points.push_back(point);
            keys.push_back(std::move(point_keys));
          }
          panel.curves.push_back(std::move(curve));
          panel.trial_keys.push_back(std::move(keys));
        }
        panels.push_back(std::move(panel));
      }
    }
  }
  return panels;
}

}  // namespace moet::analysis
