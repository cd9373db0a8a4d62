// `moet params`: the table, the JSON (identical to the in-process resolution) and exit status 2
// with one line on bad input.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <array>
#include <cstdio>

#include "param_fixtures.h"

namespace moet::testing {
namespace {

struct Outcome {
  int status = -1;
  std::string out;
};

Outcome run(const std::string& args) {
  Outcome r;
  FILE* pipe = ::popen((std::string(MOET_BINARY) + " params " + args + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buffer;
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    r.out.append(buffer.data(), n);
  const int raw = ::pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

TEST(Cli, JsonMatchesTheInProcessResolution) {
  const Outcome r =
      run("--set model.N=128 --set param.base.N=64 --set model.Ne=256 --set param.base.Ne=128 "
          "--set param.preset=mup-moe --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto expected =
      to_json(resolve_parameterization(make_config({{"model.N", "128"},
                                                    {"param.base.N", "64"},
                                                    {"model.Ne", "256"},
                                                    {"param.base.Ne", "128"},
                                                    {"param.preset", "mup-moe"}})));
  EXPECT_EQ(nlohmann::json::parse(r.out), expected);
}

TEST(Cli, TablePrintsEveryTensor) {
  const Outcome r = run("--set param.preset=sp");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto p = resolve_parameterization(make_config({{"param.preset", "sp"}}));
  for (const auto& t : p.tensors) EXPECT_NE(r.out.find(t.name + " "), std::string::npos) << t.name;
  EXPECT_NE(r.out.find("preset     sp"), std::string::npos);
}

// The settings that shape training outside the per-tensor table, as the config gives them.
TEST(Cli, TablePrintsTheSettingsOutsideTheTable) {
  const Outcome sgd =
      run("--set optim.name=sgd --set optim.momentum=0.8 --set optim.clip=0.5 "
          "--set optim.schedule=wsd --set optim.warmup=25 --set optim.lr_floor=0.2 "
          "--set optim.decay=0.3 --set model.norm_eps=1e-6 --set balance.aux_weight=0.01");
  ASSERT_EQ(sgd.status, 0) << sgd.out;
  EXPECT_NE(sgd.out.find("\noptimizer  clip 0.5   momentum 0.8\n"), std::string::npos) << sgd.out;
  EXPECT_NE(sgd.out.find("\nschedule   wsd   warmup 25 steps   lr_floor 0.2   decay 0.3\n"),
            std::string::npos)
      << sgd.out;
  EXPECT_NE(sgd.out.find("\nmodel      norm_eps 1e-06   aux_weight 0.01   z_weight 0\n"),
            std::string::npos)
      << sgd.out;
  const Outcome muon = run("--set optim.name=muon --set optim.warmup=0.1");
  ASSERT_EQ(muon.status, 0) << muon.out;
  EXPECT_NE(muon.out.find("\noptimizer  clip off   beta1 0.9   beta2 0.95   muon_momentum 0.95 "
                          "(nesterov)   muon_steps 5\n"),
            std::string::npos)
      << muon.out;
  EXPECT_NE(muon.out.find("\nschedule   constant   warmup 0.1 of the run\n"), std::string::npos)
      << muon.out;
}

TEST(Cli, BadInputIsOneLineAndExitStatus2) {
  const Outcome r = run("--set param.preset=mssp");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out.find("moet params: param.regime = auto: cannot infer"), 0u) << r.out;
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << r.out;
}

}  // namespace
}  // namespace moet::testing
