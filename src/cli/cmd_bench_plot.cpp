// moet bench-plot: the cost curve's SVG from the JSON lines bench/cost_curve.sh wrote.
#include <fmt/format.h>

#include "analysis/cost_curve.h"
#include "cli/command.h"
#include "core/files.h"

namespace moet::cli {
namespace {

MOET_COMMAND(
    bench_plot,
    Command{
        "bench-plot",
        "draw a cost curve (bench/cost_curve.sh's JSON lines) as SVG: tokens/s, % of "
        "peak and peak RSS per token along the axis",
        [](CLI::App& app) {
          auto input = std::make_shared<std::string>();
          auto out = std::make_shared<std::string>();
          app.add_option("points", *input, "JSON lines, one `moet bench` per point")->required();
          app.add_option("--out", *out, "the SVG file to write")->required();
          return std::function<int()>([=] {
            const analysis::CostCurve curve = analysis::read_cost_curve(*input);
            write_file_atomic(*out, analysis::cost_curve_svg(curve));
            fmt::print("{}: {} points along {}\n", *out, curve.points.size(), curve.axis);
            return kExitOk;
          });
        }});

}  // namespace
}  // namespace moet::cli
