#include "analysis/svg_plot.h"

#include <fmt/format.h>

#include <algorithm>

namespace moet::svg {

std::string escape_xml(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string power_of_two_text(double exponent) {
  if (std::abs(exponent - std::round(exponent)) > 1e-9) return fmt::format("2^{:g}", exponent);
  static const char* digits[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
  const long e = std::lround(exponent);
  std::string out = "2";
  if (e < 0) out += "⁻";
  for (const char c : std::to_string(std::labs(e))) out += digits[c - '0'];
  return out;
}

const std::string& palette(size_t index) {
  static const std::vector<std::string> colors = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                                  "#E69F00", "#56B4E9", "#000000", "#F0E442"};
  return colors[index % colors.size()];
}

namespace {

// Round tick positions covering [lo, hi]: steps of 1, 2 or 5 times a power of ten.
std::vector<double> nice_ticks(double lo, double hi, int target) {
  const double span = hi - lo;
  if (!(span > 0)) return {lo};
  const double raw = span / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (const double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * magnitude) {
      step = m * magnitude;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

std::string shape_path(Shape shape, double x, double y, double r) {
  switch (shape) {
    case Shape::circle:
      return fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{:.1f}\"", x, y, r);
    case Shape::cross:
      return fmt::format(
          "<path d=\"M{:.1f} {:.1f}L{:.1f} {:.1f}M{:.1f} {:.1f}L{:.1f} {:.1f}\" stroke-width=\"2.2\"",
          x - r, y - r, x + r, y + r, x - r, y + r, x + r, y - r);
    case Shape::triangle_up:
      return fmt::format("<path d=\"M{:.1f} {:.1f}L{:.1f} {:.1f}L{:.1f} {:.1f}Z\"", x, y - r,
                         x + r, y + r * 0.8, x - r, y + r * 0.8);
    case Shape::star: {
      std::string d;
      for (int i = 0; i < 10; ++i) {
        const double angle = M_PI / 5 * i - M_PI / 2;
        const double radius = i % 2 ? r * 0.45 : r;
        d += fmt::format("{}{:.1f} {:.1f}", i ? "L" : "M", x + radius * std::cos(angle),
                         y + radius * std::sin(angle));
      }
      return "<path d=\"" + d + "Z\"";
    }
  }
  return "";
}

}  // namespace

std::string render(const Plot& plot) {
  // The legend sits right of the plot area, as wide as its longest name (~7 px a character).
  size_t longest = 0;
  for (const Series& s : plot.series) longest = std::max(longest, s.name.size());
  const double left = 64, right = 52 + 7.0 * double(longest), top = plot.title.empty() ? 14 : 34, bottom = 48;
  const double w = plot.width, h = plot.height;
  const double pw = w - left - right, ph = h - top - bottom;

  // Data ranges: every finite value, with y capped at the clip.
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  const auto take_y = [&](double y) {
    if (!std::isfinite(y)) return;
    if (std::isfinite(plot.y_clip)) y = std::min(y, plot.y_clip);
    y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
  };
  for (const Series& s : plot.series)
    for (const Point& p : s.points) {
      if (!std::isfinite(p.x)) continue;
      x_lo = std::min(x_lo, p.x), x_hi = std::max(x_hi, p.x);
      take_y(p.y), take_y(p.y_low), take_y(p.y_high);
    }
  for (const Marker& m : plot.markers) {
    if (!std::isfinite(m.x)) continue;
    x_lo = std::min(x_lo, m.x), x_hi = std::max(x_hi, m.x);
    take_y(m.y);
  }
  if (!std::isfinite(x_lo)) x_lo = 0, x_hi = 1;
  if (!std::isfinite(y_lo)) y_lo = 0, y_hi = 1;
  if (x_hi - x_lo < 1e-12) x_lo -= 0.5, x_hi += 0.5;
  if (y_hi - y_lo < 1e-12) y_lo -= 0.05 * std::max(1.0, std::abs(y_lo)), y_hi += 0.05 * std::max(1.0, std::abs(y_hi));
  const double x_pad = (x_hi - x_lo) * 0.04, y_pad = (y_hi - y_lo) * 0.08;
  x_lo -= x_pad, x_hi += x_pad, y_lo -= y_pad, y_hi += y_pad;

  const auto X = [&](double x) { return left + (x - x_lo) / (x_hi - x_lo) * pw; };
  const auto Y = [&](double y) {
    if (!std::isfinite(y)) return top + 4;
    if (std::isfinite(plot.y_clip)) y = std::min(y, plot.y_clip);
    return top + (y_hi - y) / (y_hi - y_lo) * ph;
  };
  const auto clipped = [&](double y) {
    return std::isfinite(plot.y_clip) && std::isfinite(y) && y > plot.y_clip;
  };

  std::string out = fmt::format(
      "<svg class=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" font-family=\"sans-serif\" font-size=\"12\" role=\"img\">\n",
      escape_xml(plot.css_class), plot.width, plot.height, plot.width, plot.height);
  if (!plot.title.empty())
    out += fmt::format("<text x=\"{:.1f}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
                       left, escape_xml(plot.title));
  out += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
                     "fill=\"#fff\" stroke=\"#999\"/>\n",
                     left, top, pw, ph);

  // Axes and grid.
  std::vector<double> x_ticks;
  if (plot.integer_x_ticks) {
    const double step = std::max(1.0, std::ceil((x_hi - x_lo) / 10));
    for (double t = std::ceil(x_lo / step) * step; t <= x_hi; t += step) x_ticks.push_back(t);
  } else {
    x_ticks = nice_ticks(x_lo, x_hi, 6);
  }
  for (const double t : x_ticks) {
    if (t < x_lo || t > x_hi) continue;
    const std::string label = plot.x_tick_text ? plot.x_tick_text(t) : fmt::format("{:g}", t);
    out += fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\" "
                       "stroke=\"#eee\"/><text x=\"{0:.1f}\" y=\"{3:.1f}\" "
                       "text-anchor=\"middle\">{4}</text>\n",
                       X(t), top, top + ph, top + ph + 16, escape_xml(label));
  }
  for (const double t : nice_ticks(y_lo, y_hi, 5)) {
    if (t < y_lo || t > y_hi) continue;
    out += fmt::format("<line x1=\"{0:.1f}\" x2=\"{1:.1f}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" "
                       "stroke=\"#eee\"/><text x=\"{3:.1f}\" y=\"{4:.1f}\" "
                       "text-anchor=\"end\">{5:g}</text>\n",
                       left, left + pw, Y(t), left - 6, Y(t) + 4, t);
  }
  out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n",
                     left + pw / 2, h - 10, escape_xml(plot.x_label));
  out += fmt::format("<text transform=\"translate(16 {:.1f}) rotate(-90)\" "
                     "text-anchor=\"middle\">{}</text>\n",
                     top + ph / 2, escape_xml(plot.y_label));

  for (const auto& [x, label] : plot.x_rules) {
    if (!std::isfinite(x) || x < x_lo || x > x_hi) continue;
    out += fmt::format("<g class=\"rule\"><line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" "
                       "y2=\"{2:.1f}\" stroke=\"#888\" stroke-dasharray=\"3 3\"/><text x=\"{3:.1f}\" "
                       "y=\"{4:.1f}\" fill=\"#666\" font-size=\"10\">{5}</text></g>\n",
                       X(x), top, top + ph, X(x) + 3, top + ph - 4, escape_xml(label));
  }

  // Series: error bars, line (broken at gaps), markers.
  for (const Series& s : plot.series) {
    out += fmt::format("<g class=\"series\" data-name=\"{}\" stroke=\"{}\" fill=\"{}\">\n",
                       escape_xml(s.name), s.color, s.color);
    for (const Point& p : s.points)
      if (std::isfinite(p.y_low) && std::isfinite(p.y_high) && p.y_high > p.y_low)
        out += fmt::format("<line class=\"range\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" "
                           "y2=\"{2:.1f}\" stroke-width=\"1.5\"/>\n",
                           X(p.x), Y(p.y_low), Y(p.y_high));
    std::string d;
    bool pen_down = false;
    for (const Point& p : s.points) {
      if (!std::isfinite(p.y)) {
        pen_down = false;
        continue;
      }
      d += fmt::format("{}{:.1f} {:.1f}", pen_down ? "L" : "M", X(p.x), Y(p.y));
      pen_down = true;
    }
    if (!d.empty())
      out += fmt::format("<path d=\"{}\" fill=\"none\" stroke-width=\"2\"{}/>\n", d,
                         s.dashed ? " stroke-dasharray=\"5 4\"" : "");
    if (s.markers)
      for (const Point& p : s.points) {
        if (!std::isfinite(p.y)) continue;
        const Shape shape = clipped(p.y) ? Shape::triangle_up : Shape::circle;
        out += shape_path(shape, X(p.x), Y(p.y), 3.5) +
               (clipped(p.y) ? " fill=\"#fff\"" : "") + "><title>" + escape_xml(p.title) +
               "</title>" + (shape == Shape::circle ? "</circle>\n" : "</path>\n");
      }
    out += "</g>\n";
  }
  for (const Marker& m : plot.markers) {
    const bool filled = m.shape != Shape::cross;
    out += fmt::format("<g class=\"{}\" stroke=\"{}\" fill=\"{}\">", escape_xml(m.css_class),
                       m.color, filled ? m.color : "none");
    out += shape_path(m.shape, X(m.x), Y(m.y), m.shape == Shape::star ? 8 : 5) +
           (m.shape == Shape::star ? " stroke=\"#000\" stroke-width=\"0.8\"" : "") + "><title>" +
           escape_xml(m.title) + "</title>" + (m.shape == Shape::circle ? "</circle>" : "</path>") +
           "</g>\n";
  }

  // Legend, right of the plot area.
  double ly = top + 8;
  for (const Series& s : plot.series) {
    out += fmt::format("<line x1=\"{0:.1f}\" x2=\"{1:.1f}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" "
                       "stroke=\"{3}\" stroke-width=\"2.5\"{4}/><text x=\"{5:.1f}\" "
                       "y=\"{6:.1f}\">{7}</text>\n",
                       left + pw + 12, left + pw + 34, ly, s.color,
                       s.dashed ? " stroke-dasharray=\"5 4\"" : "", left + pw + 40, ly + 4,
                       escape_xml(s.name));
    ly += 18;
  }
  out += "</svg>\n";
  return out;
}

}  // namespace moet::svg
