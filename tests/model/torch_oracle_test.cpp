// The whole model against a second, independent implementation: tests/model/torch_reference.py
// rebuilds the network in PyTorch (float64 autograd) from the same config, plan, parameters and
// tokens. Loss, auxiliary and z losses, every parameter's gradient and every routing choice must
// agree, for several architectures with random plans (every multiplier different from one).
//
// The exchange is a directory: model.json (config, block scalars, tensor manifest, tokens) and
// params.f64 (raw float64 little-endian) in; result.json and grads.f64 out.
#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "../support/model_fixtures.h"
#include "model/model.h"
#include "model_cases.h"

namespace moet {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

static_assert(std::endian::native == std::endian::little, "params.f64 is little-endian");

const char* kPython = "/usr/bin/python3";
const char* kReference = MOET_SOURCE_DIR "/tests/model/torch_reference.py";
// Exit status of torch_reference.py when it cannot import PyTorch.
constexpr int kNoTorch = 3;

json config_json(const ModelConfig& c) {
  return {{"vocab", c.vocab},
          {"seq", c.seq},
          {"N", c.N},
          {"L", c.L},
          {"d_head", c.d_head},
          {"M", c.M},
          {"K", c.K},
          {"Ne", c.Ne},
          {"norm", name_of(c.norm)},
          {"norm_eps", c.norm_eps},
          {"pos", name_of(c.pos)},
          {"rope_base", c.rope_base},
          {"qk_norm", c.qk_norm},
          {"act", name_of(c.act)},
          {"tied_embed", c.tied_embed},
          {"linear_bias", c.linear_bias},
          {"moe_every", c.moe_every},
          {"dense_Nf", c.dense_Nf},
          {"shared_experts", c.shared_experts},
          {"shared_Ne", c.shared_Ne},
          {"router_score", name_of(c.router_score)},
          {"gate_renorm", c.gate_renorm},
          {"gate_fn", name_of(c.gate_fn)},
          {"aux_weight", c.aux_weight},
          {"z_weight", c.z_weight}};
}

void write_f64(const fs::path& path, const std::vector<double>& values) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(values.data()), std::streamsize(values.size() * 8));
  ASSERT_TRUE(out.good()) << path;
}

std::vector<double> read_f64(const fs::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  const auto bytes = in.tellg();
  std::vector<double> values(size_t(bytes) / 8);
  in.seekg(0);
  in.read(reinterpret_cast<char*>(values.data()), bytes);
  return values;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Oracle {
  double loss = 0, aux_loss = 0, z_loss = 0;
  std::vector<std::pair<int64_t, std::vector<int32_t>>> selected;  // per MoE layer
  std::vector<double> grads;
};

// Writes the model's description, runs the PyTorch reference on it and reads back its answer.
// Fails (never skips) when PyTorch is not installed.
template <typename T>
Oracle ask_torch(const Model<T>& model, const std::vector<int32_t>& inputs,
                 const std::vector<int32_t>& targets, const fs::path& dir) {
  json spec;
  spec["config"] = config_json(model.config());
  spec["batch"] = model.batch();
  const BlockPlan& b = model.plan().block;
  spec["block"] = {{"residual_mult", b.residual_mult},
                   {"attn_logit_scale", b.attn_logit_scale},
                   {"aggregation_mult", b.aggregation_mult},
                   {"readout_mult", b.readout_mult}};
  spec["tensors"] = json::array();
  for (size_t i = 0; i < model.tensors().size(); ++i) {
    const TensorInfo& t = model.tensors()[i];
    spec["tensors"].push_back({{"name", t.name},
                               {"shape", t.shape},
                               {"offset", t.offset},
                               {"numel", t.numel},
                               {"multiplier", model.plan().tensors[i].multiplier},
                               {"trainable", t.trainable}});
  }
  spec["inputs"] = inputs;
  spec["targets"] = targets;
  std::ofstream(dir / "model.json") << spec.dump();
  write_f64(dir / "params.f64", std::vector<double>(model.params().begin(), model.params().end()));

  const fs::path log = dir / "torch.log";
  const std::string command = std::string(kPython) + " '" + kReference + "' '" + dir.string() +
                              "' > '" + log.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  Oracle out;
  if (code == kNoTorch || code == 127 || !fs::exists(kPython)) {
    ADD_FAILURE() << "The PyTorch oracle needs " << kPython << " with PyTorch (Debian "
                  << "python3-torch), which is missing. Run `./moet.sh test`: it installs "
                  << "python3-torch and then runs every test.\n"
                  << read_text(log);
    return out;
  }
  if (code != 0) {
    ADD_FAILURE() << command << " exited with " << code << ":\n" << read_text(log);
    return out;
  }
  const json result = json::parse(read_text(dir / "result.json"));
  out.loss = result.at("loss");
  out.aux_loss = result.at("aux_loss");
  out.z_loss = result.at("z_loss");
  for (const auto& layer : result.at("selected"))
    out.selected.emplace_back(layer.at(0).get<int64_t>(), layer.at(1).get<std::vector<int32_t>>());
  out.grads = read_f64(dir / "grads.f64");
  return out;
}

// |a - b| <= tol * max(|b|, floor): relative, with a floor for quantities that may be ~0.
void expect_rel(double a, double b, double tol, double floor, const std::string& what) {
  EXPECT_LE(std::abs(a - b), tol * std::max(std::abs(b), floor))
      << what << ": C++ " << a << " vs torch " << b;
}

struct Tolerance {
  double loss;  // relative, on loss / aux / z
  double grad;  // per tensor, relative to the tensor's largest torch gradient
};
// Double: the two implementations differ only in summation order and library functions.
constexpr Tolerance kDouble{1e-11, 1e-10};
// Float (oneDNN GEMMs, float norms and softmaxes) against the float64 reference.
constexpr Tolerance kFloat{1e-5, 2e-5};

// Tensors whose exact gradient is zero in this architecture, so a relative comparison would
// compare rounding noise. The key bias adds q.bk to every logit of a query alike, which the
// softmax ignores, unless qk-norm or RoPE sit between it and the logits. With one token per
// sequence every query sees one key with probability 1, whatever q and k are.
bool gradient_is_zero_by_construction(const TensorInfo& t, const ModelConfig& c) {
  const auto ends_with = [&](const std::string& suffix) {
    return t.name.size() >= suffix.size() &&
           t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".attn.bk") && !c.qk_norm && c.pos != PosEncoding::rope) return true;
  if (c.seq == 1)
    for (const char* s : {".attn.wq", ".attn.wk", ".attn.bq", ".attn.bk"})
      if (ends_with(s)) return true;
  return false;
}

template <typename T>
void compare_with_torch(const testing::ModelCase& tc, const Tolerance& tol) {
  Model<double> reference(tc.config, testing::random_plan(tc.config, 21), tc.batch);
  testing::init_for_gradcheck(reference, 23);
  Model<T> model(tc.config, reference.plan(), tc.batch, tc.attention, tc.recompute);
  ASSERT_EQ(model.attention_kernel(), tc.attention);
  if (tc.readout_rows > 0) model.set_readout_rows(tc.readout_rows);
  std::copy(reference.params().begin(), reference.params().end(), model.params().begin());
  std::vector<int32_t> inputs, targets;
  testing::random_tokens(tc.config, tc.batch, 5, inputs, targets);

  model.zero_grad();
  const ForwardResult ours = model.forward_train(inputs.data(), targets.data(), T(tc.loss_scale));
  model.backward();
  for (T& g : model.grads()) g /= T(tc.loss_scale);
  // Far from a tie, so rounding differences cannot flip a choice between the implementations.
  ASSERT_GT(testing::min_routing_margin(model), 1e-5) << "pick another seed";

  const fs::path dir =
      fs::temp_directory_path() / ("moet_torch_oracle_" + tc.name + "_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const Oracle torch = ask_torch(model, inputs, targets, dir);
  if (::testing::Test::HasFailure()) return;  // the message says why
  // On failure the exchange directory stays behind for inspection.
  const std::string files = " (files in " + dir.string() + ")";

  expect_rel(ours.loss, torch.loss, tol.loss, 1e-300, "loss" + files);
  expect_rel(ours.aux_loss, torch.aux_loss, tol.loss, 1e-300, "aux_loss" + files);
  expect_rel(ours.z_loss, torch.z_loss, tol.loss, 1e-300, "z_loss" + files);
  if (tc.config.aux_weight > 0) {
    EXPECT_GT(torch.aux_loss, 0);
  }
  if (tc.config.z_weight > 0) {
    EXPECT_GT(torch.z_loss, 0);
  }

  // Routing: the same experts, in the same (best-first) order, for every token of every layer.
  std::vector<std::pair<int64_t, std::vector<int32_t>>> our_selected;
  for (int64_t l = 0; l < tc.config.L; ++l)
    if (tc.config.is_moe_block(l))
      our_selected.emplace_back(l, model.block_acts()[size_t(l)].ffn.routing.selected);
  EXPECT_EQ(our_selected, torch.selected) << "routing choices differ" << files;

  ASSERT_EQ(torch.grads.size(), model.grads().size());
  double global = 0;  // the largest gradient anywhere in the model
  for (const double g : torch.grads) global = std::max(global, std::abs(g));
  ASSERT_GT(global, 0);
  double worst_rel = 0;  // reported, to show how much room the tolerance leaves
  for (const TensorInfo& t : model.tensors()) {
    double scale = 0, worst = 0;
    int64_t worst_at = 0;
    for (int64_t j = 0; j < t.numel; ++j) {
      const double want = torch.grads[size_t(t.offset + j)];
      const double err = std::abs(double(model.grads()[size_t(t.offset + j)]) - want);
      scale = std::max(scale, std::abs(want));
      if (!(err <= worst)) worst = err, worst_at = j;
    }
    if (!t.trainable) {
      EXPECT_EQ(worst, 0.0) << t.name << " is not trainable but has a gradient";
      continue;
    }
    if (gradient_is_zero_by_construction(t, tc.config)) {
      // Both sides hold rounding noise only; it must be noise on the model's scale.
      double ours_max = 0;
      for (int64_t j = 0; j < t.numel; ++j)
        ours_max = std::max(ours_max, std::abs(double(model.grads()[size_t(t.offset + j)])));
      EXPECT_LE(std::max(scale, ours_max), tol.grad * global)
          << t.name << " should get no gradient in this architecture";
      continue;
    }
    // Otherwise a real gradient reaches the tensor (else the comparison would be vacuous), and
    // it is compared relative to its own size.
    EXPECT_GT(scale, 1e-6 * global) << t.name << ": (almost) no gradient reaches it";
    worst_rel = std::max(worst_rel, worst / scale);
    EXPECT_LE(worst, tol.grad * scale)
        << t.name << "[" << worst_at << "]: C++ " << model.grads()[size_t(t.offset + worst_at)]
        << " vs torch " << torch.grads[size_t(t.offset + worst_at)] << " (largest |grad| " << scale
        << ", relative error " << worst / scale << ")" << files;
  }
  std::printf("largest relative gradient error over all tensors: %.3g (tolerance %.3g)\n",
              worst_rel, tol.grad);
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

class TorchOracle : public ::testing::TestWithParam<testing::ModelCase> {};

TEST_P(TorchOracle, DoubleModelMatchesPyTorch) { compare_with_torch<double>(GetParam(), kDouble); }

INSTANTIATE_TEST_SUITE_P(Model, TorchOracle, ::testing::ValuesIn(testing::model_cases()),
                         testing::model_case_name);

// The training precision, end to end through the float kernels (oneDNN GEMMs), on the
// architecture with the most paths. One test per case: a failure in one does not hide the others.
class TorchOracleFloat : public ::testing::TestWithParam<testing::ModelCase> {};

TEST_P(TorchOracleFloat, FloatModelMatchesPyTorch) {
  compare_with_torch<float>(GetParam(), kFloat);
}

INSTANTIATE_TEST_SUITE_P(Model, TorchOracleFloat,
                         ::testing::Values(testing::model_case("paper2_style"),
                                           testing::model_case("paper2_style_strips"),
                                           testing::model_case("long_sequence")),
                         testing::model_case_name);

}  // namespace
}  // namespace moet
