#include "analysis/tuned_globals.h"

#include <algorithm>

#include "core/config.h"
#include "core/error.h"

namespace moet::analysis {

TunedGlobals tune_globals(const std::vector<Panel>& panels, const std::string& preset,
                          const std::string& ladder, double drift_tolerance) {
  std::vector<std::string> presets, ladders;
  for (const Panel& p : panels)
    if (std::find(presets.begin(), presets.end(), p.preset) == presets.end())
      presets.push_back(p.preset);
  std::string chosen_preset = preset;
  if (chosen_preset.empty()) {
    if (presets.size() != 1) fail("--preset: the database holds {}; name one", join(presets, ", "));
    chosen_preset = presets.front();
  } else if (std::find(presets.begin(), presets.end(), preset) == presets.end()) {
    fail("--preset: '{}' is not in the database (it has {})", preset, join(presets, ", "));
  }
  for (const Panel& p : panels)
    if (p.preset == chosen_preset &&
        std::find(ladders.begin(), ladders.end(), p.ladder) == ladders.end())
      ladders.push_back(p.ladder);
  const std::string chosen_ladder = ladder.empty() ? ladders.front() : ladder;
  if (std::find(ladders.begin(), ladders.end(), chosen_ladder) == ladders.end())
    fail("--ladder: '{}' has no trials of preset {} (ladders: {})", ladder, chosen_preset,
         join(ladders, ", "));

  TunedGlobals best;
  for (const Panel& p : panels) {
    if (p.preset != chosen_preset || p.ladder != chosen_ladder || p.curves.empty()) continue;
    const LadderAnalysis a = analyze_ladder(p.curves, drift_tolerance);
    const Optimum& o = a.optima[size_t(a.base)];
    if (o.kind == OptimumKind::none) continue;
    if (std::isfinite(best.base_loss) && !(o.loss < best.base_loss)) continue;
    best.preset = p.preset;
    best.ladder = p.ladder;
    best.log2_lr = o.log2_x;
    best.kind = o.kind;
    best.base_loss = o.loss;
    best.base_scale = p.curves[size_t(a.base)].scale;
    best.init_std = p.init_std;
    best.init_swept = p.init_swept;
    best.verdict = p.preset + " / " + p.ladder + ": " + a.verdict;
    const ScaleCurve& base = p.curves[size_t(a.base)];
    for (size_t j = 0; j < base.points.size(); ++j)
      if (base.points[j].log2_lr == o.grid_log2_x && !p.trial_keys[size_t(a.base)][j].empty())
        best.base_trial = p.trial_keys[size_t(a.base)][j].front();
  }
  if (best.kind == OptimumKind::none)
    fail("preset {}, ladder {}: no finished, non-diverged trial at the base scale", chosen_preset,
         chosen_ladder);
  return best;
}

}  // namespace moet::analysis
