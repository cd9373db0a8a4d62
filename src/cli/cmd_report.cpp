// moet report: the transfer report of a sweep database (HTML page + JSON summary) and its verdicts.
#include <fmt/format.h>

#include "analysis/transfer_report.h"
#include "cli/command.h"
#include "core/error.h"

namespace moet::cli {
namespace {

MOET_COMMAND(
    report,
    Command{
        "report",
        "write the transfer report of a sweep database (HTML + JSON) and print its verdicts",
        [](CLI::App& app) {
          auto db = std::make_shared<std::string>();
          auto out = std::make_shared<std::string>();
          auto options = std::make_shared<analysis::ReportOptions>();
          app.add_option("db", *db, "results database written by `moet sweep`")->required();
          app.add_option("--out", *out, "directory for index.html and summary.json")->required();
          app.add_option("--loss", options->metric,
                         "which loss: val (default), train, or an extra validation set (moby)");
          app.add_option("--tolerance", options->drift_tolerance,
                         fmt::format("drift of the optimum, in octaves per doubling of scale, that "
                                     "still counts as transferring (default {:g})",
                                     analysis::kDefaultDriftTolerance));
          app.add_option("--init-tolerance", options->init_drift_tolerance,
                         fmt::format("the same for the init std's optimum, when the sweep swept it "
                                     "(default {:g})",
                                     analysis::kDefaultInitDriftTolerance));
          return std::function<int()>([=] {
            if (!(options->drift_tolerance >= 0)) fail("--tolerance: must not be negative");
            if (!(options->init_drift_tolerance >= 0))
              fail("--init-tolerance: must not be negative");
            const auto store = sweep::ResultsStore::open_read_only(*db);
            const analysis::ReportFiles files =
                analysis::write_transfer_report(store, *out, *options);
            fmt::print("report: {}\nsummary: {}\n", files.html_path, files.json_path);
            for (const auto& v : files.verdicts) fmt::print("  {}\n", v);
            for (const auto& t : files.trends) fmt::print("  {}\n", t);
            return kExitOk;
          });
        }});

}  // namespace
}  // namespace moet::cli
