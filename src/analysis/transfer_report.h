// `moet report`: the transfer report of a sweep database, as one self-contained HTML page
// (inline SVG and CSS, no scripts, opens offline) and a JSON summary beside it.
//
// Per preset x ladder: loss against LR with one curve per scale and each scale's optimum marked,
// diverged trials as crosses, seed ranges as bars; loss against scale at the base-optimal LR and
// at each scale's own optimum ("larger is better"); a table of optima; the verdict line; and the
// training curves at each scale's best LR. When the init std was swept too, per preset x ladder:
// the best loss against init std with one curve per scale, and the init std's own verdict
// (init_transfer.h). A verdicts list at the top says it all in one screen.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "analysis/init_transfer.h"
#include "analysis/ladder_transfer.h"
#include "analysis/power_law.h"
#include "analysis/sweep_panels.h"
#include "sweep/results_store.h"

namespace moet::analysis {

struct ReportOptions {
  std::string metric = "val";  // val | train | an extra validation set's name
  double drift_tolerance = kDefaultDriftTolerance;
  double init_drift_tolerance = kDefaultInitDriftTolerance;  // for a swept init std
};

struct ReportFiles {
  std::string html_path, json_path;
  // plots/<preset>-<ladder>.{lr,scale}.svg, standalone (+ .init.svg per swept init std)
  std::vector<std::string> svg_paths;
  std::vector<std::string> verdicts;  // "preset / ladder: ..." one per panel, then per init sweep
  std::vector<std::string> trends;    // "preset / ladder: optimum against tokens: ...": ladders
                                      // with a run axis (tokens, batch)
};

// The power law of the optimal LR in the scale of a ladder with a run axis (tokens, batch);
// nullopt for a shape ladder.
std::optional<OptimumTrend> run_axis_trend(const Panel& panel, const LadderAnalysis& analysis);

// "sp / width" (plus ", init std 0.01" when init std was swept).
std::string panel_title(const Panel& panel);

// The JSON summary of analysed panels and init std sweeps (NaN written as null).
nlohmann::json report_summary(const std::vector<Panel>& panels,
                              const std::vector<LadderAnalysis>& analyses,
                              const std::vector<InitTransfer>& inits, const ReportOptions& options);

// Writes out_dir/index.html, out_dir/summary.json and each panel's loss-vs-LR and loss-vs-scale
// figures (and each init sweep's loss-vs-init-std figure) as out_dir/plots/*.svg (atomically);
// throws Error when the database has no finished trial to report on.
ReportFiles write_transfer_report(const sweep::ResultsStore& store, const std::string& out_dir,
                                  const ReportOptions& options);

}  // namespace moet::analysis
