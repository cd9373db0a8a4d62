// moet demo: the README's first command. Runs the sweep in studies/demo.toml (sp against a
// transfer-preserving preset on a width ladder, on the bundled corpus), writes the transfer
// report, and prints where it is, the verdicts and how long it all took. Rerunning it reuses
// every finished trial, so a second run only rewrites the report.
#include <fmt/format.h>

#include <filesystem>

#include "analysis/transfer_report.h"
#include "cli/command.h"
#include "core/error.h"
#include "core/files.h"
#include "core/timer.h"
#include "sweep/local_sweep.h"
#include "sweep/results_store.h"

namespace moet::cli {
namespace {

namespace fs = std::filesystem;

// The demo spec ships in the source tree: found from the working directory (./moet.sh runs from
// the repository root), then beside the sources this binary was built from, then beside the
// binary (build*/moet).
std::string find_demo_spec() {
  std::vector<fs::path> candidates = {fs::path("studies/demo.toml"),
                                      fs::path(__FILE__).parent_path() / "../../studies/demo.toml"};
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(exe.parent_path() / "../studies/demo.toml");
  std::string looked;
  for (const fs::path& p : candidates) {
    if (fs::exists(p)) return p.lexically_normal().string();
    looked += (looked.empty() ? "" : ", ") + p.lexically_normal().string();
  }
  fail("the demo spec studies/demo.toml is not in {}; pass --spec FILE", looked);
}

std::string minutes(double seconds) {
  const int64_t s = int64_t(seconds + 0.5);
  return s < 60 ? fmt::format("{} s", s) : fmt::format("{}m{:02d}s", s / 60, s % 60);
}

MOET_COMMAND(
    demo,
    Command{
        "demo", "run the demo sweep (studies/demo.toml) on the bundled corpus and write its report",
        [](CLI::App& app) {
          auto out = std::make_shared<std::string>("runs/demo");
          auto spec_path = std::make_shared<std::string>();
          auto workers = std::make_shared<int>(0);
          auto threads = std::make_shared<int>(0);
          auto fresh = std::make_shared<bool>(false);
          app.add_option("--out", *out, "directory for the database, the trials and the report");
          app.add_option("--spec", *spec_path, "sweep spec to run instead of studies/demo.toml");
          add_sweep_resource_options(app, *workers, *threads);
          app.add_flag("--fresh", *fresh, "delete --out first instead of reusing finished trials");
          return std::function<int()>([=] {
            const double start = now_s();
            const std::string path = spec_path->empty() ? find_demo_spec() : *spec_path;
            const sweep::SweepSpec spec = sweep::load_sweep_spec(path);
            const sweep::Expansion expansion = sweep::expand_sweep(spec);
            if (*fresh) {
              std::error_code ec;
              fs::remove_all(*out, ec);
              if (ec) fail("--fresh: cannot delete {} ({})", *out, ec.message());
            }
            fmt::print(
                "moet demo: does a learning rate tuned on a small MoE still work when the model "
                "gets wider?\nEvery trial trains on the bundled State-of-the-Union corpus.\n\n");
            const std::string db = *out + "/sweep.sqlite";
            sweep::LocalSweepOptions options;
            options.workers = *workers;
            options.threads = *threads;
            const sweep::LocalSweepResult run =
                sweep::run_local_sweep(spec, expansion, db, options);
            if (run.summary.interrupted) {
              fmt::print("\ninterrupted: run `moet demo` again to continue where it stopped\n");
              return kExitInterrupted;
            }
            const auto store = sweep::ResultsStore::open_read_only(db);
            const analysis::ReportFiles files =
                analysis::write_transfer_report(store, *out + "/report", analysis::ReportOptions{});
            const std::string html = fs::absolute(files.html_path).lexically_normal().string();
            fmt::print(
                "\nverdicts (validation loss, mean of the seeds; the optimum transfers when it "
                "moves at most ±{:g} octaves per doubling of width):\n",
                analysis::kDefaultDriftTolerance);
            for (const auto& v : files.verdicts) fmt::print("  {}\n", v);
            fmt::print(
                "\nreport:  {}\n         (open it in a browser: loss-vs-LR curves per width, "
                "optima marked; summary.json beside it)\n",
                html);
            fmt::print("took {}: {} trials trained now, {} reused from earlier runs{}\n",
                       minutes(now_s() - start), run.ran - run.summary.imported,
                       run.finished_before + run.summary.imported,
                       run.summary.failed
                           ? fmt::format(", {} FAILED (see {})", run.summary.failed, db)
                           : "");
            fmt::print("next:    moet transfer --db {} --target YOUR.toml --preset {}   "
                       "(docs/workflow.md)\n",
                       db, spec.presets.back().name);
            return run.summary.failed ? kExitTrialFailed : kExitOk;
          });
        }});

}  // namespace
}  // namespace moet::cli
