// The coordinate check's report: per metric and layer, the mean over seeds at every scale and
// recorded step, the log-log slope per step, and a verdict — as a table, as JSON.
//
// The row's verdict is the one at the last recorded step: by then the updates of every step
// have added up, which is where a wrong parameterization shows (microsoft/mup's coord check
// looks at the same place: SP "blows up after 1 step"). The table prints every recorded step's
// slope beside it, so an init-time exception (e.g. logits that start at 0) is visible too.
// A verdict is `uncertain` when the last slope's standard error reaches the flat threshold:
// the points are too far from a line in log-log for the threshold to decide (the table marks
// it "?"; look at the plot).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "coord/fit.h"
#include "coord/run.h"

namespace moet {

struct CoordRow {
  std::string metric, layer;
  std::vector<std::vector<double>> mean;    // [step][scale], mean over seeds (NaN if any is)
  std::vector<SlopeFit> fits;               // per step
  std::vector<Verdict> verdicts;            // per step
  Verdict verdict = Verdict::undetermined;  // at the last recorded step
  bool uncertain = false;                   // the last fit's slope_stderr >= the flat threshold
};

struct CoordAnalysis {
  double flat_threshold = kDefaultFlatThreshold;
  std::vector<CoordRow> rows;  // metric families in a fixed order (act, delta, eff/prop, moe,
                               // load, loss), then the probe's order, then layer
};

CoordAnalysis analyse_coord(const CoordData& data, double flat_threshold);

// Rows whose metric starts with one of the prefixes (all rows when there are none).
std::vector<const CoordRow*> select_rows(const CoordAnalysis& analysis,
                                         const std::vector<std::string>& prefixes);

// Header lines, then one line per selected row: slope at each recorded step, the standard error
// of the last one, the value at the smallest and largest scale at the last step, the verdict.
std::string format_coord_table(const CoordData& data, const CoordAnalysis& analysis,
                               const std::vector<std::string>& prefixes = {});

// Everything: settings, shapes, every value per seed, means, fits and verdicts (NaN as null).
nlohmann::json coord_to_json(const CoordData& data, const CoordAnalysis& analysis);

}  // namespace moet
