#include "analysis/coord_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "analysis/svg_plot.h"
#include "coord/ladder.h"

namespace moet {

namespace {

constexpr double kPanelW = 250, kPanelH = 180;
constexpr double kLeft = 52, kRight = 12, kTop = 40, kBottom = 26;  // plot area inside a panel
constexpr int kColumns = 5;
constexpr double kHeader = 74;

// Viridis from light (early steps) to dark (late steps), so time reads as ink.
std::string step_color(size_t i, size_t n) {
  static const double stops[][3] = {
      {253, 231, 37}, {94, 201, 98}, {33, 145, 140}, {59, 82, 139}, {68, 1, 84}};
  const double t = n <= 1 ? 1.0 : double(i) / double(n - 1);
  const double pos = t * 4;
  const int k = std::min(3, int(pos));
  const double f = pos - k;
  int rgb[3];
  for (int c = 0; c < 3; ++c)
    rgb[c] = int(std::lround(stops[k][c] + f * (stops[k + 1][c] - stops[k][c])));
  return fmt::format("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
}

const char* verdict_color(Verdict v) {
  switch (v) {
    case Verdict::flat: return "#1a7f37";
    case Verdict::grows: return "#cf222e";
    case Verdict::shrinks: return "#0550ae";
    default: return "#6e7781";
  }
}

std::string tick_label(double v) {
  const double e = std::log10(v);
  if (std::fabs(e - std::round(e)) < 1e-9 && (e >= 3 || e <= -3))
    return fmt::format("1e{}", int(std::round(e)));
  return fmt::format("{:.3g}", v);
}

void panel(std::string& svg, const CoordData& data, const CoordRow& row, double x0, double y0) {
  const double w = kPanelW - kLeft - kRight, h = kPanelH - kTop - kBottom;
  const double px = x0 + kLeft, py = y0 + kTop;
  const std::string slope =
      row.fits.back().points > 0 ? fmt::format("slope {:+.2f}", row.fits.back().slope) : "no slope";
  svg += fmt::format("<text x='{:.1f}' y='{:.1f}' font-size='12' font-weight='bold'>{}{}</text>\n",
                     x0 + 8, y0 + 15, svg::escape_xml(row.metric),
                     row.layer == "-" ? "" : svg::escape_xml(" [" + row.layer + "]"));
  const std::string se = row.fits.back().points > 2
                             ? fmt::format(" ± {:.2f}", row.fits.back().slope_stderr)
                             : std::string();
  svg += fmt::format("<text x='{:.1f}' y='{:.1f}' font-size='11' fill='{}'>{}{} · {}{}</text>\n",
                     x0 + 8, y0 + 30, verdict_color(row.verdict), slope, se,
                     verdict_name(row.verdict), row.uncertain ? "?" : "");

  double lo = INFINITY, hi = -INFINITY;
  for (const auto& step : row.mean)
    for (const double v : step)
      if (v > 0 && std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  svg += fmt::format("<rect x='{:.1f}' y='{:.1f}' width='{:.1f}' height='{:.1f}' fill='#fafafa' "
                     "stroke='#d0d7de'/>\n",
                     px, py, w, h);
  if (!(lo <= hi)) {
    svg += fmt::format("<text x='{:.1f}' y='{:.1f}' font-size='11' fill='#6e7781' "
                       "text-anchor='middle'>all values 0 or missing</text>\n",
                       px + w / 2, py + h / 2);
    return;
  }
  // Log y range padded so lines never sit on the frame; at least a factor 4 tall, so a flat
  // metric looks flat instead of filling the panel with noise.
  double ly0 = std::log10(lo), ly1 = std::log10(hi);
  const double mid = (ly0 + ly1) / 2, half = std::max((ly1 - ly0) / 2 * 1.1, std::log10(4.0) / 2);
  ly0 = mid - half, ly1 = mid + half;
  const double lx0 = std::log10(data.scales.front()), lx1 = std::log10(data.scales.back());
  const double xpad = (lx1 - lx0) * 0.06;
  const auto X = [&](double s) {
    return px + (std::log10(s) - lx0 + xpad) / (lx1 - lx0 + 2 * xpad) * w;
  };
  const auto Y = [&](double v) { return py + h - (std::log10(v) - ly0) / (ly1 - ly0) * h; };

  // y ticks at powers of ten and, inside a decade, at 2 and 5 times them.
  std::vector<double> ticks;
  for (int e = int(std::floor(ly0)); e <= int(std::ceil(ly1)); ++e)
    for (const double m : {1.0, 2.0, 5.0}) {
      const double v = m * std::pow(10.0, e);
      if (std::log10(v) >= ly0 && std::log10(v) <= ly1) ticks.push_back(v);
    }
  if (ticks.size() > 6) {
    std::vector<double> decades;
    for (const double v : ticks)
      if (std::fabs(std::log10(v) - std::round(std::log10(v))) < 1e-9) decades.push_back(v);
    if (decades.size() >= 2) ticks = decades;
  }
  for (const double v : ticks) {
    svg += fmt::format("<line x1='{:.1f}' x2='{:.1f}' y1='{:.1f}' y2='{:.1f}' stroke='#e6e8eb'/>\n",
                       px, px + w, Y(v), Y(v));
    svg += fmt::format("<text x='{:.1f}' y='{:.1f}' font-size='10' text-anchor='end' "
                       "fill='#57606a'>{}</text>\n",
                       px - 4, Y(v) + 3, tick_label(v));
  }
  for (const double s : data.scales)
    svg += fmt::format("<text x='{:.1f}' y='{:.1f}' font-size='10' text-anchor='middle' "
                       "fill='#57606a'>{:g}</text>\n",
                       X(s), py + h + 14, s);

  for (size_t t = 0; t < row.mean.size(); ++t) {
    const std::string color = step_color(t, row.mean.size());
    std::string points;
    const auto flush = [&] {
      if (std::count(points.begin(), points.end(), ' ') >= 2)
        svg += fmt::format("<polyline fill='none' stroke='{}' stroke-width='1.6' points='{}'/>\n",
                           color, points);
      points.clear();
    };
    for (size_t i = 0; i < data.scales.size(); ++i) {
      const double v = row.mean[t][i];
      if (!(v > 0) || !std::isfinite(v)) {
        flush();
        continue;
      }
      points += fmt::format("{:.1f},{:.1f} ", X(data.scales[i]), Y(v));
      svg += fmt::format("<circle cx='{:.1f}' cy='{:.1f}' r='2' fill='{}'/>\n", X(data.scales[i]),
                         Y(v), color);
    }
    flush();
  }
}

}  // namespace

std::string coord_svg(const CoordData& data, const CoordAnalysis& analysis,
                      const std::vector<std::string>& prefixes) {
  const std::vector<const CoordRow*> rows = select_rows(analysis, prefixes);
  const int columns = std::max(1, std::min(kColumns, int(rows.size())));
  const int grid_rows = (int(rows.size()) + columns - 1) / columns;
  const double width = std::max(columns * kPanelW, 620.0);
  const double height = kHeader + std::max(1, grid_rows) * kPanelH + 8;
  std::string svg =
      fmt::format("<svg xmlns='http://www.w3.org/2000/svg' width='{:.0f}' height='{:.0f}' "
                  "viewBox='0 0 {:.0f} {:.0f}' font-family='Helvetica, Arial, sans-serif'>\n"
                  "<rect width='100%' height='100%' fill='white'/>\n",
                  width, height, width, height);
  std::string ladder;
  for (const param::Axis a : data.axes)
    ladder += fmt::format("{}{} {}..{}", ladder.empty() ? "" : ", ", param::axis_name(a),
                          data.shapes.front()[a], data.shapes.back()[a]);
  svg += fmt::format(
      "<text x='10' y='22' font-size='15' font-weight='bold'>coordinate check: {}{} along {} "
      "({})</text>\n",
      svg::escape_xml(data.preset), data.regime.empty() ? "" : " (regime " + data.regime + ")",
      svg::escape_xml(describe_axes(data.axes, data.shrinking)), svg::escape_xml(ladder));
  svg += fmt::format(
      "<text x='10' y='40' font-size='11' fill='#57606a'>RMS (mean of {} seed{}) against scale, "
      "log-log; {} steps, {}; verdict at t={}: flat if |slope| &lt; {:g}</text>\n",
      data.seeds, data.seeds == 1 ? "" : "s", data.train_steps, svg::escape_xml(data.optimizer),
      data.steps.back(), analysis.flat_threshold);
  double lx = 10;
  svg += "<text x='10' y='62' font-size='11'>step:</text>\n";
  lx += 36;
  for (size_t t = 0; t < data.steps.size(); ++t) {
    svg += fmt::format("<line x1='{:.0f}' x2='{:.0f}' y1='58' y2='58' stroke='{}' "
                       "stroke-width='3'/>\n",
                       lx, lx + 18, step_color(t, data.steps.size()));
    svg +=
        fmt::format("<text x='{:.0f}' y='62' font-size='11'>{}</text>\n", lx + 22, data.steps[t]);
    lx += 52;
  }
  for (size_t i = 0; i < rows.size(); ++i)
    panel(svg, data, *rows[i], double(int(i) % columns) * kPanelW,
          kHeader + double(int(i) / columns) * kPanelH);
  svg += "</svg>\n";
  return svg;
}

}  // namespace moet
