#include "coord/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "coord/ladder.h"
#include "core/json_text.h"

namespace moet {

namespace {

// Families in reading order: what the model computes, how it moved, why it moved.
int family_rank(const std::string& metric) {
  static const std::vector<std::string> families = {"act.", "delta.", "eff.", "prop.",
                                                    "moe.", "load.",  "loss"};
  for (size_t i = 0; i < families.size(); ++i)
    if (metric.rfind(families[i], 0) == 0) return families[i] == "prop." ? 2 : int(i);
  return int(families.size());
}

// "-" (whole model) first, blocks in order, "last" after them.
int layer_rank(const std::string& layer) {
  if (layer == "-") return -1;
  if (layer == "last") return 1 << 20;
  return std::stoi(layer);
}

// "eff.attn_q" and "prop.attn_q" sort together, effective first.
std::string role_of(const std::string& metric) {
  const size_t dot = metric.find('.');
  return dot == std::string::npos ? metric : metric.substr(dot + 1);
}

std::string format_value(double v) {
  if (std::isnan(v)) return "nan";
  if (v == 0) return "0";
  return fmt::format("{:.3g}", v);
}

std::string format_slope(const CoordRow& row, size_t step) {
  const Verdict v = row.verdicts[step];
  if (v == Verdict::zero) return "0";
  if (v == Verdict::diverged) return "nan";
  if (v == Verdict::undetermined) return "-";
  return fmt::format("{:+.2f}", row.fits[step].slope);
}

}  // namespace

CoordAnalysis analyse_coord(const CoordData& data, double flat_threshold) {
  CoordAnalysis analysis;
  analysis.flat_threshold = flat_threshold;
  std::map<std::string, size_t> first_seen;  // role -> order in the probe's output
  for (const CoordSeries& s : data.series) first_seen.emplace(role_of(s.metric), first_seen.size());
  for (const CoordSeries& s : data.series) {
    CoordRow row{s.metric, s.layer, {}, {}, {}, Verdict::undetermined};
    for (const auto& per_scale : s.values) {
      std::vector<double> mean;
      for (const auto& seeds : per_scale) {
        double sum = 0;
        for (const double v : seeds) sum += v;  // NaN stays NaN
        mean.push_back(sum / double(seeds.size()));
      }
      const SlopeFit fit = fit_log_log(data.scales, mean);
      row.verdicts.push_back(classify(mean, fit, flat_threshold));
      row.fits.push_back(fit);
      row.mean.push_back(std::move(mean));
    }
    if (!row.verdicts.empty()) {
      row.verdict = row.verdicts.back();
      const SlopeFit& last = row.fits.back();
      row.uncertain = last.points > 2 && last.slope_stderr >= flat_threshold &&
                      (row.verdict == Verdict::flat || row.verdict == Verdict::grows ||
                       row.verdict == Verdict::shrinks);
    }
    analysis.rows.push_back(std::move(row));
  }
  std::stable_sort(analysis.rows.begin(), analysis.rows.end(),
                   [&](const CoordRow& a, const CoordRow& b) {
                     const auto key = [&](const CoordRow& r) {
                       return std::make_tuple(family_rank(r.metric), first_seen[role_of(r.metric)],
                                              r.metric.rfind("prop.", 0) == 0, layer_rank(r.layer));
                     };
                     return key(a) < key(b);
                   });
  return analysis;
}

std::vector<const CoordRow*> select_rows(const CoordAnalysis& analysis,
                                         const std::vector<std::string>& prefixes) {
  std::vector<const CoordRow*> out;
  for (const CoordRow& row : analysis.rows) {
    bool keep = prefixes.empty();
    for (const std::string& p : prefixes) keep = keep || row.metric.rfind(p, 0) == 0;
    if (keep) out.push_back(&row);
  }
  return out;
}

std::string format_coord_table(const CoordData& data, const CoordAnalysis& analysis,
                               const std::vector<std::string>& prefixes) {
  using param::Axis;
  std::string out;
  const auto& first = data.shapes.front();
  const auto& last = data.shapes.back();
  std::string ladder;
  for (const Axis a : data.axes)
    ladder += fmt::format("{}{} {}..{}", ladder.empty() ? "" : ", ", param::axis_name(a), first[a],
                          last[a]);
  std::string scales;
  for (const double s : data.scales) scales += fmt::format("{}{:g}", scales.empty() ? "" : " ", s);
  out += fmt::format("coordinate check: preset {}{}, depth {}, {}; axis {} ({}), scales {}\n",
                     data.preset, data.regime.empty() ? "" : " (regime " + data.regime + ")",
                     data.depth, data.optimizer, describe_axes(data.axes, data.shrinking), ladder,
                     scales);
  out += fmt::format(
      "{} steps, {} seed{}; slope of log(RMS) on log(scale), mean over seeds, per recorded step; "
      "verdict at t={}: flat if |slope| < {:g} (? = standard error se >= {:g})\n\n",
      data.train_steps, data.seeds, data.seeds == 1 ? "" : "s", data.steps.back(),
      analysis.flat_threshold, analysis.flat_threshold);

  const std::vector<const CoordRow*> rows = select_rows(analysis, prefixes);
  size_t metric_width = 6;
  for (const CoordRow* r : rows) metric_width = std::max(metric_width, r->metric.size());
  const std::string value_head = fmt::format("t={} value, scale {:g} -> {:g}", data.steps.back(),
                                             data.scales.front(), data.scales.back());
  out += fmt::format("{:<{}}  {:>5}", "metric", metric_width, "layer");
  for (const int64_t t : data.steps) out += fmt::format("  {:>6}", fmt::format("t={}", t));
  out += fmt::format("  {:>4}", "se");
  out += fmt::format("  {:<24}  {}\n",
                     value_head.size() <= 24 ? value_head : "value (first -> last)", "verdict");
  for (const CoordRow* r : rows) {
    out += fmt::format("{:<{}}  {:>5}", r->metric, metric_width, r->layer);
    for (size_t t = 0; t < data.steps.size(); ++t)
      out += fmt::format("  {:>6}", format_slope(*r, t));
    const SlopeFit& last = r->fits.back();
    out += fmt::format("  {:>4}", last.points > 2 ? fmt::format("{:.2f}", last.slope_stderr) : "-");
    const std::vector<double>& m = r->mean.back();
    out +=
        fmt::format("  {:<24}  {}{}\n", format_value(m.front()) + " -> " + format_value(m.back()),
                    verdict_name(r->verdict), r->uncertain ? "?" : "");
  }
  std::map<std::string, int> counts;
  int uncertain = 0;
  for (const CoordRow* r : rows) ++counts[verdict_name(r->verdict)], uncertain += r->uncertain;
  std::string summary;
  for (const auto& [name, n] : counts)
    summary += fmt::format("{}{} {}", summary.empty() ? "" : ", ", n, name);
  if (uncertain > 0) summary += fmt::format(" ({} of them uncertain)", uncertain);
  out += fmt::format("\n{} rows: {}\n", rows.size(), summary);
  return out;
}

nlohmann::json coord_to_json(const CoordData& data, const CoordAnalysis& analysis) {
  using param::Axis;
  nlohmann::json j;
  j["format"] = "moet-coord/1";
  j["preset"] = data.preset;
  j["regime"] = data.regime;
  j["depth"] = data.depth;
  j["optimizer"] = data.optimizer;
  j["axes"] = nlohmann::json::array();
  for (const Axis a : data.axes) j["axes"].push_back(axis_label(a, data.shrinking));
  j["scales"] = data.scales;
  j["shapes"] = nlohmann::json::array();
  for (const auto& s : data.shapes) {
    nlohmann::json shape;
    for (const Axis a : param::kAllAxes) shape[param::axis_name(a)] = s[a];
    j["shapes"].push_back(shape);
  }
  j["steps"] = data.steps;
  j["train_steps"] = data.train_steps;
  j["seeds"] = data.seeds;
  j["flat_threshold"] = analysis.flat_threshold;
  std::map<std::pair<std::string, std::string>, const CoordSeries*> series;
  for (const CoordSeries& s : data.series) series[{s.metric, s.layer}] = &s;
  j["metrics"] = nlohmann::json::array();
  for (const CoordRow& row : analysis.rows) {
    nlohmann::json m;
    m["metric"] = row.metric;
    m["layer"] = row.layer;
    nlohmann::json values = nlohmann::json::array(), mean = nlohmann::json::array();
    for (const auto& per_scale : series.at({row.metric, row.layer})->values) {
      nlohmann::json step = nlohmann::json::array();
      for (const auto& seeds : per_scale) {
        nlohmann::json s = nlohmann::json::array();
        for (const double v : seeds) s.push_back(finite_or_null(v));
        step.push_back(s);
      }
      values.push_back(step);
    }
    for (const auto& per_scale : row.mean) {
      nlohmann::json step = nlohmann::json::array();
      for (const double v : per_scale) step.push_back(finite_or_null(v));
      mean.push_back(step);
    }
    m["values"] = values;  // [step][scale][seed]
    m["mean"] = mean;      // [step][scale]
    m["slope"] = nlohmann::json::array();
    m["slope_stderr"] = nlohmann::json::array();
    m["verdicts"] = nlohmann::json::array();
    for (size_t t = 0; t < row.fits.size(); ++t) {
      const bool fitted = row.fits[t].points > 0;
      m["slope"].push_back(fitted ? finite_or_null(row.fits[t].slope) : nlohmann::json(nullptr));
      m["slope_stderr"].push_back(fitted ? finite_or_null(row.fits[t].slope_stderr)
                                         : nlohmann::json(nullptr));
      m["verdicts"].push_back(verdict_name(row.verdicts[t]));
    }
    m["verdict"] = verdict_name(row.verdict);
    m["uncertain"] = row.uncertain;
    j["metrics"].push_back(m);
  }
  return j;
}

}  // namespace moet
