// The coordinate check separates parameterizations along width (N with Ne ∝ N; M, K fixed —
// paper 2's regime I): under `sp` the output side grows with N after a few Adam steps, under
// `completep-moe` and `mssp` it stays flat.
//
// Setup (seconds on one thread): N = Ne = 32, 64, 128, 256, L = 2, M = 4, K = 2, d_head 16,
// seq 16, batch 8, vocab 64 (a random-token shard written here), Adam at the default
// optim.lr = 1e-2, constant LR, 4 steps, 2 seeds, slopes at step 4.
//
// Thresholds. With Adam every entry of an update moves by about the LR, so a readout update
// lined up with its input adds up over N coordinates: under `sp` (no width factors) the logits
// and the readout's effective update grow like N^1 (measured +0.7..+0.9 here) and the residual
// stream, fed by every block's update, faster (about +2). The test asks for > 0.5 (logits,
// readout) and > 1 (residual stream). Under muP-type presets these are Theta(1); the test asks
// |slope| < 0.25 for the logits and the readout update — wider than the command's default 0.15,
// because at N = 32 the readout's W_0 (x_t - x_0) term, which vanishes like N^-1/2 by design,
// is still a third of the logits and pulls their slope to about -0.1 — and < 0.15 (the
// command's default) for the residual stream, measured within +-0.1.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "coord/report.h"
#include "coord/run.h"
#include "core/rng.h"
#include "data/shard.h"
#include "train/schema.h"

namespace moet {
namespace {

namespace fs = std::filesystem;

class CoordPresetsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("moet_coord_presets_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    Rng rng(5, 0);
    std::vector<int32_t> tokens(20000);
    for (auto& t : tokens) t = int32_t(rng.below(64));
    write_shard((dir_ / "train.bin").string(), tokens, 64);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  // The slopes at the last recorded step, per "metric[layer]", and the analysis itself.
  // `sets` replace the defaults (e.g. another M, K); `axes` is the ladder.
  static CoordAnalysis check(const std::string& preset, CoordData* data_out = nullptr,
                             const std::string& optimizer = "adam",
                             const std::vector<std::string>& sets = {},
                             const std::vector<std::string>& axes = {"N", "Ne"}) {
    const std::string shard = (dir_ / "train.bin").string();
    std::vector<std::string> all = {"model.vocab=64",
                                    "model.seq=16",
                                    "model.N=32",
                                    "model.Ne=32",
                                    "model.d_head=16",
                                    "model.L=2",
                                    "model.M=4",
                                    "model.K=2",
                                    "train.batch=8",
                                    "train.threads=1",
                                    "data.train=" + shard,
                                    "data.val=" + shard,
                                    "param.preset=" + preset,
                                    "optim.name=" + optimizer};
    all.insert(all.end(), sets.begin(), sets.end());
    const Config config = Config::load(full_config_schema(), "", all);
    CoordOptions options;
    options.ladder = {parse_coord_axes(axes), {1, 2, 4, 8}, {}};
    options.steps = 4;
    options.seeds = 2;
    options.record_steps = {0, 1, 4};
    const CoordData data = run_coord(config, options);
    if (data_out) *data_out = data;
    return analyse_coord(data, kDefaultFlatThreshold);
  }

  static const CoordRow& row(const CoordAnalysis& a, const std::string& metric,
                             const std::string& layer) {
    for (const CoordRow& r : a.rows)
      if (r.metric == metric && r.layer == layer) return r;
    throw std::runtime_error("no row " + metric + "[" + layer + "]");
  }
  static double last_slope(const CoordAnalysis& a, const std::string& metric,
                           const std::string& layer) {
    const CoordRow& r = row(a, metric, layer);
    EXPECT_GT(r.fits.back().points, 0) << metric;
    return r.fits.back().slope;
  }

  static fs::path dir_;
};

fs::path CoordPresetsTest::dir_;

TEST_F(CoordPresetsTest, StandardParameterizationGrowsWithWidth) {
  CoordData data;
  const CoordAnalysis a = check("sp", &data);
  EXPECT_EQ(data.shapes.back()[param::Axis::N], 256);
  EXPECT_EQ(data.shapes.back()[param::Axis::Ne], 256);
  EXPECT_GT(last_slope(a, "act.logits", "-"), 0.5);
  EXPECT_GT(last_slope(a, "eff.readout", "-"), 0.5);
  EXPECT_GT(last_slope(a, "act.resid", "1"), 1.0);
  EXPECT_EQ(row(a, "act.logits", "-").verdict, Verdict::grows);
  EXPECT_EQ(row(a, "act.resid", "1").verdict, Verdict::grows);
}

TEST_F(CoordPresetsTest, CompletePMoeStaysFlat) {
  const CoordAnalysis a = check("completep-moe");
  EXPECT_LT(std::fabs(last_slope(a, "act.logits", "-")), 0.25);
  EXPECT_LT(std::fabs(last_slope(a, "eff.readout", "-")), 0.25);
  EXPECT_LT(std::fabs(last_slope(a, "act.resid", "1")), kDefaultFlatThreshold);
  EXPECT_EQ(row(a, "act.resid", "1").verdict, Verdict::flat);
}

TEST_F(CoordPresetsTest, MsspRegimeOneStaysFlat) {
  CoordData data;
  const CoordAnalysis a = check("mssp", &data);
  EXPECT_EQ(data.regime, "I");  // inferred from the ladder, set on the base rung too
  EXPECT_LT(std::fabs(last_slope(a, "act.logits", "-")), 0.25);
  EXPECT_LT(std::fabs(last_slope(a, "eff.readout", "-")), 0.25);
  EXPECT_LT(std::fabs(last_slope(a, "act.resid", "1")), kDefaultFlatThreshold);
  EXPECT_EQ(row(a, "act.resid", "1").verdict, Verdict::flat);
  // MSSP I starts the router at zero: its logits are exactly 0 at step 0, its W_0 (x_t - x_0)
  // term stays 0, and its logits are Theta(1) once it has moved.
  EXPECT_EQ(row(a, "act.router_logits", "0").verdicts.front(), Verdict::zero);
  EXPECT_EQ(row(a, "prop.router", "0").verdict, Verdict::zero);
  EXPECT_LT(std::fabs(last_slope(a, "act.router_logits", "0")), 0.25);
}

// Muon with the muP-consistent scale (mup's muon_lr = sqrt(fan_out / fan_in), no other width
// factor): the effective updates of the orthogonalised matrices and the residual stream stay flat
// along width. Writing Muon's own shape scale sqrt(max(fan_in, fan_out)) on top of muP's Adam
// rule 1/N instead (the double count Megatron fixed) shrinks them like N^-1/2 along this ladder,
// where every hidden matrix except the router has max(fan_in, fan_out) = N.
TEST_F(CoordPresetsTest, MuonWithTheMuPScaleStaysFlat) {
  const CoordAnalysis a = check("mup", nullptr, "muon");
  for (const char* metric : {"eff.attn_o", "eff.expert_up", "eff.expert_down"})
    EXPECT_LT(std::fabs(last_slope(a, metric, "1")), 0.25) << metric;
  EXPECT_LT(std::fabs(last_slope(a, "act.resid", "1")), kDefaultFlatThreshold);
  EXPECT_EQ(row(a, "act.resid", "1").verdict, Verdict::flat);

  const fs::path naive = dir_ / "muon-double-counted.toml";
  std::ofstream(naive) << "extends = \"mup\"\n[roles]\n"
                       << "attn_o = { muon_lr = \"N^-1 * abs(N)^1/2\" }\n"
                       << "expert_up = { muon_lr = \"N^-1 * abs(N)^1/2\" }\n"
                       << "expert_down = { muon_lr = \"N^-1 * abs(N)^1/2\" }\n";
  const CoordAnalysis b = check(naive.string(), nullptr, "muon");
  for (const char* metric : {"eff.attn_o", "eff.expert_up", "eff.expert_down"}) {
    std::printf("%s[1] slope: muP scale %+.3f, double-counted %+.3f\n", metric,
                last_slope(a, metric, "1"), last_slope(b, metric, "1"));
    EXPECT_LT(last_slope(b, metric, "1"), -0.3) << metric;
  }
}

// completep-moe under Muon carries mup's scale (D25): the same flat updates along width.
TEST_F(CoordPresetsTest, CompletepMoeUnderMuonStaysFlat) {
  const CoordAnalysis a = check("completep-moe", nullptr, "muon");
  for (const char* metric : {"eff.attn_o", "eff.expert_up", "eff.expert_down"}) {
    std::printf("%s[1] slope: %+.3f\n", metric, last_slope(a, metric, "1"));
    EXPECT_LT(std::fabs(last_slope(a, metric, "1")), 0.25) << metric;
  }
  EXPECT_EQ(row(a, "act.resid", "1").verdict, Verdict::flat);
}

// Complete-muE's point ([CMUE-2605]): with gates normalised over the K chosen experts, its route
// scale K and down-projection multiplier N / (K Ne) keep the MoE output at init the same size as
// K grows (M fixed), where `mup` (1/K aggregation, per-expert fan-in init) shrinks it like
// K^-3/2 (measured -1.5 here).
TEST_F(CoordPresetsTest, CompleteMueKeepsTheMoeOutputAtInitFlatAlongK) {
  const std::vector<std::string> shape = {"model.N=64", "model.Ne=32", "model.M=16", "model.K=1",
                                          "model.gate_renorm=true"};
  const CoordAnalysis mue = check("complete-mue", nullptr, "adam", shape, {"K"});
  const CoordAnalysis mup = check("mup", nullptr, "adam", shape, {"K"});
  for (const std::string layer : {"0", "1"}) {
    const double mue_slope = row(mue, "act.moe_out", layer).fits.front().slope;
    const double mup_slope = row(mup, "act.moe_out", layer).fits.front().slope;
    std::printf("act.moe_out[%s] slope along K at init: complete-mue %+.3f, mup %+.3f\n",
                layer.c_str(), mue_slope, mup_slope);
    EXPECT_LT(std::fabs(mue_slope), kDefaultFlatThreshold);
    EXPECT_LT(mup_slope, -1.0);
  }
}

}  // namespace
}  // namespace moet
