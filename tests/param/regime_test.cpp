// Regime inference from a ladder, and the errors and warnings around it (param/regime.h).
#include <gtest/gtest.h>

#include "param_fixtures.h"

namespace moet::testing {
namespace {

TEST(Regime, InferredFromTheAxesThatDiffer) {
  for (const std::string regime : {"I", "II", "III"}) {
    const Ladder ladder = regime_ladder(regime);
    const auto p = resolve_for("mssp", "adam", ladder.base, ladder.target);
    EXPECT_EQ(p.regime, regime);
    EXPECT_TRUE(p.warnings.empty());
  }
  // Depth is not part of a regime: it is ignored when inferring.
  const auto deeper =
      resolve_for("mssp", "adam", kBase, scaled(kBase, {Axis::N, Axis::Ne, Axis::L}, 2));
  EXPECT_EQ(deeper.regime, "I");
}

TEST(Regime, AmbiguousLaddersNameWhatDiffersAndTheValidRegimes) {
  const std::string valid =
      "valid regimes: I (N, Ne co-scale; M, K fixed), II (N, M, K co-scale; Ne fixed), III (N, "
      "Ne, M, K co-scale); set param.regime = I|II|III";
  const struct {
    AxisValues target;
    std::string differing;
  } cases[] = {
      {scaled(kBase, {Axis::L}, 2), "none"},
      {kBase, "none"},
      {scaled(kBase, {Axis::Ne, Axis::M, Axis::K}, 2), "Ne, M, K"},
      {scaled(kBase, {Axis::N}, 2), "N"},
      {scaled(kBase, {Axis::N, Axis::M}, 2), "N, M"},
  };
  for (const auto& c : cases) {
    const std::string message = error_of([&] { resolve_for("mssp", "adam", kBase, c.target); });
    EXPECT_EQ(message, "param.regime = auto: cannot infer the regime of preset mssp from the "
                       "ladder: the axes that differ between base and target are " +
                           c.differing + " (L is ignored); " + valid);
  }
}

TEST(Regime, OnlyPresetsWithRegimeRulesNeedOne) {
  for (const std::string preset : {"sp", "mup", "completep-moe", "mup-moe"}) {
    const auto p = resolve_for(preset, "adam", kBase, scaled(kBase, {Axis::L}, 2));
    EXPECT_EQ(p.regime, "") << preset;
  }
}

TEST(Regime, AnExplicitRegimeTheLadderContradictsIsAWarning) {
  const auto p =
      resolve_for("mssp", "adam", kBase, scaled(kBase, {Axis::N}, 2), {{"param.regime", "II"}});
  EXPECT_EQ(p.regime, "II");
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_EQ(p.warnings[0],
            "param.regime = II but the axes that differ between base and target are N, not those "
            "of regime II (N, M, K co-scale; Ne fixed)");
  // The base run of a ladder (nothing differs) takes the regime without complaint.
  EXPECT_TRUE(
      resolve_for("mssp", "adam", kBase, kBase, {{"param.regime", "III"}}).warnings.empty());
}

}  // namespace
}  // namespace moet::testing
