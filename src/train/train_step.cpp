#include "train/train_step.h"

#include <cmath>

#include "core/error.h"
#include "optim/balance.h"
#include "optim/schedule.h"

namespace moet {

struct StepRunner::Alone {
  dist::SingleWorld world;
  DataParallel ranks;
  Alone(const Model<float>& model) : ranks(world, int64_t(model.params().size()), model.batch()) {}
};

StepRunner::StepRunner(Model<float>& model, Optimizer& optimizer,
                       const std::vector<param::TensorHyper>& hyper, int64_t accum,
                       int64_t total_steps)
    : StepRunner(model, optimizer, hyper, accum, total_steps, nullptr,
                 std::make_unique<Alone>(model)) {}

StepRunner::StepRunner(Model<float>& model, Optimizer& optimizer,
                       const std::vector<param::TensorHyper>& hyper, int64_t accum,
                       int64_t total_steps, DataParallel& ranks)
    : StepRunner(model, optimizer, hyper, accum, total_steps, &ranks, nullptr) {}

StepRunner::~StepRunner() = default;

StepRunner::StepRunner(Model<float>& model, Optimizer& optimizer,
                       const std::vector<param::TensorHyper>& hyper, int64_t accum,
                       int64_t total_steps, DataParallel* ranks, std::unique_ptr<Alone> alone)
    : model_(model),
      optimizer_(optimizer),
      alone_(std::move(alone)),
      ranks_(ranks ? *ranks : alone_->ranks),
      accum_(accum),
      total_steps_(total_steps),
      inputs_(size_t(ranks_.global_batch() * model.config().seq)),
      targets_(size_t(ranks_.global_batch() * model.config().seq)) {
  MOET_CHECK(ranks_.rows().count == model.batch());
  const std::vector<TensorInfo>& tensors = model.tensors();
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].role == Role::route_bias) {
      route_bias_.push_back(model.params().data() + tensors[i].offset);
      eta_bias_.push_back(hyper[i].lr);
    }
}

StepStats StepRunner::run(BatchLoader& loader, int64_t step) {
  const int64_t M = model_.config().M;
  StepStats s;
  model_.zero_grad();
  const int64_t first = ranks_.rows().begin * model_.config().seq;
  for (int64_t micro = 0; micro < accum_; ++micro) {
    loader.next(inputs_.data(), targets_.data());
    // The loss is this rank's mean (aux and z-loss are the batch's): 1/R makes the gradients'
    // sum over the ranks that of the batch's mean.
    const ForwardResult r = model_.forward_train(inputs_.data() + first, targets_.data() + first,
                                                 1.0f / float(accum_ * ranks_.ranks()));
    model_.backward();
    s.loss += r.loss / double(accum_);
    s.aux_loss += r.aux_loss / double(accum_);
    s.z_loss += r.z_loss / double(accum_);
    if (s.counts.empty())
      s.counts.assign(model_.routing().size(), std::vector<int64_t>(size_t(M), 0));
    for (size_t l = 0; l < model_.routing().size(); ++l)
      for (int64_t e = 0; e < M; ++e) s.counts[l][e] += model_.routing()[l].counts[e];
  }
  s.loss = ranks_.mean(s.loss);
  s.last_routing = model_.routing();
  const OptimConfig& oc = optimizer_.config();
  const float* grads = ranks_.reduce_scatter(model_.grads());
  s.grad_norm = std::sqrt(ranks_.sum(optimizer_.grad_square_sum(grads)));
  const double clip_scale = (oc.clip > 0 && s.grad_norm > oc.clip) ? oc.clip / s.grad_norm : 1.0;
  s.lr_factor = lr_factor(oc, step, total_steps_);
  optimizer_.step(ranks_.owned_params(model_.params()), grads, s.lr_factor, clip_scale);
  ranks_.all_gather(model_.params());
  // Every rank moves its copy of the (untrained) bias alike, from the batch's counts.
  for (size_t l = 0; l < s.counts.size(); ++l)
    update_route_bias(route_bias_[l], s.counts[l], tokens_per_step(), model_.config().K,
                      eta_bias_[l]);
  return s;
}

}  // namespace moet
