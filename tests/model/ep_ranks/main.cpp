// model_ep_ranks: the program tests/model/expert_parallel_test.cpp starts under mpirun. Every
// rank builds the expert-parallel model (its share of the experts, its share of the batch) and,
// beside it, the same model in one piece on the whole batch, the single-process reference; any
// difference beyond the stated tolerance throws, which the guard turns into one line and an
// aborted world.
//
//   model_ep_ranks double        forward and backward at E = R against the reference in double:
//                                losses and every gradient to double rounding, then central
//                                differences of the expert-parallel loss itself
//   model_ep_ranks float         the same comparison in fp32, then 5 SGD steps on both and every
//                                parameter compared
//   model_ep_ranks indivisible   model.M = 4 over R ranks that do not divide it: one line from
//                                rank 0, every rank exits 2
//
// Gradients: each rank's backward(1 / R) adds its share of the gradient of the mean loss over the
// R ranks' batches; the replicated tensors' shares are summed over the ranks (allreduce), the
// experts' are complete on the rank that holds them (the rows of every rank came to it).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

#include "../../support/model_fixtures.h"
#include "../../support/worst.h"
#include "core/error.h"
#include "dist/agree.h"
#include "dist/guard.h"
#include "dist/launch.h"
#include "model/model.h"

namespace moet {
namespace {

using dist::World;
using testing::worse;

void expect(bool ok, const std::string& what) {
  if (!ok) fail("{}", what);
}

// Paper 2's options (softmax router, renormalised gates, shared expert, biases, aux and z-loss)
// with M = 4 and K = 2; two sequences per rank.
ModelConfig ep_config() {
  ModelConfig c = testing::small_config();
  c.norm = NormKind::rmsnorm;
  c.act = Activation::swiglu;
  c.router_score = RouterScore::softmax;
  c.gate_renorm = true;
  c.linear_bias = true;
  c.shared_experts = 1;
  c.shared_Ne = 6;
  c.aux_weight = 0.3;
  c.z_weight = 0.2;
  return c;
}
constexpr int64_t kBatchPerRank = 2;

bool is_routed_expert(const TensorInfo& t) { return t.all_experts > t.experts; }

// Where tensor t's values of the expert-parallel model sit in the whole model's buffer.
int64_t whole_offset(const TensorInfo& whole, const TensorInfo& part) {
  return whole.offset + part.first_expert * (part.numel / std::max<int64_t>(part.experts, 1));
}

template <typename T>
struct Pair {
  ModelConfig config = ep_config();
  ModelPlan plan = testing::random_plan(config, 7);
  Model<T> whole, part;
  std::vector<int32_t> inputs, targets;  // the whole batch
  World& world;

  explicit Pair(World& w)
      : whole(config, plan, kBatchPerRank * w.size()),
        part(config, plan, kBatchPerRank, AttentionKernel::automatic, Recompute::none, {&w, &w}),
        world(w) {
    if constexpr (std::is_same_v<T, double>) {
      testing::init_for_gradcheck(whole, 11);  // norm gains away from one too
      testing::init_for_gradcheck(part, 11);
    } else {
      whole.init(11);
      part.init(11);
    }
    testing::random_tokens(config, whole.batch(), 3, inputs, targets);
  }
  const int32_t* mine(const std::vector<int32_t>& tokens) const {
    return tokens.data() + world.rank() * part.rows();
  }
  // The loss of the whole batch: the mean of the ranks' means (aux and z-losses are the
  // group's already).
  double group_total(const ForwardResult& r) {
    double loss = r.loss;
    world.allreduce_sum(std::span<double>(&loss, 1));
    return loss / world.size() + r.aux_loss + r.z_loss;
  }
  double part_total() { return group_total(part.forward(mine(inputs), mine(targets))); }
  // The expert-parallel gradient, each tensor in part's layout: the replicated ones summed over
  // the ranks, the experts' as they are.
  std::vector<double> part_grads() {
    std::vector<double> out(part.grads().begin(), part.grads().end());
    std::vector<double> summed = out;
    world.allreduce_sum(std::span<double>(summed));
    for (const TensorInfo& t : part.tensors())
      if (!is_routed_expert(t))
        std::copy_n(summed.begin() + t.offset, t.numel, out.begin() + t.offset);
    return out;
  }
};

// The largest, over tensors, of max |a - b| / max |b|, for part's tensors against whole's slice
// of them; *where names that tensor. A tensor whose reference is mere rounding noise (the key
// bias's gradient is zero in exact arithmetic: softmax ignores a shift of a query's logits) is
// measured against 1% of the largest value of any tensor instead.
template <typename T>
double worst_relative(const Pair<T>& p, const std::vector<double>& part_values,
                      const std::vector<T>& whole_values, std::string* where = nullptr) {
  double largest = 0;
  for (const T v : whole_values) largest = std::max(largest, std::abs(double(v)));
  double worst = 0;
  for (size_t i = 0; i < p.part.tensors().size(); ++i) {
    const TensorInfo &t = p.part.tensors()[i], &w = p.whole.tensors()[i];
    expect(t.name == w.name, "tensor order: " + t.name + " vs " + w.name);
    double diff = 0, scale = 0.01 * largest;
    for (int64_t j = 0; j < t.numel; ++j) {
      const double ref = whole_values[size_t(whole_offset(w, t) + j)];
      diff = worse(diff, std::abs(part_values[size_t(t.offset + j)] - ref));
      scale = std::max(scale, std::abs(ref));
    }
    const double relative = scale > 0 ? diff / scale : diff;
    if (!std::isnan(worst) && !(relative <= worst)) {  // the first NaN sticks
      worst = relative;
      if (where) *where = t.name;
    }
  }
  return worst;
}

template <typename T>
double forward_backward(Pair<T>& p, double tolerance) {
  const std::vector<double> start(p.part.params().begin(), p.part.params().end());
  expect(worst_relative(p, start, p.whole.params()) == 0, "the initial parameters differ");
  p.whole.zero_grad();
  p.part.zero_grad();
  const ForwardResult ref = p.whole.forward_train(p.inputs.data(), p.targets.data(), T(1));
  const ForwardResult mine =
      p.part.forward_train(p.mine(p.inputs), p.mine(p.targets), T(1) / T(p.world.size()));
  const double total = p.group_total(mine);
  expect(std::abs(total - ref.total()) <= tolerance * std::abs(ref.total()),
         fmt::format("loss {} against {}", total, ref.total()));
  expect(std::abs(mine.aux_loss - ref.aux_loss) <= tolerance * ref.aux_loss &&
             std::abs(mine.z_loss - ref.z_loss) <= tolerance * ref.z_loss,
         fmt::format("aux {} z {} against {} {}", mine.aux_loss, mine.z_loss, ref.aux_loss,
                     ref.z_loss));
  for (size_t l = 0; l < p.whole.routing().size(); ++l)
    expect(p.part.routing()[l].counts == p.whole.routing()[l].counts &&
               p.part.routing()[l].tokens == p.whole.routing()[l].tokens,
           fmt::format("routing counts of MoE layer {}", l));
  p.whole.backward();
  p.part.backward();
  std::string where;
  const double worst = worst_relative(p, p.part_grads(), p.whole.grads(), &where);
  expect(worst <= tolerance, fmt::format("gradients of {} differ by {} (relative)", where, worst));
  return worst;
}

// Central differences of the expert-parallel loss: a replicated entry moves on every rank, an
// expert's entry on the rank that holds it (the others take part in the collectives).
void finite_differences(Pair<double>& p) {
  const std::vector<double> analytic = p.part_grads();
  int64_t checked = 0;
  for (const TensorInfo& t : p.part.tensors()) {
    const int owners = is_routed_expert(t) ? p.world.size() : 1;
    for (int owner = 0; owner < owners && t.trainable; ++owner) {
      const bool mine = owners == 1 || owner == p.world.rank();
      for (int64_t j = 0; j < t.numel; j += std::max<int64_t>(1, t.numel / 6)) {
        double& x = p.part.params()[size_t(t.offset + j)];
        const double saved = x, eps = 1e-6;
        if (mine) x = saved + eps;
        const double plus = p.part_total();
        if (mine) x = saved - eps;
        const double minus = p.part_total();
        x = saved;
        const double numeric = (plus - minus) / (2 * eps);
        const double exact = analytic[size_t(t.offset + j)];
        if (mine)
          expect(std::abs(numeric - exact) <= 1e-8 + 1e-6 * std::abs(exact),  // as gradcheck_test
                 fmt::format("{}[{}]: analytic {} numeric {}", t.name, j, exact, numeric));
        checked += mine;
      }
    }
  }
  std::printf("rank %d: %lld finite differences agree\n", p.world.rank(), (long long)checked);
}

void sgd_steps(Pair<float>& p, int steps) {
  for (int step = 0; step < steps; ++step) {
    p.whole.zero_grad();
    p.whole.forward_train(p.inputs.data(), p.targets.data(), 1.0f);
    p.whole.backward();
    p.part.zero_grad();
    p.part.forward_train(p.mine(p.inputs), p.mine(p.targets), 1.0f / float(p.world.size()));
    p.part.backward();
    const std::vector<double> g = p.part_grads();
    for (size_t i = 0; i < p.part.tensors().size(); ++i) {
      const TensorInfo &t = p.part.tensors()[i], &w = p.whole.tensors()[i];
      for (int64_t j = 0; j < t.numel && t.trainable; ++j)
        p.part.params()[size_t(t.offset + j)] -= 0.2f * float(g[size_t(t.offset + j)]);
      for (int64_t j = 0; j < w.numel && w.trainable; ++j)
        p.whole.params()[size_t(w.offset + j)] -= 0.2f * p.whole.grads()[size_t(w.offset + j)];
    }
  }
}

int run(World& world, const std::string& scenario) {
  if (scenario == "indivisible") {
    ModelConfig c = ep_config();
    dist::all_or_none(world, [&] {
      Model<float> model(c, testing::random_plan(c, 7), 1, AttentionKernel::automatic,
                         Recompute::none, {&world, &world});
    });
    fail("{} ranks split model.M = {}", world.size(), c.M);
  }
  if (scenario == "double") {
    Pair<double> p(world);
    const double worst = forward_backward(p, 1e-11);
    std::printf("rank %d: double gradients within %.1e\n", world.rank(), worst);
    finite_differences(p);
  } else if (scenario == "float") {
    Pair<float> p(world);
    const double worst = forward_backward(p, 1e-5);
    sgd_steps(p, 5);
    std::vector<double> params(p.part.params().begin(), p.part.params().end());
    const double drift = worst_relative(p, params, p.whole.params());
    expect(drift <= 1e-5, fmt::format("parameters after 5 SGD steps differ by {}", drift));
    std::printf("rank %d: float gradients within %.1e, parameters after 5 steps within %.1e\n",
                world.rank(), worst, drift);
  } else {
    fail("unknown scenario '{}'", scenario);
  }
  std::printf("rank %d: %s passed\n", world.rank(), scenario.c_str());
  return 0;
}

}  // namespace
}  // namespace moet

int main(int argc, char** argv) {
  using namespace moet::dist;
  if (argc != 2) {
    std::fprintf(stderr, "usage: model_ep_ranks SCENARIO\n");
    return 2;
  }
  try {
    std::unique_ptr<World> world = make_world();
    return run_guarded(*world, "model_ep_ranks", 2, [&] { return moet::run(*world, argv[1]); });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "model_ep_ranks: %s\n", e.what());
    return 2;
  }
}
