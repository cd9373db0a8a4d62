#include "analysis/cost_curve.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "analysis/svg_plot.h"
#include "core/error.h"
#include "core/files.h"
#include "core/json_text.h"

namespace moet::analysis {

namespace {

double positive_number(const nlohmann::json& object, const char* key, const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number() || !(it->get<double>() > 0))
    fail("{}: {} must be a positive number", where, key);
  return it->get<double>();
}

double optional_number(const nlohmann::json& object, const char* key, const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return NAN;
  return positive_number(object, key, where);
}

CostPoint read_point(const nlohmann::json& line, const std::string& where) {
  CostPoint p;
  p.value = positive_number(line, "value", where);
  const auto moet = line.find("moet");
  if (moet == line.end() || !moet->is_object())
    fail("{}: moet must be a `moet bench --json` object", where);
  const std::string in_moet = where + ": moet";
  p.tokens_per_s = positive_number(*moet, "tokens_per_s", in_moet);
  p.peak_fraction = positive_number(*moet, "peak_fraction", in_moet);
  p.rss_kib_per_token = positive_number(*moet, "peak_rss_mb", in_moet) * 1024 /
                        positive_number(*moet, "tokens_per_step", in_moet);
  p.torch_tokens_per_s = optional_number(line, "torch_tokens_per_s", where);
  p.torch_peak_fraction = optional_number(line, "torch_peak_fraction", where);
  return p;
}

svg::Point point(double x, double y, const std::string& text) {
  svg::Point p;
  p.x = std::log2(x);
  p.y = y;
  p.title = text;
  return p;
}

std::string stacked(const std::vector<std::string>& plots, int width, int height) {
  std::string out =
      fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\">\n", width,
                  height * int(plots.size()));
  for (size_t i = 0; i < plots.size(); ++i)
    out += fmt::format("<g transform=\"translate(0,{})\">\n{}</g>\n", int(i) * height, plots[i]);
  return out + "</svg>\n";
}

}  // namespace

CostCurve read_cost_curve(const std::string& path) {
  std::istringstream lines(read_file(path));
  CostCurve curve;
  std::string text;
  for (int64_t n = 1; std::getline(lines, text); ++n) {
    if (text.empty()) continue;
    const std::string where = fmt::format("{}:{}", path, n);
    const nlohmann::json line = parse_json(text, where);
    if (!line.is_object()) fail("{}: not a JSON object", where);
    const auto axis = line.find("axis");
    if (axis == line.end() || !axis->is_string() || axis->get<std::string>().empty())
      fail("{}: axis must be a non-empty string", where);
    if (!curve.axis.empty() && curve.axis != axis->get<std::string>())
      fail("{}: axis '{}' differs from the file's first line ('{}')", where,
           axis->get<std::string>(), curve.axis);
    curve.axis = axis->get<std::string>();
    curve.points.push_back(read_point(line, where));
  }
  if (curve.points.empty()) fail("{}: no points", path);
  std::stable_sort(curve.points.begin(), curve.points.end(),
                   [](const CostPoint& a, const CostPoint& b) { return a.value < b.value; });
  return curve;
}

std::string cost_curve_svg(const CostCurve& curve) {
  struct Metric {
    const char* label;
    double CostPoint::*moet;
    double CostPoint::*torch;  // null: moet only
    double scale;
  };
  const Metric metrics[] = {
      {"tokens/s", &CostPoint::tokens_per_s, &CostPoint::torch_tokens_per_s, 1},
      {"% of the measured fp32 peak", &CostPoint::peak_fraction, &CostPoint::torch_peak_fraction,
       100},
      {"peak RSS per token (KiB)", &CostPoint::rss_kib_per_token, nullptr, 1}};
  std::vector<std::string> plots;
  svg::Plot plot;
  for (const Metric& m : metrics) {
    plot = {};
    plot.title = fmt::format("{} along {}", m.label, curve.axis);
    plot.x_label = curve.axis + " (log2 axis)";
    plot.y_label = m.label;
    plot.integer_x_ticks = true;
    plot.x_tick_text = [](double x) { return fmt::format("{:g}", std::exp2(x)); };
    svg::Series moet{"moet", svg::palette(0), {}};
    svg::Series torch{"PyTorch eager", svg::palette(1), {}};
    torch.dashed = true;
    for (const CostPoint& p : curve.points) {
      const std::string at = fmt::format("{} {:g}: ", curve.axis, p.value);
      moet.points.push_back(
          point(p.value, p.*m.moet * m.scale, at + fmt::format("{:.4g}", p.*m.moet * m.scale)));
      if (m.torch && std::isfinite(p.*m.torch))
        torch.points.push_back(
            point(p.value, p.*m.torch * m.scale, at + fmt::format("{:.4g}", p.*m.torch * m.scale)));
    }
    plot.series.push_back(moet);
    if (!torch.points.empty()) plot.series.push_back(torch);
    plots.push_back(svg::render(plot));
  }
  return stacked(plots, plot.width, plot.height);
}

}  // namespace moet::analysis
