// Muon's step against tests/optim/muon_reference.py, an independent PyTorch (float64) version of
// the reference implementation: each expert's slice and each half of a SwiGLU up projection
// orthogonalised on its own, Nesterov or plain momentum, decoupled weight decay, HyperP's
// norm-preserving variant, and AdamW for the tensors Muon does not take.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../support/worst.h"
#include "core/rng.h"
#include "model/layout.h"
#include "optim/optimizer.h"

namespace moet {
namespace {

using testing::worse;

namespace fs = std::filesystem;
using nlohmann::json;

const char* kPython = "/usr/bin/python3";
const char* kReference = MOET_SOURCE_DIR "/tests/optim/muon_reference.py";
constexpr int kNoTorch = 3;
constexpr int kSteps = 3;

TensorInfo tensor(const std::string& name, std::vector<int64_t> shape, int64_t experts,
                  int64_t offset) {
  TensorInfo t;
  t.name = name;
  t.shape = shape;
  t.experts = experts;
  t.offset = offset;
  t.numel = 1;
  for (const int64_t d : shape) t.numel *= d;
  return t;
}

// A wide and a tall matrix, an expert tensor of tall slices, a SwiGLU up projection (two
// blocks), a norm gain on AdamW and a balancing bias the optimizer must not touch.
std::vector<TensorInfo> tensors() {
  std::vector<TensorInfo> t;
  int64_t offset = 0;
  for (auto [name, shape, experts] :
       std::vector<std::tuple<std::string, std::vector<int64_t>, int64_t>>{
           {"wide", {6, 10}, 0},
           {"tall", {9, 4}, 0},
           {"experts", {3, 8, 5}, 3},
           {"swiglu_up", {2, 5, 8}, 2},
           {"gain", {5}, 0},
           {"route_bias", {3}, 0}}) {
    t.push_back(tensor(name, shape, experts, offset));
    offset += t.back().numel;
  }
  t.back().trainable = false;
  return t;
}

std::vector<param::TensorHyper> hyper(bool sphere) {
  std::vector<param::TensorHyper> h(6);
  h[0] = {0.02, 0, 0.1, true, sphere, 1};
  h[1] = {0.05, 0, 0.0, true, false, 1};
  h[2] = {0.03, 0, 0.2, true, sphere, 1};
  h[3] = {0.01, 0, 0.0, true, sphere, 2};
  h[4] = {0.004, 1e-6, 0.1, false, false, 1};
  h[5] = {0.5, 0, 0, false, false, 1};
  return h;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void check_against_torch(bool nesterov, bool sphere, const std::string& label) {
  OptimConfig c;
  c.kind = OptimizerKind::muon;
  c.muon_nesterov = nesterov;
  c.muon_momentum = 0.9;
  const auto ts = tensors();
  const auto hs = hyper(sphere);
  const int64_t total = ts.back().offset + ts.back().numel;
  Rng rng(11, 0);
  std::vector<float> w(static_cast<size_t>(total));
  for (float& x : w) x = float(rng.normal() * 0.5);
  json spec;
  spec["muon"] = {{"momentum", c.muon_momentum}, {"nesterov", nesterov}, {"steps", c.muon_steps}};
  spec["beta1"] = c.beta1;
  spec["beta2"] = c.beta2;
  spec["weights"] = w;
  spec["tensors"] = json::array();
  for (size_t i = 0; i < ts.size(); ++i)
    spec["tensors"].push_back({{"shape", ts[i].shape},
                               {"offset", ts[i].offset},
                               {"numel", ts[i].numel},
                               {"trainable", ts[i].trainable},
                               {"lr", hs[i].lr},
                               {"eps", hs[i].eps},
                               {"wd", hs[i].wd},
                               {"orthogonalised", hs[i].orthogonalised},
                               {"norm_preserved", hs[i].norm_preserved},
                               {"column_blocks", hs[i].column_blocks}});
  Optimizer opt(c, ts, hs);
  const std::vector<float> w0 = w;
  spec["steps"] = json::array();
  for (int step = 0; step < kSteps; ++step) {
    std::vector<float> g(static_cast<size_t>(total));
    for (float& x : g) x = float(rng.normal());
    const double lr_factor = 0.5 + 0.25 * step, grad_scale = 0.7;
    opt.step(w.data(), g.data(), lr_factor, grad_scale);
    spec["steps"].push_back({{"grads", g}, {"lr_factor", lr_factor}, {"grad_scale", grad_scale}});
  }

  const fs::path dir =
      fs::temp_directory_path() / ("moet_muon_test_" + std::to_string(::getpid()) + "_" + label);
  fs::create_directories(dir);
  std::ofstream(dir / "case.json") << spec.dump();
  const std::string command = std::string(kPython) + " '" + kReference + "' '" + dir.string() +
                              "' > '" + (dir / "torch.log").string() + "' 2>&1";
  const int status = std::system(command.c_str());
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  ASSERT_NE(code, kNoTorch) << "the Muon oracle needs " << kPython << " with PyTorch (Debian "
                            << "python3-torch); `./moet.sh test` installs it";
  ASSERT_EQ(code, 0) << command << "\n" << read_text(dir / "torch.log");
  const auto expected = json::parse(read_text(dir / "result.json")).at("weights");
  fs::remove_all(dir);
  ASSERT_EQ(expected.size(), w.size());

  // Per tensor: the total change against the reference's, relative to its largest entry (the
  // iteration runs in float here, in double there).
  for (size_t t = 0; t < ts.size(); ++t) {
    double largest = 0, worst = 0;
    for (int64_t i = ts[t].offset; i < ts[t].offset + ts[t].numel; ++i) {
      const double want = expected[size_t(i)].get<double>() - w0[size_t(i)];
      largest = std::max(largest, std::abs(want));
      worst = worse(worst, std::abs((double(w[size_t(i)]) - w0[size_t(i)]) - want));
    }
    if (!ts[t].trainable) {
      EXPECT_EQ(largest, 0) << ts[t].name << ": the reference moved the balancing bias";
      EXPECT_EQ(worst, 0) << ts[t].name << ": the optimizer moved the balancing bias";
      continue;
    }
    EXPECT_GT(largest, 1e-3) << label << " " << ts[t].name << ": nothing moved";
    EXPECT_LE(worst, 2e-5 * largest) << label << " " << ts[t].name;
  }
}

TEST(Muon, NesterovMatchesTorchReference) { check_against_torch(true, false, "nesterov"); }
TEST(Muon, PlainMomentumMatchesTorchReference) { check_against_torch(false, false, "plain"); }
TEST(Muon, NormPreservingMatchesTorchReference) { check_against_torch(true, true, "sphere"); }

// The iterate of a random matrix has every singular value near 1 (the reference coefficients
// leave them in roughly [0.7, 1.2]): O O^T has its eigenvalues in [0.49, 1.44], checked through
// the Rayleigh quotients of random vectors and the trace.
TEST(Muon, NewtonSchulzOrthogonalises) {
  const int64_t rows = 7, cols = 19;
  Rng rng(3, 0);
  std::vector<float> x(size_t(rows * cols));
  for (float& v : x) v = float(rng.normal() * 3);
  std::vector<float> work(size_t(2 * rows * rows + rows * cols));
  newton_schulz_orthogonalise(x.data(), rows, cols, 5, work.data());
  std::vector<double> gram(size_t(rows * rows), 0.0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < rows; ++j)
      for (int64_t k = 0; k < cols; ++k)
        gram[size_t(i * rows + j)] += double(x[size_t(i * cols + k)]) * x[size_t(j * cols + k)];
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> v(static_cast<size_t>(rows));
    double norm2 = 0, quad = 0;
    for (double& e : v) e = rng.normal(), norm2 += e * e;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < rows; ++j)
        quad += v[size_t(i)] * gram[size_t(i * rows + j)] * v[size_t(j)];
    EXPECT_GT(quad / norm2, 0.49);
    EXPECT_LT(quad / norm2, 1.44);
  }
}

}  // namespace
}  // namespace moet
