#include "analysis/transfer_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <optional>

#include "analysis/svg_plot.h"
#include "core/error.h"
#include "core/files.h"
#include "core/json_text.h"
#include "sweep/ladder_axis.h"

namespace moet::analysis {

namespace {

using svg::escape_xml;

const char* trend_name(Trend t) {
  switch (t) {
    case Trend::better: return "yes";
    case Trend::not_better: return "no";
    case Trend::unknown: return "unknown";
  }
  return "?";
}

std::string metric_label(const std::string& metric) {
  if (metric == "val") return "validation loss";
  if (metric == "train") return "training loss";
  return "validation loss (" + metric + ")";
}

std::string lr_text(double log2_lr) {
  return fmt::format("2^{:.2f} = {:.3g}", log2_lr, std::exp2(log2_lr));
}

// The top of the y axis: far-off points (near-divergent LRs) are clipped so the region around
// the optima keeps its resolution.
double y_clip_of(const Panel& panel) {
  std::vector<double> values;
  for (const ScaleCurve& c : panel.curves)
    for (const LrPoint& p : c.points)
      if (std::isfinite(p.mean) && !p.is_diverged()) values.push_back(p.mean);
  if (values.size() < 4) return NAN;
  std::sort(values.begin(), values.end());
  const double lo = values.front(), q3 = values[values.size() * 3 / 4];
  return lo + std::max(0.1, 1.5 * (q3 - lo));
}

// The star at a curve's optimum (the parabola's vertex when fitted); where names the optimum's
// place on the x axis ("lr 2^-6.00 = 0.0156").
svg::Marker optimum_marker(const Optimum& o, double scale, const std::string& color,
                           const std::string& where) {
  svg::Marker m;
  m.x = o.log2_x;
  m.y = o.kind == OptimumKind::fit ? o.fitted_loss : o.loss;
  m.color = color;
  m.css_class = "optimum";
  m.title = fmt::format("{} optimum ({}): {}, loss {:.4f}", scale_label(scale),
                        optimum_kind_name(o.kind), where, m.y);
  return m;
}

// title_prefix names the panel when the figure stands alone (its own file); the page's headings
// do that for the inline copy.
std::string lr_plot(const Panel& panel, const LadderAnalysis& a, const std::string& metric,
                    const std::string& title_prefix = "") {
  svg::Plot plot;
  plot.css_class = "plot lr-plot";
  plot.title = title_prefix + "loss against learning rate";
  plot.x_label = "learning rate (optim.lr, log scale)";
  plot.y_label = metric_label(metric);
  plot.integer_x_ticks = true;
  plot.x_tick_text = svg::power_of_two_text;
  plot.y_clip = y_clip_of(panel);
  for (size_t i = 0; i < panel.curves.size(); ++i) {
    const ScaleCurve& c = panel.curves[i];
    const std::string color = svg::palette(i);
    svg::Series s;
    s.name = scale_label(c.scale) + "  " + c.shape;
    s.color = color;
    for (const LrPoint& p : c.points) {
      svg::Point q;
      q.x = p.log2_lr;
      const std::string where =
          fmt::format("{} ({}), lr {}", scale_label(c.scale), c.shape, lr_text(p.log2_lr));
      if (p.is_diverged()) {
        svg::Marker m;
        m.x = p.log2_lr;
        m.shape = svg::Shape::cross;
        m.color = color;
        m.css_class = "diverged";
        m.title = fmt::format("{}: diverged ({} of {} seeds)", where, p.diverged, p.seeds);
        plot.markers.push_back(m);
        s.points.push_back(q);  // a gap in the line
        continue;
      }
      q.y = p.mean;
      if (p.seeds > 1) q.y_low = p.min, q.y_high = p.max;
      q.title = p.seeds > 1 ? fmt::format("{}: {:.4f} (mean of {} seeds, range {:.4f} to {:.4f})",
                                          where, p.mean, p.seeds, p.min, p.max)
                            : fmt::format("{}: {:.4f}", where, p.mean);
      s.points.push_back(q);
    }
    plot.series.push_back(s);
    const Optimum& o = a.optima[i];
    if (o.kind != OptimumKind::none)
      plot.markers.push_back(optimum_marker(o, c.scale, color, "lr " + lr_text(o.log2_x)));
  }
  if (std::isfinite(a.base_grid_log2_lr))
    plot.x_rules.push_back({a.base_grid_log2_lr, "base-optimal LR"});
  return svg::render(plot);
}

std::string scale_plot(const Panel& panel, const LadderAnalysis& a, const std::string& metric,
                       const std::string& title_prefix = "") {
  svg::Plot plot;
  plot.css_class = "plot scale-plot";
  plot.title = title_prefix + "larger is better?";
  plot.x_label = "scale (log scale)";
  plot.y_label = metric_label(metric);
  plot.width = 460;
  plot.integer_x_ticks = true;
  plot.x_tick_text = [](double e) { return fmt::format("x{:g}", std::exp2(e)); };
  svg::Series at_base{"at base-optimal LR", svg::palette(0), {}, false, true};
  svg::Series at_own{"at own optimum", svg::palette(1), {}, true, true};
  for (size_t i = 0; i < panel.curves.size(); ++i) {
    const double x = std::log2(panel.curves[i].scale);
    at_base.points.push_back({x, a.loss_at_base_lr[i], NAN, NAN,
                              fmt::format("{}: {:.4f} at lr {}", scale_label(panel.curves[i].scale),
                                          a.loss_at_base_lr[i], lr_text(a.base_grid_log2_lr))});
    at_own.points.push_back({x, a.optima[i].loss, NAN, NAN,
                             fmt::format("{}: {:.4f} at lr {}", scale_label(panel.curves[i].scale),
                                         a.optima[i].loss, lr_text(a.optima[i].grid_log2_x))});
  }
  plot.series = {at_base, at_own};
  return svg::render(plot);
}

// Best loss against init std, one curve per scale: where the init std's optimum sits.
std::string init_plot(const InitTransfer& t, const std::string& metric,
                      const std::string& title_prefix = "") {
  svg::Plot plot;
  plot.css_class = "plot init-plot";
  plot.title = title_prefix + "best loss against init std";
  plot.x_label = "init std (param.init_std, log scale), each at its best LR";
  plot.y_label = metric_label(metric);
  plot.integer_x_ticks = true;
  plot.x_tick_text = [](double e) { return fmt::format("{:.3g}", std::exp2(e)); };
  for (size_t i = 0; i < t.curves.size(); ++i) {
    const InitCurve& c = t.curves[i];
    svg::Series s{scale_label(c.scale) + "  " + c.shape, svg::palette(i), {}, false, true};
    for (const InitStdPoint& q : c.points) {
      const std::string where = fmt::format("{}, init std {:g}", scale_label(c.scale), q.init_std);
      const bool finite = std::isfinite(q.loss);
      s.points.push_back(
          {std::log2(q.init_std), finite ? q.loss : NAN, NAN, NAN,
           finite ? fmt::format("{}: {:.4f} at lr {}", where, q.loss, lr_text(q.log2_lr))
                  : where + ": no finished, non-diverged trial"});
    }
    plot.series.push_back(s);
    const Optimum& o = c.optimum;
    if (o.kind != OptimumKind::none)
      plot.markers.push_back(optimum_marker(o, c.scale, svg::palette(i),
                                            fmt::format("init std {:.3g}", std::exp2(o.log2_x))));
  }
  return svg::render(plot);
}

// "sp / width": the preset x ladder an init std analysis belongs to.
std::string init_title(const InitTransfer& t) { return t.preset + " / " + t.ladder; }

std::string init_table(const InitTransfer& t) {
  std::string head = "<tr><th>scale</th><th>shape</th>";
  for (const InitStdPoint& q : t.curves.front().points)
    head += fmt::format("<th>init std {:g}</th>", q.init_std);
  head += "<th>optimal init std</th><th>estimate</th></tr>\n";
  std::string rows;
  for (const InitCurve& c : t.curves) {
    rows += fmt::format("<tr><td>{}</td><td>{}</td>", scale_label(c.scale), escape_xml(c.shape));
    for (const InitStdPoint& q : c.points)
      rows += std::isfinite(q.loss)
                  ? fmt::format("<td>{:.4f} <small>(lr 2^{:g})</small></td>", q.loss, q.log2_lr)
                  : std::string("<td>—</td>");
    rows += fmt::format("<td>{}</td><td>{}</td></tr>\n",
                        c.optimum.kind == OptimumKind::none
                            ? std::string("—")
                            : fmt::format("{:.3g}", std::exp2(c.optimum.log2_x)),
                        optimum_kind_name(c.optimum.kind));
  }
  return "<table>" + head + rows + "</table>\n";
}

std::string curves_plot(const sweep::ResultsStore& store, const Panel& panel,
                        const LadderAnalysis& a) {
  svg::Plot plot;
  plot.css_class = "plot step-plot";
  plot.title = "training curves at each scale's best LR (first seed)";
  plot.x_label = "tokens";
  plot.y_label = "loss";
  bool any = false;
  for (size_t i = 0; i < panel.curves.size(); ++i) {
    const Optimum& o = a.optima[i];
    if (o.kind == OptimumKind::none) continue;
    for (size_t j = 0; j < panel.curves[i].points.size(); ++j) {
      if (std::abs(panel.curves[i].points[j].log2_lr - o.grid_log2_x) > 1e-6) continue;
      const auto& keys = panel.trial_keys[i][j];
      if (keys.empty()) continue;
      svg::Series train{
          scale_label(panel.curves[i].scale) + " train", svg::palette(i), {}, false, false};
      svg::Series val{scale_label(panel.curves[i].scale) + " val", svg::palette(i), {}, true, true};
      for (const sweep::CurvePoint& p : store.curve(keys.front())) {
        train.points.push_back(
            {double(p.tokens), p.loss, NAN, NAN, fmt::format("step {}: {:.4f}", p.step, p.loss)});
        if (std::isfinite(p.val_loss))
          val.points.push_back({double(p.tokens), p.val_loss, NAN, NAN,
                                fmt::format("step {}: val {:.4f}", p.step, p.val_loss)});
      }
      any = any || !train.points.empty();
      plot.series.push_back(train);
      if (!val.points.empty()) plot.series.push_back(val);
    }
  }
  return any ? svg::render(plot) : std::string();
}

// "2^-6.20 … -5.90 (3 seeds)": where the seeds' own optima lie, the yardstick for a drift.
std::string seed_optima_text(const std::vector<SeedOptimum>& seeds) {
  double lo = INFINITY, hi = -INFINITY;
  int edges = 0;
  for (const SeedOptimum& s : seeds) {
    if (s.optimum.kind == OptimumKind::none) continue;
    lo = std::min(lo, s.optimum.log2_x), hi = std::max(hi, s.optimum.log2_x);
    edges += s.optimum.kind == OptimumKind::edge;
  }
  if (!(lo <= hi)) return "—";
  return fmt::format("2^{:.2f} … {:.2f} ({} seeds{})", lo, hi, seeds.size(),
                     edges ? fmt::format(", {} at a grid edge", edges) : "");
}

std::string optima_table(const Panel& panel, const LadderAnalysis& a) {
  std::string rows;
  for (size_t i = 0; i < panel.curves.size(); ++i) {
    const ScaleCurve& c = panel.curves[i];
    const Optimum& o = a.optima[i];
    int diverged = 0, points = 0;
    for (const LrPoint& p : c.points) points += p.seeds > 0, diverged += p.is_diverged();
    std::string at_base = "—";
    if (std::isfinite(a.loss_at_base_lr[i])) {
      at_base = fmt::format("{:.4f}", a.loss_at_base_lr[i]);
      if (std::isfinite(a.seed_range_at_base_lr[i]))
        at_base += fmt::format(" (seed range {:.4f})", a.seed_range_at_base_lr[i]);
    }
    rows += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}/{}</td></tr>\n",
        scale_label(c.scale) + (int(i) == a.base ? " (base)" : ""), escape_xml(c.shape),
        o.kind == OptimumKind::none ? "—" : escape_xml(lr_text(o.log2_x)),
        optimum_kind_name(o.kind),
        a.seed_optima[i].empty() ? "—" : escape_xml(seed_optima_text(a.seed_optima[i])),
        std::isfinite(o.loss) ? fmt::format("{:.4f}", o.loss) : "—", at_base, diverged, points);
  }
  return "<table><tr><th>scale</th><th>shape</th><th>optimal LR</th><th>estimate</th>"
         "<th>optimal LR per seed</th><th>best loss</th><th>loss at base-optimal LR</th>"
         "<th>diverged LRs</th></tr>\n" +
         rows + "</table>\n";
}

constexpr const char* kStyle = R"css(
body { font-family: sans-serif; margin: 24px auto; max-width: 1180px; color: #222; line-height: 1.4; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 18px; margin: 0 0 6px 0; }
.meta { color: #555; font-size: 13px; }
.verdicts { list-style: none; padding: 0; }
.verdicts li, p.verdict { padding: 6px 10px; margin: 4px 0; border-left: 5px solid #999; background: #f6f6f6; }
.good { border-left-color: #009E73 !important; }
.bad { border-left-color: #D55E00 !important; }
.mixed { border-left-color: #E69F00 !important; }
section.panel { border-top: 1px solid #ccc; margin-top: 26px; padding-top: 14px; }
.figures { display: flex; flex-wrap: wrap; gap: 12px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
th { background: #f0f0f0; }
.notes { font-size: 13px; color: #8a5a00; }
details { margin: 6px 0; }
code { background: #f3f3f3; padding: 1px 4px; }
)css";

std::string verdict_class(const LadderAnalysis& a) {
  const bool better = a.at_base_lr == Trend::better && a.at_optimum == Trend::better;
  if (a.drift.holds && better) return "good";
  if (a.drift.fails) return better ? "mixed" : "bad";
  return "mixed";
}

// The power law of the optimum in a run axis's scale, for summary.json.
nlohmann::json trend_json(const OptimumTrend& t) {
  nlohmann::json out = {{"fitted", t.fitted}, {"left_out", t.left_out}, {"text", t.text}};
  if (!t.fitted) return out;
  out["scales"] = t.scales;
  out["slope"] = t.fit.slope;
  out["intercept_log2_lr"] = t.fit.intercept;
  out["slope_se"] = finite_or_null(t.fit.slope_se);
  out["residuals_octaves"] = t.fit.residuals;
  return out;
}

// A summary entry with the drift's fields added.
nlohmann::json with_drift(const Drift& d, nlohmann::json entry) {
  entry["drift_octaves"] = finite_or_null(d.octaves);
  entry["drift_per_doubling"] = finite_or_null(d.per_doubling);
  entry["drift_is_lower_bound"] = d.is_bound;
  entry["excursion_octaves"] = finite_or_null(d.excursion);
  entry["excursion_scale"] = finite_or_null(d.excursion_scale);
  entry["excursion_per_doubling"] = finite_or_null(d.excursion_per_doubling);
  entry["scale_ratio"] = d.scale_ratio;
  entry["transfers"] = d.holds;
  return entry;
}

std::string drift_class(const Drift& d) {
  if (d.holds) return "good";
  return d.fails ? "bad" : "mixed";
}

// "sp-width": a file name stem with only [A-Za-z0-9._-].
std::string plot_stem(const std::string& preset, const std::string& ladder) {
  std::string stem = preset + "-" + ladder;
  for (char& c : stem)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') c = '_';
  return stem;
}

// "sp-width" (+ "-std0.01").
std::string plot_stem(const Panel& panel) {
  return plot_stem(
      panel.preset,
      panel.ladder + (panel.init_swept ? fmt::format("-std{:g}", panel.init_std) : std::string()));
}

}  // namespace

std::optional<OptimumTrend> run_axis_trend(const Panel& panel, const LadderAnalysis& a) {
  const std::vector<sweep::LadderAxis> axes = sweep::parse_ladder_axes(panel.axes);
  if (!sweep::has_run_axis(axes)) return std::nullopt;
  std::vector<double> scales;
  for (const ScaleCurve& c : panel.curves) scales.push_back(c.scale);
  return optimum_trend(scales, a.optima,
                       axes.size() == 1 ? sweep::quantity_name(axes.front()) : "scale");
}

std::string panel_title(const Panel& panel) {
  std::string title = panel.preset + " / " + panel.ladder;
  if (panel.init_swept) title += fmt::format(", init std {:g}", panel.init_std);
  return title;
}

nlohmann::json report_summary(const std::vector<Panel>& panels,
                              const std::vector<LadderAnalysis>& analyses,
                              const std::vector<InitTransfer>& inits,
                              const ReportOptions& options) {
  nlohmann::json out = {{"loss", options.metric},
                        {"drift_tolerance_octaves_per_doubling", options.drift_tolerance},
                        {"init_drift_tolerance_octaves_per_doubling", options.init_drift_tolerance},
                        {"panels", nlohmann::json::array()},
                        {"init_transfer", nlohmann::json::array()}};
  for (size_t k = 0; k < panels.size(); ++k) {
    const Panel& p = panels[k];
    const LadderAnalysis& a = analyses[k];
    nlohmann::json scales = nlohmann::json::array();
    for (size_t i = 0; i < p.curves.size(); ++i) {
      const Optimum& o = a.optima[i];
      nlohmann::json seed_optima = nlohmann::json::array();
      for (const SeedOptimum& so : a.seed_optima[i])
        seed_optima.push_back({{"seed", so.seed},
                               {"kind", optimum_kind_name(so.optimum.kind)},
                               {"log2_lr", finite_or_null(so.optimum.log2_x)}});
      nlohmann::json points = nlohmann::json::array();
      for (const LrPoint& q : p.curves[i].points)
        points.push_back({{"log2_lr", q.log2_lr},
                          {"lr", std::exp2(q.log2_lr)},
                          {"mean", finite_or_null(q.mean)},
                          {"min", finite_or_null(q.min)},
                          {"max", finite_or_null(q.max)},
                          {"seeds", q.seeds},
                          {"diverged", q.diverged}});
      scales.push_back({{"scale", p.curves[i].scale},
                        {"shape", p.curves[i].shape},
                        {"optimum",
                         {{"kind", optimum_kind_name(o.kind)},
                          {"log2_lr", finite_or_null(o.log2_x)},
                          {"lr", finite_or_null(std::exp2(o.log2_x))},
                          {"loss", finite_or_null(o.loss)},
                          {"fitted_loss", finite_or_null(o.fitted_loss)}}},
                        {"loss_at_base_lr", finite_or_null(a.loss_at_base_lr[i])},
                        {"seed_range_at_base_lr", finite_or_null(a.seed_range_at_base_lr[i])},
                        {"seed_optima", seed_optima},
                        {"points", points}});
    }
    nlohmann::json entry = with_drift(
        a.drift, {{"preset", p.preset},
                  {"ladder", p.ladder},
                  {"axes", p.axes},
                  {"init_std", p.init_std},
                  {"verdict", panel_title(p) + ": " + a.verdict},
                  {"base_scale", p.curves.empty() ? 1.0 : p.curves[size_t(a.base)].scale},
                  {"base_optimal_log2_lr", finite_or_null(a.base_grid_log2_lr)},
                  {"larger_is_better_at_base_lr", trend_name(a.at_base_lr)},
                  {"larger_is_better_at_optimum", trend_name(a.at_optimum)},
                  {"notes", a.notes},
                  {"unfinished_trials", p.unfinished},
                  {"failed_trials", p.failed},
                  {"scales", scales}});
    if (const std::optional<OptimumTrend> trend = run_axis_trend(p, a))
      entry["power_law"] = trend_json(*trend);
    out["panels"].push_back(entry);
  }
  for (const InitTransfer& t : inits) {
    nlohmann::json scales = nlohmann::json::array();
    for (const InitCurve& c : t.curves) {
      nlohmann::json points = nlohmann::json::array();
      for (const InitStdPoint& q : c.points)
        points.push_back({{"init_std", q.init_std},
                          {"log2_lr", finite_or_null(q.log2_lr)},
                          {"loss", finite_or_null(q.loss)}});
      scales.push_back({{"scale", c.scale},
                        {"shape", c.shape},
                        {"optimum",
                         {{"kind", optimum_kind_name(c.optimum.kind)},
                          {"log2_init_std", finite_or_null(c.optimum.log2_x)},
                          {"init_std", finite_or_null(std::exp2(c.optimum.log2_x))},
                          {"loss", finite_or_null(c.optimum.loss)}}},
                        {"points", points}});
    }
    out["init_transfer"].push_back(
        with_drift(t.drift, {{"preset", t.preset},
                             {"ladder", t.ladder},
                             {"verdict", init_title(t) + ": " + t.verdict},
                             {"scales", scales}}));
  }
  return out;
}

namespace {

// The database's current trials by state.
struct TrialCounts {
  size_t total = 0;
  int done = 0, diverged = 0, failed = 0, unfinished = 0;
};

// A figure written beside the page: its name in plots/ and its SVG.
using SvgFile = std::pair<std::string, std::string>;

// The page's opening: its title and what the database holds, with the time it was made.
std::string page_head(const sweep::ResultsStore& store, const param::AxisValues& base,
                      const TrialCounts& n, const ReportOptions& options) {
  const std::string name = store.meta("name");
  std::string base_text;
  for (const param::Axis a : param::kAllAxes)
    base_text += fmt::format("{}{}={}", base_text.empty() ? "" : " ", param::axis_name(a), base[a]);
  char generated[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(generated, sizeof generated, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>moet transfer "
      "report{}</title>\n<style>{}</style></head><body>\n<h1>Does the tuned learning rate "
      "transfer?{}</h1>\n<p class=\"meta\">{} trials in <code>{}</code> (spec <code>{}</code>): "
      "{} done, {} diverged, {} failed, {} not finished. Base shape {}. Loss: {}. Generated "
      "{}.</p>\n",
      name.empty() ? "" : ": " + escape_xml(name), kStyle,
      name.empty() ? "" : " <small>(" + escape_xml(name) + ")</small>", n.total,
      escape_xml(store.path()), escape_xml(store.meta("spec_path")), n.done, n.diverged, n.failed,
      n.unfinished, base_text, metric_label(options.metric), generated);
}

// Every verdict, linked to its section (panels first, then init std sweeps), and how to read
// the figures.
std::string verdict_list(const std::vector<LadderAnalysis>& analyses,
                         const std::vector<InitTransfer>& inits,
                         const std::vector<std::string>& verdicts, const ReportOptions& options) {
  std::string html = "<h2>Verdicts</h2>\n<ul class=\"verdicts\">\n";
  for (size_t k = 0; k < analyses.size(); ++k)
    html += fmt::format("<li class=\"{}\"><a href=\"#panel-{}\">{}</a></li>\n",
                        verdict_class(analyses[k]), k, escape_xml(verdicts[k]));
  for (size_t k = 0; k < inits.size(); ++k)
    html += fmt::format("<li class=\"{}\"><a href=\"#init-{}\">{}</a></li>\n",
                        drift_class(inits[k].drift), k, escape_xml(verdicts[analyses.size() + k]));
  html += fmt::format(
      "</ul>\n<p class=\"meta\">How to read: each scale's optimum is the vertex of a parabola "
      "fitted in log2(LR) around its best grid point (the grid point itself when the fit is "
      "ill-posed, the best point lies at the grid's edge or the next LR diverged); stars mark "
      "optima, crosses diverged trials, open triangles values above the plot's top, bars the "
      "range over seeds. The optimum transfers when its largest move from the base's optimum, "
      "at any scale, is at most ±{:g} octaves per doubling from the base to the ladder's furthest "
      "scale (standard parameterization under Adam moves about one). "
      "\"Larger is better\" asks that loss falls at every step up the ladder, both at the "
      "base's optimal LR and at each scale's own optimum.</p>\n",
      options.drift_tolerance);
  return html;
}

// Panel k's section: verdict, notes, the loss-vs-LR and loss-vs-scale figures, the optima and
// the training curves. Its figures also go to `figures`, titled with the panel.
std::string panel_section(const sweep::ResultsStore& store, const Panel& p, const LadderAnalysis& a,
                          size_t k, const ReportOptions& options, std::vector<SvgFile>& figures) {
  std::string html = fmt::format(
      "<section class=\"panel\" id=\"panel-{}\">\n<h2>{} <small>(ladder axes {} x "
      "scale)</small></h2>\n<p class=\"verdict {}\">{}</p>\n",
      k, escape_xml(panel_title(p)), escape_xml(p.axes), verdict_class(a), escape_xml(a.verdict));
  if (!a.notes.empty() || p.unfinished || p.failed) {
    html += "<ul class=\"notes\">";
    for (const auto& n : a.notes) html += "<li>" + escape_xml(n) + "</li>";
    if (p.failed) html += fmt::format("<li>{} trials failed (see the database)</li>", p.failed);
    if (p.unfinished)
      html += fmt::format("<li>{} trials not finished yet: rerun the sweep</li>", p.unfinished);
    html += "</ul>\n";
  }
  if (const std::optional<OptimumTrend> trend = run_axis_trend(p, a))
    html += "<p class=\"meta\">" + escape_xml(trend->text) + "</p>\n";
  html += "<div class=\"figures\">\n" + lr_plot(p, a, options.metric) +
          scale_plot(p, a, options.metric) + "</div>\n" + optima_table(p, a);
  const std::string stem = plot_stem(p), prefix = panel_title(p) + ": ";
  figures.push_back({stem + ".lr.svg", lr_plot(p, a, options.metric, prefix)});
  figures.push_back({stem + ".scale.svg", scale_plot(p, a, options.metric, prefix)});
  const std::string curves = curves_plot(store, p, a);
  if (!curves.empty())
    html +=
        "<details><summary>training curves at the best LRs</summary>\n" + curves + "</details>\n";
  return html + "</section>\n";
}

// Init std sweep k's section: its verdict and the loss-vs-init-std figure and table; the figure
// also goes to `figures`.
std::string init_section(const InitTransfer& t, size_t k, const ReportOptions& options,
                         std::vector<SvgFile>& figures) {
  const std::string title = init_title(t) + ": init std";
  std::string html = fmt::format(
      "<section class=\"panel\" id=\"init-{}\">\n<h2>{}</h2>\n<p class=\"verdict {}\">{}</p>\n"
      "<p class=\"meta\">Each point is the best loss over the LR grid at that init std (the "
      "panels above); the optimum is found as the LR's is, in log2(init std), and transfers "
      "when it moves at most ±{:g} octaves per doubling of scale.</p>\n",
      k, escape_xml(title), drift_class(t.drift), escape_xml(t.verdict),
      options.init_drift_tolerance);
  html += "<div class=\"figures\">\n" + init_plot(t, options.metric) + "</div>\n" + init_table(t) +
          "</section>\n";
  figures.push_back(
      {plot_stem(t.preset, t.ladder) + ".init.svg", init_plot(t, options.metric, title + ": ")});
  return html;
}

// index.html, summary.json and plots/*.svg under out_dir, each written atomically.
void write_report_files(const std::string& out_dir, const std::string& html,
                        const nlohmann::json& summary, const std::vector<SvgFile>& figures,
                        ReportFiles& files) {
  make_dirs(out_dir);
  files.html_path = out_dir + "/index.html";
  files.json_path = out_dir + "/summary.json";
  write_file_atomic(files.html_path, html);
  write_file_atomic(files.json_path, summary.dump(1) + "\n");
  make_dirs(out_dir + "/plots");
  for (const auto& [name, svg] : figures) {
    files.svg_paths.push_back(out_dir + "/plots/" + name);
    write_file_atomic(files.svg_paths.back(), svg);
  }
}

}  // namespace

ReportFiles write_transfer_report(const sweep::ResultsStore& store, const std::string& out_dir,
                                  const ReportOptions& options) {
  const std::vector<sweep::TrialRecord> trials = store.current_trials();
  int done = 0, diverged = 0, failed = 0, unfinished = 0;
  for (const auto& t : trials) {
    if (t.status == RunStatus::done)
      ++done;
    else if (t.status == RunStatus::diverged)
      ++diverged;
    else if (t.status == RunStatus::failed)
      ++failed;
    else
      ++unfinished;
  }
  if (done + diverged == 0)
    fail("{}: no finished trials to report on ({} trials: {} failed, {} not run yet)", store.path(),
         trials.size(), failed, unfinished);
  const TrialCounts counts{trials.size(), done, diverged, failed, unfinished};
  const std::vector<Panel> panels = build_panels(trials, options.metric);
  std::vector<LadderAnalysis> analyses;
  ReportFiles files;
  for (const Panel& p : panels) {
    analyses.push_back(analyze_ladder(p.curves, options.drift_tolerance));
    files.verdicts.push_back(panel_title(p) + ": " + analyses.back().verdict);
    if (const std::optional<OptimumTrend> trend = run_axis_trend(p, analyses.back()))
      files.trends.push_back(panel_title(p) + ": " + trend->text);
  }
  const std::vector<InitTransfer> inits =
      analyze_init_transfer(panels, analyses, options.init_drift_tolerance);
  for (const InitTransfer& t : inits) files.verdicts.push_back(init_title(t) + ": " + t.verdict);

  const param::AxisValues base = store.base_shape();
  std::string html = page_head(store, base, counts, options);
  html += verdict_list(analyses, inits, files.verdicts, options);
  std::vector<SvgFile> figures;
  for (size_t k = 0; k < panels.size(); ++k)
    html += panel_section(store, panels[k], analyses[k], k, options, figures);
  for (size_t k = 0; k < inits.size(); ++k) html += init_section(inits[k], k, options, figures);
  html += fmt::format(
      "<p class=\"meta\">Next: <code>moet transfer --db {} --target TARGET.toml</code> writes the "
      "target's config with the tuned LR.</p>\n</body></html>\n",
      escape_xml(store.path()));

  nlohmann::json summary = report_summary(panels, analyses, inits, options);
  summary["database"] = store.path();
  summary["spec"] = store.meta("spec_path");
  summary["name"] = store.meta("name");
  summary["trials"] = {{"total", trials.size()},
                       {"done", done},
                       {"diverged", diverged},
                       {"failed", failed},
                       {"unfinished", unfinished}};
  nlohmann::json base_json;
  for (const param::Axis a : param::kAllAxes) base_json[param::axis_name(a)] = base[a];
  summary["base_shape"] = base_json;

  write_report_files(out_dir, html, summary, figures, files);
  return files;
}

}  // namespace moet::analysis
