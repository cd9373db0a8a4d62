// The `moet` subcommands: each lives in its own cli/cmd_*.cpp and registers itself here.
//
// run_command wraps a command body with the error policy of the whole tool: bad input (a
// moet::Error or a CLI11 parse error) prints one line "moet <name>: <what is wrong>" and
// returns exit status 2; --help prints the command's usage and returns 0.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/exit_code.h"

namespace moet::cli {

struct Command {
  std::string name;
  std::string summary;
  // Fills the app with options and returns the body to run after parsing.
  std::function<std::function<int()>(CLI::App& app)> define;
};

int register_command(Command command);
const std::vector<Command>& commands();

// The options every config-taking command shares: --config FILE and repeated --set key=value.
struct ConfigArgs {
  std::string path;
  std::vector<std::string> sets;
};
void add_config_options(CLI::App& app, ConfigArgs& args);
// Loads with the full schema of every layer (see train/schema.h).
Config load_config(const ConfigArgs& args);

// --workers and --threads of every command that runs a sweep (0: the runner's default split,
// sweep/resources.h), so `moet sweep` and `moet demo` describe them alike.
void add_sweep_resource_options(CLI::App& app, int& workers, int& threads);

}  // namespace moet::cli

// Registers a command at static-initialisation time; cli/ files link straight into the binary.
#define MOET_COMMAND(ident, ...) \
  static const int moet_command_##ident = ::moet::cli::register_command(__VA_ARGS__)
