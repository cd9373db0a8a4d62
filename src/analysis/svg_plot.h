// Small line plots as inline SVG: series of points with optional error bars, extra markers, axes
// with round ticks and a legend. Enough for loss-vs-LR and loss-vs-step figures in a report that
// must open offline (no scripts, no fonts, no network); hover titles carry the exact numbers.
//
// Values above y_clip are drawn at the top edge as an open triangle, so one blown-up point does
// not flatten every curve; NaN points are skipped (the line breaks there).
#pragma once

#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace moet::svg {

struct Point {
  double x = 0, y = NAN;
  double y_low = NAN, y_high = NAN;  // an error bar when both are finite
  std::string title;                 // hover text
};

struct Series {
  std::string name;
  std::string color;  // any CSS colour
  std::vector<Point> points;
  bool dashed = false;
  bool markers = true;
};

enum class Shape { circle, star, cross, triangle_up };

struct Marker {
  double x = 0, y = NAN;  // y NaN: drawn at the top edge (e.g. a diverged run)
  Shape shape = Shape::star;
  std::string color;
  std::string css_class;  // e.g. "optimum", "diverged": lets tests and readers find them
  std::string title;
};

struct Plot {
  std::string title;
  std::string x_label, y_label;
  std::function<std::string(double)> x_tick_text;  // default: {:g}
  bool integer_x_ticks = false;                    // ticks only at whole numbers (log2 axes)
  double y_clip = NAN;                             // values above are clipped to the top edge
  std::vector<Series> series;
  std::vector<Marker> markers;
  std::vector<std::pair<double, std::string>> x_rules;  // dashed vertical lines with a label
  int width = 620, height = 360;
  std::string css_class = "plot";
};

std::string render(const Plot& plot);

// "2⁻⁷": 2 to a whole power in Unicode superscripts (no markup needed); other values 2^-7.5.
std::string power_of_two_text(double exponent);
// Text safe inside XML/HTML content and attributes.
std::string escape_xml(const std::string& text);
// A colour per series index, distinguishable for common colour-vision deficiencies (Okabe-Ito).
const std::string& palette(size_t index);

}  // namespace moet::svg
