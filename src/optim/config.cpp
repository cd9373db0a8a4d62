#include "optim/config.h"

#include "core/enum_names.h"
#include "core/error.h"

namespace moet {

namespace {
constexpr EnumName<Schedule> kSchedules[] = {
    {Schedule::constant, "constant"}, {Schedule::cosine, "cosine"}, {Schedule::wsd, "wsd"}};
}  // namespace

const char* name_of(Schedule schedule) { return enum_name(schedule, kSchedules); }

std::vector<KeySpec> optim_config_keys() {
  const OptimConfig d;
  const auto f = [](double v) { return fmt::format("{}", v); };
  return {
      {"optim.name", KeyType::String, name_of(d.kind),
       "adam | adamw | sgd | muon (hidden matrices with a muon_lr cell; AdamW for the rest)"},
      {"optim.lr", KeyType::Float, f(d.lr), "base learning rate (peak of the schedule)"},
      {"optim.beta1", KeyType::Float, f(d.beta1), "Adam beta1"},
      {"optim.beta2", KeyType::Float, f(d.beta2), "Adam beta2"},
      {"optim.eps", KeyType::Float, f(d.eps), "base Adam epsilon (scaled per tensor)"},
      {"optim.wd", KeyType::Float, f(d.wd), "base weight decay (scaled per tensor)"},
      {"optim.momentum", KeyType::Float, f(d.momentum), "SGD momentum"},
      {"optim.clip", KeyType::Float, f(d.clip), "clip the global gradient norm (0 = off)"},
      // Muon's keys are left out of stored configs at their defaults (omit_default), so the
      // checkpoints and sweep trial identities of runs without Muon stay what they were.
      {"optim.muon_momentum", KeyType::Float, f(d.muon_momentum), "Muon momentum", true},
      {"optim.muon_nesterov", KeyType::Bool, d.muon_nesterov ? "true" : "false",
       "Muon: Nesterov momentum", true},
      {"optim.muon_steps", KeyType::Int, f(d.muon_steps), "Muon: Newton-Schulz iterations", true},
      {"optim.schedule", KeyType::String, name_of(d.schedule),
       "constant | cosine | wsd, each after a linear warmup"},
      {"optim.warmup", KeyType::Float, f(d.warmup),
       "warmup: fraction of the run if < 1, else steps"},
      {"optim.lr_floor", KeyType::Float, f(d.lr_floor), "cosine/wsd end at lr_floor x peak"},
      {"optim.decay", KeyType::Float, f(d.decay), "wsd: fraction of the run spent decaying"},
  };
}

OptimConfig optim_config_from(const Config& c) {
  OptimConfig o;
  o.kind = optimizer_kind_from("optim.name", c.get_string("optim.name"));
  o.lr = c.get_float("optim.lr");
  o.beta1 = c.get_float("optim.beta1");
  o.beta2 = c.get_float("optim.beta2");
  o.eps = c.get_float("optim.eps");
  o.wd = c.get_float("optim.wd");
  o.momentum = c.get_float("optim.momentum");
  o.clip = c.get_float("optim.clip");
  o.muon_momentum = c.get_float("optim.muon_momentum");
  o.muon_nesterov = c.get_bool("optim.muon_nesterov");
  const int64_t muon_steps = c.get_int("optim.muon_steps");
  o.schedule = parse_enum("optim.schedule", c.get_string("optim.schedule"), kSchedules);
  o.warmup = c.get_float("optim.warmup");
  o.lr_floor = c.get_float("optim.lr_floor");
  o.decay = c.get_float("optim.decay");
  if (!(o.lr > 0)) fail("optim.lr: must be positive (got {})", o.lr);
  if (!(o.beta1 >= 0 && o.beta1 < 1)) fail("optim.beta1: must be in [0, 1) (got {})", o.beta1);
  if (!(o.beta2 >= 0 && o.beta2 < 1)) fail("optim.beta2: must be in [0, 1) (got {})", o.beta2);
  if (!(o.eps >= 0)) fail("optim.eps: must not be negative (got {})", o.eps);
  if (!(o.wd >= 0)) fail("optim.wd: must not be negative (got {})", o.wd);
  if (!(o.momentum >= 0 && o.momentum < 1))
    fail("optim.momentum: must be in [0, 1) (got {})", o.momentum);
  if (!(o.clip >= 0)) fail("optim.clip: must not be negative (got {})", o.clip);
  if (!(o.muon_momentum >= 0 && o.muon_momentum < 1))
    fail("optim.muon_momentum: must be in [0, 1) (got {})", o.muon_momentum);
  if (muon_steps < 1 || muon_steps > 100)
    fail("optim.muon_steps: must be in [1, 100] (got {})", muon_steps);
  o.muon_steps = int(muon_steps);
  if (!(o.warmup >= 0)) fail("optim.warmup: must not be negative (got {})", o.warmup);
  if (!(o.lr_floor >= 0 && o.lr_floor <= 1))
    fail("optim.lr_floor: must be in [0, 1] (got {})", o.lr_floor);
  if (!(o.decay >= 0 && o.decay <= 1)) fail("optim.decay: must be in [0, 1] (got {})", o.decay);
  return o;
}

}  // namespace moet
