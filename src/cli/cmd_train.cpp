// moet train: one training run into a directory, or the continuation of one (--resume).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <memory>
#include <optional>

#include "cli/command.h"
#include "core/error.h"
#include "dist/agree.h"
#include "dist/guard.h"
#include "dist/launch.h"
#include "train/train_config.h"
#include "train/trainer.h"

namespace moet::cli {
namespace {

MOET_COMMAND(
    train,
    Command{
        "train", "train one model (metrics, checkpoints and status go to --out)",
        [](CLI::App& app) {
          auto args = std::make_shared<ConfigArgs>();
          auto out = std::make_shared<std::string>();
          auto resume = std::make_shared<std::string>();
          auto quiet = std::make_shared<bool>(false);
          auto stop_after = std::make_shared<int64_t>(0);
          add_config_options(app, *args);
          app.add_option("--out", *out,
                         "run directory (must not hold a checkpoint or a finished run; one killed "
                         "before its first checkpoint starts over)");
          app.add_option(
              "--resume", *resume,
              fmt::format("continue the run in this directory from its latest checkpoint "
                          "(from the start if it has none; a finished run is left as it "
                          "is); --set may change only {}",
                          fmt::join(resumable_train_keys(), ", ")));
          app.add_flag("--quiet", *quiet, "no progress bar and no parameterization table");
          app.add_option(
              "--stop-after", *stop_after,
              "stop with a checkpoint after this many steps (status 'stopped'); continue "
              "later with --resume");
          app.footer(
              "Exit status: 0 done, 2 bad input, 3 diverged (status.json in the run directory says "
              "which).");
          return std::function<int()>([=] {
            // Under mpirun or srun every rank runs this (data parallel: train/data_parallel.h).
            const std::unique_ptr<dist::World> world = dist::make_world();
            return dist::run_guarded(*world, "moet train", kExitBadInput, [&] {
              if (world->size() > 1) dist::check_same_binary(*world);
              TrainOptions options;
              std::optional<Config> config;
              dist::all_or_none(*world, [&] {
                if (out->empty() == resume->empty())
                  fail("give exactly one of --out DIR or --resume DIR");
                options.quiet = *quiet;
                options.resume = !resume->empty();
                if (*stop_after < 0)
                  fail("--stop-after: must not be negative (got {})", *stop_after);
                options.stop_after = *stop_after;
                options.out_dir = options.resume ? *resume : *out;
                if (options.resume && !args->path.empty())
                  fail("--resume takes the run's own config.toml; drop --config");
                config.emplace(options.resume ? resume_config(*resume, args->sets)
                                              : load_config(*args));
              });
              if (world->size() > 1) {
                dist::check_same(*world, "the config", config->to_toml());
                dist::check_same(*world, "the run directory", options.out_dir);
              }
              const TrainResult result = train(*config, options, *world);
              if (world->rank() == 0) fmt::print("{}\n", result.to_json().dump());
              return result.status == RunStatus::diverged ? kExitDiverged : kExitOk;
            });
          });
        }});

}  // namespace
}  // namespace moet::cli
