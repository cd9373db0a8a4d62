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
      return fmt::format("<path d=\"M{:.1f} {:.1f}L{:.1f} {:.1f}M{:.1f} {:.1f}L{:.1f} {:.1f}\" "
                         "stroke-width=\"2.2\"",
                         x - r, y - r, x + r, y + r, x - r, y + r, x + r, y - r);
    case Shape::triangle_up:
      return fmt::format("<path d=\"M{:.1f} {:.1f}L{:.1f} {:.1f}L{:.1f} {:.1f}Z\"", x, y - r, x + r,
                         y + r * 0.8, x - r, y + r * 0.8);
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

// The plot area within the picture and the data window it shows, padded around every finite
// value; maps data to pixels.
struct Frame {
  double left = 0, top = 0, pw = 0, ph = 0;  // plot area: left, top edge, width, height
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  double y_clip = NAN;

  double X(double x) const { return left + (x - x_lo) / (x_hi - x_lo) * pw; }
  double Y(double y) const {
    if (!std::isfinite(y)) return top + 4;
    if (std::isfinite(y_clip)) y = std::min(y, y_clip);
    return top + (y_hi - y) / (y_hi - y_lo) * ph;
  }
  bool clipped(double y) const { return std::isfinite(y_clip) && std::isfinite(y) && y > y_clip; }
};

// Data ranges: every finite value, with y capped at the clip; then padded, and widened when
// flat so a single value still gets an axis.
void fit_data(const Plot& plot, Frame& f) {
  const auto take_y = [&](double y) {
    if (!std::isfinite(y)) return;
    if (std::isfinite(plot.y_clip)) y = std::min(y, plot.y_clip);
    f.y_lo = std::min(f.y_lo, y), f.y_hi = std::max(f.y_hi, y);
  };
  for (const Series& s : plot.series)
    for (const Point& p : s.points) {
      if (!std::isfinite(p.x)) continue;
      f.x_lo = std::min(f.x_lo, p.x), f.x_hi = std::max(f.x_hi, p.x);
      take_y(p.y), take_y(p.y_low), take_y(p.y_high);
    }
  for (const Marker& m : plot.markers) {
    if (!std::isfinite(m.x)) continue;
    f.x_lo = std::min(f.x_lo, m.x), f.x_hi = std::max(f.x_hi, m.x);
    take_y(m.y);
  }
  if (!std::isfinite(f.x_lo)) f.x_lo = 0, f.x_hi = 1;
  if (!std::isfinite(f.y_lo)) f.y_lo = 0, f.y_hi = 1;
  if (f.x_hi - f.x_lo < 1e-12) f.x_lo -= 0.5, f.x_hi += 0.5;
  if (f.y_hi - f.y_lo < 1e-12) {
    f.y_lo -= 0.05 * std::max(1.0, std::abs(f.y_lo));
    f.y_hi += 0.05 * std::max(1.0, std::abs(f.y_hi));
  }
  const double x_pad = (f.x_hi - f.x_lo) * 0.04, y_pad = (f.y_hi - f.y_lo) * 0.08;
  f.x_lo -= x_pad, f.x_hi += x_pad, f.y_lo -= y_pad, f.y_hi += y_pad;
}

Frame frame_of(const Plot& plot) {
  // The legend sits right of the plot area, as wide as its longest name (~7 px a character).
  size_t longest = 0;
  for (const Series& s : plot.series) longest = std::max(longest, s.name.size());
  const double right = 52 + 7.0 * double(longest), bottom = 48;
  Frame f;
  f.left = 64;
  f.top = plot.title.empty() ? 14 : 34;
  f.pw = plot.width - f.left - right;
  f.ph = plot.height - f.top - bottom;
  f.y_clip = plot.y_clip;
  fit_data(plot, f);
  return f;
}

// The <svg> element's opening, the title and the plot area's box.
void draw_canvas(const Plot& plot, const Frame& f, std::string& out) {
  out += fmt::format(
      "<svg class=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" font-family=\"sans-serif\" font-size=\"12\" role=\"img\">\n",
      escape_xml(plot.css_class), plot.width, plot.height, plot.width, plot.height);
  if (!plot.title.empty())
    out +=
        fmt::format("<text x=\"{:.1f}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
                    f.left, escape_xml(plot.title));
  out += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
                     "fill=\"#fff\" stroke=\"#999\"/>\n",
                     f.left, f.top, f.pw, f.ph);
}

// Grid lines with tick labels on both axes, the axis labels and the labelled vertical rules.
void draw_axes(const Plot& plot, const Frame& f, std::string& out) {
  const double left = f.left, top = f.top, pw = f.pw, ph = f.ph;
  std::vector<double> x_ticks;
  if (plot.integer_x_ticks) {
    const double step = std::max(1.0, std::ceil((f.x_hi - f.x_lo) / 10));
    for (double t = std::ceil(f.x_lo / step) * step; t <= f.x_hi; t += step) x_ticks.push_back(t);
  } else {
    x_ticks = nice_ticks(f.x_lo, f.x_hi, 6);
  }
  for (const double t : x_ticks) {
    if (t < f.x_lo || t > f.x_hi) continue;
    const std::string label = plot.x_tick_text ? plot.x_tick_text(t) : fmt::format("{:g}", t);
    out += fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\" "
                       "stroke=\"#eee\"/><text x=\"{0:.1f}\" y=\"{3:.1f}\" "
                       "text-anchor=\"middle\">{4}</text>\n",
                       f.X(t), top, top + ph, top + ph + 16, escape_xml(label));
  }
  for (const double t : nice_ticks(f.y_lo, f.y_hi, 5)) {
    if (t < f.y_lo || t > f.y_hi) continue;
    out += fmt::format("<line x1=\"{0:.1f}\" x2=\"{1:.1f}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" "
                       "stroke=\"#eee\"/><text x=\"{3:.1f}\" y=\"{4:.1f}\" "
                       "text-anchor=\"end\">{5:g}</text>\n",
                       left, left + pw, f.Y(t), left - 6, f.Y(t) + 4, t);
  }
  out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n",
                     left + pw / 2, double(plot.height) - 10, escape_xml(plot.x_label));
  out += fmt::format("<text transform=\"translate(16 {:.1f}) rotate(-90)\" "
                     "text-anchor=\"middle\">{}</text>\n",
                     top + ph / 2, escape_xml(plot.y_label));

  for (const auto& [x, label] : plot.x_rules) {
    if (!std::isfinite(x) || x < f.x_lo || x > f.x_hi) continue;
    out +=
        fmt::format("<g class=\"rule\"><line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" "
                    "y2=\"{2:.1f}\" stroke=\"#888\" stroke-dasharray=\"3 3\"/><text x=\"{3:.1f}\" "
                    "y=\"{4:.1f}\" fill=\"#666\" font-size=\"10\">{5}</text></g>\n",
                    f.X(x), top, top + ph, f.X(x) + 3, top + ph - 4, escape_xml(label));
  }
}

// One series: error bars, the line (broken at gaps), markers (clipped ones as open triangles).
void draw_series(const Series& s, const Frame& f, std::string& out) {
  out += fmt::format("<g class=\"series\" data-name=\"{}\" stroke=\"{}\" fill=\"{}\">\n",
                     escape_xml(s.name), s.color, s.color);
  for (const Point& p : s.points)
    if (std::isfinite(p.y_low) && std::isfinite(p.y_high) && p.y_high > p.y_low)
      out += fmt::format("<line class=\"range\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" "
                         "y2=\"{2:.1f}\" stroke-width=\"1.5\"/>\n",
                         f.X(p.x), f.Y(p.y_low), f.Y(p.y_high));
  std::string d;
  bool pen_down = false;
  for (const Point& p : s.points) {
    if (!std::isfinite(p.y)) {
      pen_down = false;
      continue;
    }
    d += fmt::format("{}{:.1f} {:.1f}", pen_down ? "L" : "M", f.X(p.x), f.Y(p.y));
    pen_down = true;
  }
  if (!d.empty())
    out += fmt::format("<path d=\"{}\" fill=\"none\" stroke-width=\"2\"{}/>\n", d,
                       s.dashed ? " stroke-dasharray=\"5 4\"" : "");
  if (s.markers)
    for (const Point& p : s.points) {
      if (!std::isfinite(p.y)) continue;
      const Shape shape = f.clipped(p.y) ? Shape::triangle_up : Shape::circle;
      out += shape_path(shape, f.X(p.x), f.Y(p.y), 3.5) + (f.clipped(p.y) ? " fill=\"#fff\"" : "") +
             "><title>" + escape_xml(p.title) + "</title>" +
             (shape == Shape::circle ? "</circle>\n" : "</path>\n");
    }
  out += "</g>\n";
}

void draw_marker(const Marker& m, const Frame& f, std::string& out) {
  const bool filled = m.shape != Shape::cross;
  out += fmt::format("<g class=\"{}\" stroke=\"{}\" fill=\"{}\">", escape_xml(m.css_class), m.color,
                     filled ? m.color : "none");
  out += shape_path(m.shape, f.X(m.x), f.Y(m.y), m.shape == Shape::star ? 8 : 5) +
         (m.shape == Shape::star ? " stroke=\"#000\" stroke-width=\"0.8\"" : "") + "><title>" +
         escape_xml(m.title) + "</title>" + (m.shape == Shape::circle ? "</circle>" : "</path>") +
         "</g>\n";
}

// One line sample and name per series, right of the plot area.
void draw_legend(const Plot& plot, const Frame& f, std::string& out) {
  const double right_of_plot = f.left + f.pw;
  double ly = f.top + 8;
  for (const Series& s : plot.series) {
    out += fmt::format("<line x1=\"{0:.1f}\" x2=\"{1:.1f}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" "
                       "stroke=\"{3}\" stroke-width=\"2.5\"{4}/><text x=\"{5:.1f}\" "
                       "y=\"{6:.1f}\">{7}</text>\n",
                       right_of_plot + 12, right_of_plot + 34, ly, s.color,
                       s.dashed ? " stroke-dasharray=\"5 4\"" : "", right_of_plot + 40, ly + 4,
                       escape_xml(s.name));
    ly += 18;
  }
}

}  // namespace

std::string render(const Plot& plot) {
  const Frame frame = frame_of(plot);
  std::string out;
  draw_canvas(plot, frame, out);
  draw_axes(plot, frame, out);
  for (const Series& s : plot.series) draw_series(s, frame, out);
  for (const Marker& m : plot.markers) draw_marker(m, frame, out);
  draw_legend(plot, frame, out);
  out += "</svg>\n";
  return out;
}

}  // namespace moet::svg
