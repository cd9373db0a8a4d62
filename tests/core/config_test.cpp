// Config::to_toml and keys that describe the machine, not the run (KeySpec::omit_default).
#include <gtest/gtest.h>

#include "core/config.h"

namespace moet {
namespace {

std::vector<KeySpec> schema() {
  return {{"train.steps", KeyType::Int, "200", "steps"},
          {"train.max_memory", KeyType::String, "auto", "limit", true}};
}

// A key added for the machine must not change the stored config of a run that leaves it alone:
// checkpoints and sweep trial identities are made from to_toml().
TEST(ConfigToml, MachineKeysAppearOnlyWhenSet) {
  const Config defaults = Config::load(schema(), "", {});
  EXPECT_EQ(defaults.to_toml(), "[train]\nsteps = 200\n");
  const Config set = Config::load(schema(), "", {"train.max_memory=8GiB"});
  EXPECT_EQ(set.to_toml(), "[train]\nsteps = 200\nmax_memory = '8GiB'\n");
  EXPECT_EQ(Config::parse(schema(), set.to_toml(), "<string>").get_string("train.max_memory"),
            "8GiB");
}

}  // namespace
}  // namespace moet
