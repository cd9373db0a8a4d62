// moet coord: the coordinate check — train a ladder of shapes for a few steps at fixed global
// hyperparameters and show which activations and updates stay flat with scale (docs/coord.md).
#include <fmt/format.h>

#include <cstdio>
#include <sstream>

#include "analysis/coord_plot.h"
#include "cli/command.h"
#include "coord/report.h"
#include "coord/run.h"
#include "core/error.h"
#include "core/files.h"

namespace moet::cli {
namespace {

struct CoordArgs {
  ConfigArgs config;
  std::vector<std::string> axes;
  std::string scales = "1,2,4,8";
  int64_t steps = 20;
  int64_t seeds = 3;
  std::string record;  // empty: default_record_steps
  double flat = kDefaultFlatThreshold;
  std::string only;
  std::string out;
  bool json = false;
  bool quiet = false;
};

std::vector<std::string> prefixes_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

MOET_COMMAND(
    coord,
    Command{
        "coord",
        "coordinate check: which activations and updates stay flat along a ladder of shapes",
        [](CLI::App& app) {
          auto a = std::make_shared<CoordArgs>();
          add_config_options(app, a->config);
          app.add_option("--axis", a->axes,
                         "axes that grow together, each name as in a sweep's axes: N, Ne, M, K, L "
                         "(each alone; M,K keeps K/M fixed; 1/Ne shrinks as the scale grows), "
                         "regimeI (N,Ne), regimeII (N,M,K), regimeIII (N,Ne,M,K); repeat or "
                         "comma-separate (tokens and batch are sweep axes only)")
              ->required()
              ->take_all();
          app.add_option(
                 "--scales", a->scales,
                 "factors applied to the config's shape along the axes; scale 1 is the base "
                 "(param.base.*)")
              ->capture_default_str();
          app.add_option("--steps", a->steps, "optimizer steps per run")->capture_default_str();
          app.add_option("--seeds", a->seeds,
                         "runs per shape (seeds train.seed, train.seed+1, ...)")
              ->capture_default_str();
          app.add_option(
              "--record", a->record,
              "steps to measure at, e.g. 0,1,2,5,10,last ('last' = --steps; the default is "
              "that list, cut at --steps)");
          app.add_option("--flat", a->flat, "verdict flat when |slope| < this")
              ->capture_default_str();
          app.add_option(
              "--only", a->only,
              "show only metrics starting with these prefixes, e.g. act.logits,eff.,moe. "
              "(table and plot; the JSON keeps all)");
          app.add_option("--out", a->out, "directory for coord.json, coord.svg and coord.txt");
          app.add_flag("--json", a->json, "print the JSON instead of the table");
          app.add_flag("--quiet", a->quiet, "no progress lines");
          app.footer("Fixed global hyperparameters (optim.*, param.*) on every shape; optim.warmup "
                     "defaults to "
                     "0 here (constant LR) unless set. Metrics and verdicts: docs/coord.md.");
          return std::function<int()>([a] {
            const Config config = load_config(a->config);
            if (!(a->flat > 0)) fail("--flat: must be positive (got {})", a->flat);
            CoordOptions options;
            options.ladder.axes = parse_coord_axes(a->axes, &options.ladder.shrinking);
            options.ladder.scales = parse_coord_scales(a->scales);
            options.steps = a->steps;
            options.seeds = a->seeds;
            if (a->steps < 1) fail("--steps: must be positive (got {})", a->steps);
            options.record_steps = a->record.empty() ? default_record_steps(a->steps)
                                                     : parse_record_steps(a->record, a->steps);
            if (!a->quiet)
              options.progress = [](const std::string& line) {
                std::fprintf(stderr, "%s\n", line.c_str());
              };
            const std::vector<std::string> prefixes = prefixes_of(a->only);
            if (!a->out.empty()) make_dirs(a->out);  // fail on a bad --out before the runs

            const CoordData data = run_coord(config, options);
            const CoordAnalysis analysis = analyse_coord(data, a->flat);
            const std::string table = format_coord_table(data, analysis, prefixes);
            const nlohmann::json json = coord_to_json(data, analysis);
            if (!a->out.empty()) {
              write_file_atomic(a->out + "/coord.json", json.dump(1) + "\n");
              write_file_atomic(a->out + "/coord.svg", coord_svg(data, analysis, prefixes));
              write_file_atomic(a->out + "/coord.txt", table);
            }
            if (a->json)
              fmt::print("{}\n", json.dump(1));
            else
              fmt::print("{}", table);
            std::fflush(stdout);
            if (!a->out.empty() && !a->quiet)
              std::fprintf(stderr, "wrote %s/coord.json, coord.svg, coord.txt\n", a->out.c_str());
            return kExitOk;
          });
        }});

}  // namespace
}  // namespace moet::cli
