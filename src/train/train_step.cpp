#include "train/train_step.h"

#include "optim/balance.h"
#include "optim/schedule.h"

namespace moet {

StepRunner::StepRunner(Model<float>& model, Optimizer& optimizer,
                       const std::vector<param::TensorHyper>& hyper, int64_t accum,
                       int64_t total_steps)
    : model_(model),
      optimizer_(optimizer),
      accum_(accum),
      total_steps_(total_steps),
      inputs_(size_t(model.rows())),
      targets_(size_t(model.rows())) {
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
  for (int64_t micro = 0; micro < accum_; ++micro) {
    loader.next(inputs_.data(), targets_.data());
    const ForwardResult r = model_.forward(inputs_.data(), targets_.data());
    model_.backward(1.0f / float(accum_));
    s.loss += r.loss / double(accum_);
    s.aux_loss += r.aux_loss / double(accum_);
    s.z_loss += r.z_loss / double(accum_);
    if (s.counts.empty())
      s.counts.assign(model_.routing().size(), std::vector<int64_t>(size_t(M), 0));
    for (size_t l = 0; l < model_.routing().size(); ++l)
      for (int64_t e = 0; e < M; ++e) s.counts[l][e] += model_.routing()[l].counts[e];
  }
  s.last_routing = model_.routing();
  const OptimConfig& oc = optimizer_.config();
  s.grad_norm = optimizer_.grad_norm(model_.grads().data());
  const double clip_scale = (oc.clip > 0 && s.grad_norm > oc.clip) ? oc.clip / s.grad_norm : 1.0;
  s.lr_factor = lr_factor(oc, step, total_steps_);
  optimizer_.step(model_.params().data(), model_.grads().data(), s.lr_factor, clip_scale);
  for (size_t l = 0; l < s.counts.size(); ++l)
    update_route_bias(route_bias_[l], s.counts[l], tokens_per_step(), model_.config().K,
                      eta_bias_[l]);
  return s;
}

}  // namespace moet
