// moet params: resolve the parameterization of a config and print it (table or JSON), so every
// tensor's init, multiplier, LR, epsilon and weight decay can be checked before training.
#include <fmt/format.h>

#include "cli/command.h"
#include "param/resolve.h"

namespace moet::cli {
namespace {

MOET_COMMAND(params, Command{
  "params", "print the resolved parameterization: every tensor's init, multiplier, LR, eps, WD",
  [](CLI::App& app) {
    auto args = std::make_shared<ConfigArgs>();
    auto json = std::make_shared<bool>(false);
    add_config_options(app, *args);
    app.add_flag("--json", *json, "print JSON (the form stored in checkpoints)");
    return std::function<int()>([args, json] {
      const Parameterization p = resolve_parameterization(load_config(*args));
      if (*json) fmt::print("{}\n", to_json(p).dump(2));
      else fmt::print("{}", format_table(p));
      return 0;
    });
  }});

}  // namespace
}  // namespace moet::cli
