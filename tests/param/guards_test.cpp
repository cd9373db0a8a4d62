// Guards (param/guards.h): zero router with zero balancing bias under top-K is rejected; a ladder
// that changes kappa, or fixes a width the rules scale, is warned about and the warning recorded.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/files.h"
#include "param_fixtures.h"

namespace moet::testing {
namespace {

std::string zero_router_table() {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("moet_zero_router_" + std::to_string(::getpid()) + ".toml"))
                               .string();
  write_file_atomic(path, "extends = \"mup-moe\"\n[roles]\nrouter = { std = \"zero\" }\n");
  return path;
}

TEST(Guards, ZeroRouterWithZeroBiasUnderTopKIsRejected) {
  const std::string table = zero_router_table();
  const std::string message = error_of([&] { resolve_for(table, "adam", kBase, kBase); });
  EXPECT_EQ(message, "preset " + table +
                         ": router and route_bias both start at zero under top-K routing (K 2 < M "
                         "8): every token would pick the same experts and routing collapses; give "
                         "route_bias a random init (a std cell) or the router a non-zero std");
  // Soft routing (K = M) selects nothing, so a zero router is fine there.
  EXPECT_NO_THROW(
      resolve_for(table, "adam", kBase, scaled(kBase, {Axis::K}, 4), {{"param.base.K", "8"}}));
  // MSSP regime I zeroes the router and starts the bias random instead.
  EXPECT_NO_THROW(resolve_for("mssp", "adam", kBase, kBase, {{"param.regime", "I"}}));
  std::filesystem::remove(table);
}

TEST(Guards, KappaChangeIsWarnedAndRecorded) {
  // mup: mup-moe would add its regime-range warning on these single-axis ladders.
  const auto changed = resolve_for("mup", "adam", kBase, scaled(kBase, {Axis::K}, 2));
  ASSERT_EQ(changed.warnings.size(), 1u);
  EXPECT_EQ(changed.warnings[0],
            "kappa = K/M differs between base (2/8 = 0.25) and target (4/8 = 0.5): "
            "hyperparameters are not expected to transfer across kappa; keep K/M fixed along a "
            "ladder (paper 1 §3.2; docs/sources.md [P1-KAPPA])");
  const auto fixed = resolve_for("mup", "adam", kBase, scaled(kBase, {Axis::M, Axis::K}, 2));
  EXPECT_TRUE(fixed.warnings.empty());
  const auto in_json = to_json(changed);
  EXPECT_EQ(in_json["warnings"].size(), 1u);
  EXPECT_NE(format_table(changed).find("warning: kappa = K/M differs"), std::string::npos);
}

TEST(Guards, FixedDenseWidthWhileNMovesIsWarned) {
  const auto p =
      resolve_for("mup", "adam", kBase, scaled(kBase, {Axis::N}, 2), {{"model.dense_Nf", "256"}});
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_NE(p.warnings[0].find("model.dense_Nf is fixed at 256 while N differs"),
            std::string::npos);
}

}  // namespace
}  // namespace moet::testing
