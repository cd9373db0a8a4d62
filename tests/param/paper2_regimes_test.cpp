// mup-moe and mssp against paper 2's own per-regime tables ([P2-MUP] and
// [P2-MSSP] in docs/sources.md), transcribed here as exponents of the common ratio r that every
// co-scaled axis grows by. mup-moe writes one set of exponents for all regimes; this checks that it
// reduces to each regime's table. Values read from the resolved hyper vector and plan are exact
// (1e-12).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "model/init.h"
#include "param_fixtures.h"

namespace moet::testing {
namespace {

constexpr double kUnstated = std::numeric_limits<double>::quiet_NaN();

// Exponents of r in paper 2's table for one group; NaN where the table gives no entry.
struct Row {
  Role role;
  double std, sgd_lr, adam_lr, eps;
};

std::vector<Row> paper2_table(const std::string& regime) {
  // embedding, hidden (attention, dense MLP) and norms are the same in every regime.
  std::vector<Row> rows = {
      {Role::embed, 0, 1, 0, -1},
      {Role::attn_qk, -0.5, 0, -1, -1},
      {Role::attn_v, -0.5, 0, -1, -1},
      {Role::attn_o, -0.5, 0, -1, -1},
      {Role::dense_up, -0.5, 0, -1, -1},
      {Role::dense_down, -0.5, 0, -1, -1},
      {Role::norm, kUnstated, kUnstated, 0, -1},
  };
  if (regime == "I") {
    rows.push_back({Role::router, -1, -1, -1, 0});
    rows.push_back({Role::expert_up, -0.5, 0, -1, -1});
    rows.push_back({Role::expert_down, -0.5, 0, -1, -1});
  } else if (regime == "II") {
    rows.push_back({Role::router, -0.5, 0, -1, -1});
    rows.push_back({Role::expert_up, -0.5, 0, -1, -1});
    rows.push_back({Role::expert_down, 0, 2, 0, -2});
  } else {
    rows.push_back({Role::router, -0.5, 0, -1, -1});
    rows.push_back({Role::expert_up, -0.5, 1, -1, -2});
    rows.push_back({Role::expert_down, -0.5, 1, -1, -2});
  }
  return rows;
}

constexpr double kR = 4;  // every co-scaled axis grows by 4 on regime_ladder()

void expect_power(double base, double target, double exponent, const std::string& what) {
  if (std::isnan(exponent)) return;
  ASSERT_GT(base, 0) << what;
  const double expected = std::pow(kR, exponent);
  EXPECT_NEAR(target / base, expected, 1e-12 * expected) << what;
}

void check_against_paper2(const std::string& preset, const std::string& regime) {
  const Ladder ladder = regime_ladder(regime);
  for (const std::string optimizer : {"adam", "sgd"}) {
    SCOPED_TRACE(preset + " regime " + regime + " with " + optimizer);
    const bool sgd = optimizer == "sgd";
    const auto base =
        resolve_for(preset, optimizer, ladder.base, ladder.base, {{"param.regime", regime}});
    const auto target = resolve_for(preset, optimizer, ladder.base, ladder.target);
    if (preset == "mssp") {
      EXPECT_EQ(target.regime, regime) << "inferred from the ladder";
    }
    for (Row row : paper2_table(regime)) {
      const int b = first_tensor(base, row.role, row.role != Role::embed);
      const int t = first_tensor(target, row.role, row.role != Role::embed);
      ASSERT_GE(t, 0);
      SCOPED_TRACE(target.tensors[t].name);
      // MSSP regime II: expert-down init variance M / Ne ([P2-MSSP]), so std grows as r^(1/2).
      if (preset == "mssp" && regime == "II" && row.role == Role::expert_down) row.std = 0.5;
      const bool zero_router = preset == "mssp" && regime == "I" && row.role == Role::router;
      if (zero_router) {
        EXPECT_EQ(int(target.plan.tensors[t].init), int(InitKind::zero)) << "MSSP I: Q_0 = 0";
      } else {
        expect_power(base.plan.tensors[b].init_std, target.plan.tensors[t].init_std, row.std,
                     "init std");
      }
      expect_power(base.hyper[b].lr, target.hyper[t].lr, sgd ? row.sgd_lr : row.adam_lr, "lr");
      if (!sgd) expect_power(base.hyper[b].eps, target.hyper[t].eps, row.eps, "eps");
    }
    // Paper 2's readout is multiplier-free: zero init, LR 1/N (SGD and Adam), eps Theta(1).
    // moet writes it as logits x 1/N on an unembedding with the embedding's rules; the
    // effective weight c W then has Adam LR c lr, SGD LR c^2 lr and eps eps / c.
    const int ub = first_tensor(base, Role::unembed, false);
    const int ut = first_tensor(target, Role::unembed, false);
    const double c = target.plan.block.readout_mult / base.plan.block.readout_mult;
    EXPECT_EQ(int(target.plan.tensors[ut].init), int(InitKind::zero));
    const double effective_lr = (sgd ? c * c : c) * target.hyper[ut].lr / base.hyper[ub].lr;
    EXPECT_NEAR(effective_lr, 1 / kR, 1e-12) << "readout LR";
    if (!sgd) {
      EXPECT_NEAR(target.hyper[ut].eps / c / base.hyper[ub].eps, 1, 1e-12) << "readout eps";
    }
    // Aggregation 1/K: constant in regime I, 1/r where K co-scales.
    expect_power(base.plan.block.aggregation_mult, target.plan.block.aggregation_mult,
                 regime == "I" ? 0 : -1, "aggregation");
  }
}

TEST(Paper2Regimes, MupMoeReducesToEachRegimeTable) {
  for (const std::string regime : {"I", "II", "III"}) check_against_paper2("mup-moe", regime);
}

TEST(Paper2Regimes, MsspIsMupPlusOneChangePerRegime) {
  for (const std::string regime : {"I", "II", "III"}) check_against_paper2("mssp", regime);
}

// The code draws std = 1/sqrt(fan_in) at every width (sigma0 = 1) and the embedding at 0.02.
TEST(Paper2Regimes, InitIsAbsoluteFanIn) {
  const Ladder ladder = regime_ladder("III");
  const auto p = resolve_for("mup-moe", "adam", ladder.base, ladder.target);
  for (size_t i = 0; i < p.tensors.size(); ++i) {
    const TensorInfo& t = p.tensors[i];
    const double std = p.plan.tensors[i].init_std;
    if (t.role == Role::embed || t.role == Role::pos_embed) {
      EXPECT_DOUBLE_EQ(std, 0.02) << t.name;
    }
    if (t.role == Role::attn_qk || t.role == Role::expert_up || t.role == Role::expert_down ||
        t.role == Role::dense_down) {
      EXPECT_DOUBLE_EQ(std, 1 / std::sqrt(double(t.fan_in))) << t.name;
    }
  }
}

// MSSP's fixes in absolute terms: regime II expert_down std = sqrt(M / Ne) at every width;
// regime III every expert starts from the same draw; regime I zero router with a random
// balancing bias (a tie-breaker; docs/parameterization.md).
TEST(Paper2Regimes, MsspFixesInAbsoluteTerms) {
  const Ladder two = regime_ladder("II");
  const auto p2 = resolve_for("mssp", "adam", two.base, two.target);
  const int down = first_tensor(p2, Role::expert_down, true);
  EXPECT_DOUBLE_EQ(p2.plan.tensors[down].init_std, std::sqrt(32.0 / 64.0));

  const Ladder three = regime_ladder("III");
  const auto p3 = resolve_for("mssp", "adam", three.base, three.target);
  for (size_t i = 0; i < p3.tensors.size(); ++i) {
    const Role role = p3.tensors[i].role;
    EXPECT_EQ(p3.plan.tensors[i].tied_across_experts,
              role == Role::expert_up || role == Role::expert_down)
        << p3.tensors[i].name;
  }

  const Ladder one = regime_ladder("I");
  const auto p1 = resolve_for("mssp", "adam", one.base, one.target);
  const int bias = first_tensor(p1, Role::route_bias, true);
  EXPECT_EQ(int(p1.plan.tensors[first_tensor(p1, Role::router, true)].init), int(InitKind::zero));
  EXPECT_EQ(int(p1.plan.tensors[bias].init), int(InitKind::normal));
  EXPECT_DOUBLE_EQ(p1.plan.tensors[bias].init_std, 0.01);
}

// Measured on drawn buffers: under MSSP regime III every expert slice equals expert 0's; under
// mup-moe (independent experts) no two slices agree.
TEST(Paper2Regimes, TiedExpertsStartIdenticalOnRealBuffers) {
  const Ladder three = regime_ladder("III");
  for (const std::string preset : {"mssp", "mup-moe"}) {
    const auto p = resolve_for(preset, "adam", three.base, three.target);
    std::vector<double> params(total_numel(p.tensors));
    init_parameters<double>(p.tensors, p.plan, 7, params.data());
    for (const Role role : {Role::expert_up, Role::expert_down}) {
      const TensorInfo& t = p.tensors[first_tensor(p, role, true)];
      const int64_t slice = t.numel / t.experts;
      for (int64_t e = 1; e < t.experts; ++e) {
        const bool same = std::equal(params.begin() + t.offset, params.begin() + t.offset + slice,
                                     params.begin() + t.offset + e * slice);
        EXPECT_EQ(same, preset == "mssp") << preset << " " << t.name << " expert " << e;
      }
    }
  }
}

}  // namespace
}  // namespace moet::testing
