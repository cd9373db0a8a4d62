// moet demo: the README's first command. Trains one small MoE on the bundled corpus and prints
// its loss curve. (The transfer-sweep demo of issue #6 replaces this.)
#include <fmt/format.h>

#include <filesystem>
#include <sstream>

#include "cli/command.h"
#include "core/files.h"
#include "train/schema.h"
#include "train/trainer.h"

namespace moet::cli {
namespace {

MOET_COMMAND(demo, Command{
  "demo", "train a small MoE on the bundled corpus and print its loss curve",
  [](CLI::App& app) {
    auto out = std::make_shared<std::string>("runs/demo");
    auto sets = std::make_shared<std::vector<std::string>>();
    app.add_option("--out", *out, "run directory (replaced if it holds an earlier demo)");
    app.add_option("--set", *sets, "override a key of the demo config")->take_all();
    return std::function<int()>([=] {
      std::vector<std::string> assignments = {
          "model.N=64",     "model.L=2",       "model.d_head=16", "model.M=8",
          "model.K=2",      "model.Ne=64",     "model.seq=64",    "train.batch=16",
          "train.steps=300", "train.eval_every=50", "train.log_every=25",
          "param.preset=completep-moe", "optim.lr=0.03", "train.save=false"};
      assignments.insert(assignments.end(), sets->begin(), sets->end());
      const Config config = Config::load(full_config_schema(), "", assignments);
      std::error_code ec;
      if (file_exists(*out + "/metrics.jsonl")) std::filesystem::remove_all(*out, ec);
      TrainOptions options;
      options.out_dir = *out;
      const TrainResult result = train(config, options);
      fmt::print("\nloss curve (metrics in {}/metrics.jsonl):\n", *out);
      std::istringstream lines(read_file(*out + "/metrics.jsonl"));
      for (std::string line; std::getline(lines, line);) {
        const auto j = nlohmann::json::parse(line);
        const double loss = j.at("loss").get<double>();
        const int bar = int(std::max(0.0, (loss - 3.0) * 12));
        fmt::print("  step {:4d}  loss {:.3f}{}  {}\n", j.at("step").get<int64_t>(), loss,
                   j.contains("val_loss") ? fmt::format("  val {:.3f}", j["val_loss"].get<double>())
                                          : std::string(13, ' '),
                   std::string(size_t(bar), '#'));
      }
      fmt::print("status: {}\n", result.status);
      return result.status == "done" ? 0 : kExitDiverged;
    });
  }});

}  // namespace
}  // namespace moet::cli
