// The coordinate check's ladder: axis names (the same reading as a sweep spec's, regimes from
// param/regime.h), scales, recorded steps, and the rungs' configs.
#include <gtest/gtest.h>

#include "coord/ladder.h"
#include "coord/run.h"
#include "core/error.h"
#include "param/regime.h"
#include "sweep/spec.h"
#include "train/schema.h"

namespace moet {
namespace {

using param::Axis;

TEST(CoordLadder, AxesScalesAndRecordedSteps) {
  EXPECT_EQ(parse_coord_axes({"N", "Ne"}), (std::vector<Axis>{Axis::N, Axis::Ne}));
  EXPECT_EQ(parse_coord_axes({"Ne,N"}), (std::vector<Axis>{Axis::N, Axis::Ne}));
  EXPECT_EQ(parse_coord_axes({"M"}), (std::vector<Axis>{Axis::M}));
  EXPECT_EQ(parse_coord_axes({"M,K"}), (std::vector<Axis>{Axis::M, Axis::K}));  // K/M fixed
  EXPECT_EQ(parse_coord_axes({"K"}), (std::vector<Axis>{Axis::K}));
  EXPECT_EQ(parse_coord_axes({"regimeII"}), (std::vector<Axis>{Axis::N, Axis::M, Axis::K}));
  EXPECT_EQ(parse_coord_axes({"regimeIII", "N"}),
            (std::vector<Axis>{Axis::N, Axis::Ne, Axis::M, Axis::K}));
  EXPECT_EQ(describe_axes(parse_coord_axes({"N,Ne"})), "regimeI");
  EXPECT_EQ(describe_axes(parse_coord_axes({"L"})), "L");
  EXPECT_THROW(parse_coord_axes({"width"}), Error);
  EXPECT_THROW(parse_coord_axes({}), Error);

  EXPECT_EQ(parse_coord_scales("4,1,2"), (std::vector<double>{1, 2, 4}));
  EXPECT_EQ(parse_coord_scales("0.5, 1"), (std::vector<double>{0.5, 1}));
  EXPECT_THROW(parse_coord_scales("1"), Error);
  EXPECT_THROW(parse_coord_scales("1,1,2"), Error);
  EXPECT_THROW(parse_coord_scales("1,x"), Error);
  EXPECT_THROW(parse_coord_scales("0,1"), Error);

  const CoordLadder ladder{parse_coord_axes({"M,K"}), {1, 2}, {}};
  const param::AxisValues base{{64, 32, 8, 2, 2}};
  const param::AxisValues top = ladder_shape(ladder, base, 4);
  EXPECT_EQ(top, (param::AxisValues{{64, 32, 32, 8, 2}}));
  EXPECT_THROW(ladder_shape(ladder, base, 0.25), Error);  // K = 0.5

  EXPECT_EQ(default_record_steps(20), (std::vector<int64_t>{0, 1, 2, 5, 10, 20}));
  EXPECT_EQ(default_record_steps(3), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(default_record_steps(1), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(parse_record_steps("0,1,2,5,10,last", 20), (std::vector<int64_t>{0, 1, 2, 5, 10, 20}));
  EXPECT_EQ(parse_record_steps("last,0,last", 3), (std::vector<int64_t>{0, 3}));
  EXPECT_THROW(parse_record_steps("0,30", 20), Error);
  EXPECT_THROW(parse_record_steps("-1", 20), Error);
  EXPECT_THROW(parse_record_steps("two", 20), Error);
}

TEST(CoordLadder, RungsShareTheBaseAndOneRegime) {
  const Config config =
      Config::load(full_config_schema(), "",
                   {"model.N=32", "model.Ne=32", "model.d_head=16", "param.preset=mssp"});
  const CoordLadder ladder{parse_coord_axes({"regimeI"}), {1, 2, 4}, {}};
  const std::vector<CoordRung> rungs = ladder_rungs(config, ladder);
  ASSERT_EQ(rungs.size(), 3u);
  for (size_t i = 0; i < rungs.size(); ++i) {
    EXPECT_EQ(rungs[i].config.get_int("param.base.N"), 32);
    EXPECT_EQ(rungs[i].config.get_int("model.N"), 32 << i);
    EXPECT_EQ(rungs[i].config.get_int("model.Ne"), 32 << i);
    EXPECT_EQ(rungs[i].config.get_string("param.regime"), "I");  // the base rung too
    EXPECT_EQ(rungs[i].parameterization.regime, "I");
  }
  // A given base that is not the config's shape, and a ladder no regime fits, are bad input.
  Config other = config;
  other.set("param.base.N", "64");
  EXPECT_THROW(ladder_rungs(other, ladder), Error);
  EXPECT_THROW(ladder_rungs(config, CoordLadder{parse_coord_axes({"N"}), {1, 2}, {}}), Error);
}

// One meaning for an axis name: `moet coord --axis X` grows exactly the axes a sweep's
// `axes = ["X"]` grows (M alone is M alone in both), and a regime name grows the widths the
// regime table of param/ co-scales.
TEST(CoordLadder, AnAxisNameMeansWhatItMeansInASweep) {
  for (const Axis axis : param::kAllAxes) {
    const std::string name = param::axis_name(axis);
    const sweep::SweepSpec spec = sweep::parse_sweep_spec(
        "[config]\nmodel.N = 32\n[grid]\nlr_log2 = [-7]\n[[preset]]\nname = \"sp\"\n"
        "[[ladder]]\nname = \"x\"\naxes = [\"" +
            name + "\"]\nscales = [1, 2]\n",
        "spec.toml");
    ASSERT_EQ(spec.ladders.size(), 1u);
    const std::vector<sweep::LadderAxis> grown = {{sweep::LadderAxis::Kind::shape, axis, 1}};
    EXPECT_EQ(spec.ladders[0].axes, grown) << "axis " << name;
    EXPECT_EQ(parse_coord_axes({name}), sweep::shape_axes_of(grown)) << "axis " << name;
    EXPECT_EQ(parse_coord_axes({name}), std::vector<Axis>{axis}) << "axis " << name;
  }
  for (const std::string& regime : param::regime_names()) {
    EXPECT_EQ(parse_coord_axes({"regime" + regime}), param::regime_axes(regime));
    EXPECT_EQ(describe_axes(param::regime_axes(regime)), "regime" + regime);
  }
  EXPECT_THROW(parse_coord_axes({"regimeIV"}), Error);
  EXPECT_THROW(parse_coord_axes({"I"}), Error);
}

// A sweep's granularity axis 1/Ne is a coordinate check's too: the same shapes at every scale as
// the sweep's ladder, and the label it is written with. The run axes are refused in one line
// that says why (every rung trains the same steps on the same batch).
TEST(CoordLadder, InverseAxesAsInASweepAndRunAxesRefused) {
  std::vector<Axis> shrinking;
  const std::vector<Axis> axes = parse_coord_axes({"M,K,1/Ne"}, &shrinking);
  EXPECT_EQ(axes, (std::vector<Axis>{Axis::Ne, Axis::M, Axis::K}));
  EXPECT_EQ(shrinking, std::vector<Axis>{Axis::Ne});
  EXPECT_EQ(describe_axes(axes, shrinking), "1/Ne, M, K");
  const CoordLadder ladder{axes, {1, 2, 4}, shrinking};
  const param::AxisValues base{{64, 32, 8, 2, 2}};
  const sweep::SweepSpec spec = sweep::parse_sweep_spec(
      "[config]\nmodel.N = 64\nmodel.Ne = 32\nmodel.M = 8\nmodel.K = 2\nmodel.L = 2\n"
      "model.d_head = 16\n[grid]\nlr_log2 = [-7]\n[[preset]]\nname = \"sp\"\n[[ladder]]\n"
      "name = \"g\"\naxes = [\"M\", \"K\", \"1/Ne\"]\nscales = [1, 2, 4]\n",
      "spec.toml");
  const sweep::Expansion e = sweep::expand_sweep(spec);
  ASSERT_EQ(e.trials.size(), 3u);
  for (const sweep::Trial& t : e.trials)
    EXPECT_EQ(ladder_shape(ladder, base, t.points.front().scale), t.shape);
  EXPECT_EQ(ladder_shape(ladder, base, 4), (param::AxisValues{{64, 8, 32, 8, 2}}));
  EXPECT_THROW(ladder_shape(ladder, base, 64), Error) << "Ne = 32 / 64";

  EXPECT_THROW(parse_coord_axes({"1/Ne"}), Error) << "no place for shrinking axes";
  EXPECT_THROW(parse_coord_axes({"Ne,1/Ne"}, &shrinking), Error);
  EXPECT_THROW(parse_coord_axes({"1/regimeI"}, &shrinking), Error);
  for (const std::string run : {"tokens", "batch"}) {
    std::string message;
    try {
      parse_coord_axes({run}, &shrinking);
    } catch (const Error& e) {
      message = e.what();
    }
    EXPECT_NE(message.find("--axis: '" + run + "' is a sweep's run axis"), std::string::npos)
        << message;
    EXPECT_NE(message.find("every rung trains the same --steps"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace moet
