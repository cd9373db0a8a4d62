#include "train/trainer.h"

#include <fmt/ranges.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "core/error.h"
#include "core/fault.h"
#include "core/files.h"
#include "core/timer.h"
#include "data/dataset.h"
#include "model/model.h"
#include "optim/optimizer.h"
#include "param/json.h"
#include "param/resolve.h"
#include "param/table.h"
#include "train/checkpoint.h"
#include "train/checkpoint_fields.h"
#include "train/progress.h"
#include "train/run_files.h"
#include "train/run_memory.h"
#include "train/schema.h"
#include "train/train_config.h"
#include "train/train_step.h"

namespace moet {

nlohmann::json TrainResult::to_json() const {
  const auto num = [](double v) -> nlohmann::json {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
  };
  return {{"status", status},          {"steps", steps},
          {"train_loss", num(train_loss)}, {"val_loss", num(val_loss)},
          {"tokens_per_s", num(tokens_per_s)}};
}

Config resume_config(const std::string& run_dir, const std::vector<std::string>& sets) {
  const std::string path = run_dir + "/config.toml";
  if (!file_exists(path))
    fail("{}: not a run directory (no config.toml); start a run there with --out", run_dir);
  const Config stored = Config::load(full_config_schema(), path, {});
  Config config = Config::load(full_config_schema(), path, sets);
  const std::vector<std::string>& resumable = resumable_train_keys();
  for (const KeySpec& spec : config.schema())
    if (config.get_text(spec.key) != stored.get_text(spec.key) &&
        std::find(resumable.begin(), resumable.end(), spec.key) == resumable.end())
      fail("--set {}: cannot change when resuming (the run has {} = {}); only {} can", spec.key,
           spec.key, stored.get_text(spec.key), fmt::join(resumable, ", "));
  return config;
}

namespace {

double evaluate(Model<float>& model, BatchLoader& loader, int64_t batches,
                std::vector<int32_t>& inputs, std::vector<int32_t>& targets) {
  loader.reset();
  batches = std::max<int64_t>(1, std::min(batches, loader.batches_per_pass()));
  double sum = 0;
  for (int64_t b = 0; b < batches; ++b) {
    loader.next(inputs.data(), targets.data());
    sum += model.forward(inputs.data(), targets.data()).loss;
  }
  return sum / double(batches);
}

nlohmann::json routing_json(const std::vector<RoutingStats>& stats,
                            const std::vector<std::vector<int64_t>>& counts, int64_t tokens) {
  nlohmann::json layers = nlohmann::json::array();
  for (size_t i = 0; i < stats.size(); ++i) {
    RoutingStats s = stats[i];
    s.counts = counts[i];
    s.tokens = tokens;
    layers.push_back({{"layer", s.layer},
                      {"load", s.load()},
                      {"max_over_mean", s.max_over_mean_load()},
                      {"logit_rms", s.logit_rms}});
  }
  return layers;
}

std::string status_word(const nlohmann::json& status) {
  const auto it = status.is_object() ? status.find("status") : status.end();
  return it != status.end() && it->is_string() ? it->get<std::string>() : "";
}

int64_t status_steps(const nlohmann::json& status) {
  const auto it = status.is_object() ? status.find("steps") : status.end();
  return it != status.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
}

bool is_final(const nlohmann::json& status) {
  const std::string word = status_word(status);
  return word == "done" || word == "diverged";
}

// The result status.json records (to_json's inverse); null numbers are NaN.
TrainResult stored_result(const nlohmann::json& status) {
  const auto number = [&](const char* key) {
    const auto it = status.find(key);
    return it != status.end() && it->is_number() ? it->get<double>() : NAN;
  };
  TrainResult r;
  r.status = status_word(status);
  r.steps = status_steps(status);
  r.train_loss = number("train_loss");
  r.val_loss = number("val_loss");
  r.tokens_per_s = number("tokens_per_s");
  return r;
}

// The checkpoint a run continues from, or none when it starts at step 0: a new run, or one that
// was killed before its first checkpoint (nothing of it is worth keeping). Reads, writes nothing.
std::optional<Checkpoint> starting_point(const std::string& dir, const TrainOptions& options,
                                         const nlohmann::json& status, int64_t steps,
                                         const std::vector<TensorInfo>& tensors) {
  if (!options.resume) {
    if (has_checkpoint(dir) || is_final(status))
      fail("{}: already holds a run (continue it with --resume, or choose another --out)", dir);
    return std::nullopt;
  }
  if (status_word(status) == "done" && status_steps(status) > steps)
    fail("train.steps: {} is fewer than the {} steps the run in {} already did", steps,
         status_steps(status), dir);
  if (!has_checkpoint(dir)) {
    if (is_final(status))
      fail("{}: finished at step {} without a checkpoint (train.save = false); it cannot go on "
           "to train.steps = {}", dir, status_steps(status), steps);
    return std::nullopt;
  }
  Checkpoint checkpoint = load_checkpoint(dir, tensors);
  const auto final = checkpoint.state.find("final");
  if (final == checkpoint.state.end() || !final->is_boolean())
    fail("{}: the checkpoint's state.json has no 'final' (written by an older moet?)", dir);
  if (checkpoint.step > steps || (checkpoint.step == steps && !final->get<bool>()))
    fail("train.steps: {} does not go past the checkpoint at step {} in {}", steps,
         checkpoint.step, dir);
  return checkpoint;
}

// A number of a checkpoint's state.json that JSON may hold as null (NaN, or nothing logged yet).
double state_number(const nlohmann::json& state, const char* key, const std::string& dir) {
  const auto it = state.find(key);
  if (it == state.end() || !(it->is_number() || it->is_null()))
    fail("{}: the checkpoint's state.json has no number '{}' (written by an older moet?)", dir,
         key);
  return it->is_null() ? NAN : it->get<double>();
}

int64_t state_count(const nlohmann::json& state, const char* key, const std::string& dir) {
  const auto it = state.find(key);
  if (it == state.end() || !it->is_number_integer() || it->get<int64_t>() < 0)
    fail("{}: the checkpoint's state.json has no count '{}' (written by an older moet?)", dir,
         key);
  return it->get<int64_t>();
}

}  // namespace

TrainResult train(const Config& config, const TrainOptions& options) {
  const ModelConfig mc = model_config_from(config);
  const TrainConfig tc = train_config_from(config);
  const OptimConfig oc = optim_config_from(config);
  const DataConfig dc = data_config_from(config);
  if (tc.threads > 0) omp_set_num_threads(int(tc.threads));
  const RunMemory memory = run_memory(config, options.resume ? RunKind::resume : RunKind::train);
  memory.require_fits();
  const std::string& dir = options.out_dir;

  // Everything is read and checked before the first file is written: a refused run changes
  // nothing. A finished run is left exactly as it is.
  const nlohmann::json stored_status = read_status(dir);
  const std::string stored_word = status_word(stored_status);
  if (options.resume && (stored_word == "diverged" ||
                         (stored_word == "done" && status_steps(stored_status) == tc.steps))) {
    fmt::print(stderr, "{}: already finished ({} at step {}); nothing to do\n", dir, stored_word,
               status_steps(stored_status));
    return stored_result(stored_status);
  }
  const std::vector<TensorInfo> tensors = model_tensors(mc);
  const std::optional<Checkpoint> checkpoint =
      starting_point(dir, options, stored_status, tc.steps, tensors);
  // A resumed run reloads its stored parameterization.
  const Parameterization p = checkpoint ? stored_parameterization(*checkpoint, mc, dir)
                                        : resolve_parameterization(config);
  const nlohmann::json p_json = to_json(p);

  const Dataset data = Dataset::open(dc);
  if (data.vocab_size() > mc.vocab)
    fail("model.vocab: {} is smaller than the data's vocabulary ({}); set model.vocab = {}",
         mc.vocab, data.vocab_size(), data.vocab_size());

  Model<float> model(mc, p.plan, tc.batch, tc.attention);
  model.set_precision(tc.precision);
  Optimizer optimizer(oc, tensors, p.hyper);
  BatchLoader train_loader(data, false, tc.batch, mc.seq, uint64_t(tc.seed));
  BatchLoader val_loader(data, true, tc.batch, mc.seq, uint64_t(tc.seed));
  std::vector<BatchLoader> extra_loaders;
  for (const auto& extra : data.extra_val())
    extra_loaders.emplace_back(extra.tokens, true, tc.batch, mc.seq, uint64_t(tc.seed));

  // The loop's running totals and last logged values: checkpoints keep them, so a resumed run
  // logs and ends (status.json included) exactly as an uninterrupted one.
  TrainResult result;
  result.train_loss = result.val_loss = result.tokens_per_s = NAN;
  double interval_loss = 0;
  int64_t interval_steps = 0;
  int64_t step = 0;
  double first_loss = NAN, smoothed_loss = NAN;
  if (checkpoint) {
    model.params() = checkpoint->params;
    optimizer.first_moment() = checkpoint->first_moment;
    if (!checkpoint->second_moment.empty()) optimizer.second_moment() = checkpoint->second_moment;
    optimizer.set_steps_taken(checkpoint->optimizer_steps);
    step = checkpoint->step;
    const nlohmann::json& s = checkpoint->state;
    train_loader.restore(s.at("train_loader").get<BatchLoader::State>());
    first_loss = s.at("first_loss").get<double>();
    smoothed_loss = s.at("smoothed_loss").get<double>();
    interval_loss = state_number(s, "interval_loss", dir);
    interval_steps = state_count(s, "interval_steps", dir);
    result.train_loss = state_number(s, "train_loss", dir);
    result.val_loss = state_number(s, "val_loss", dir);
    result.tokens_per_s = state_number(s, "tokens_per_s", dir);
  } else {
    model.init(uint64_t(tc.seed));
  }

  Progress progress(tc.steps, step, options.quiet);
  if (options.resume && !checkpoint)
    progress.message(fmt::format("{}: no checkpoint yet; the run starts over", dir));
  if (!options.quiet) {
    progress.message(fmt::format("data: {}", data.describe()));
    progress.message(memory.line());
    progress.message(format_table(p));
    progress.message(fmt::format(
        "model: {:.2f}M parameters, {:.2f}M active per token; {} tokens per step",
        double(total_numel(tensors)) / 1e6, double(active_numel(mc, tensors)) / 1e6,
        tc.tokens_per_step(mc.seq)));
  }
  make_dirs(dir);
  remove_stale_temporaries(dir);  // of a killed run; its unneeded checkpoints too
  remove_stale_checkpoints(dir);
  write_file_atomic(dir + "/config.toml", config.to_toml());
  write_file_atomic(dir + "/parameterization.json", p_json.dump(1) + "\n");
  MetricsLog metrics(dir + "/metrics.jsonl", checkpoint ? checkpoint->step : -1);
  write_status(dir, "running", {{"step", step}});

  StepRunner stepper(model, optimizer, p.hyper, tc.accum, tc.steps);

  int64_t saved_step = checkpoint ? checkpoint->step : -1;
  const auto save = [&](bool final) {
    Checkpoint c;
    c.step = step;
    c.config_toml = config.to_toml();
    c.parameterization = p_json;
    c.params = model.params();
    c.first_moment = optimizer.first_moment();
    c.second_moment = optimizer.second_moment();
    c.optimizer_steps = optimizer.steps_taken();
    c.state = {{"train_loader", train_loader.state()},
               {"first_loss", first_loss},
               {"smoothed_loss", smoothed_loss},
               {"interval_loss", interval_loss},
               {"interval_steps", interval_steps},
               {"train_loss", result.train_loss},
               {"val_loss", result.val_loss},
               {"tokens_per_s", result.tokens_per_s},
               {"final", final}};
    save_checkpoint(dir, tensors, c);
    saved_step = step;
  };
  const auto validate = [&](nlohmann::json& line) {
    std::vector<int32_t> in(size_t(model.rows())), tg(size_t(model.rows()));
    const double val = evaluate(model, val_loader, tc.eval_batches, in, tg);
    line["val_loss"] = val;
    for (size_t i = 0; i < extra_loaders.size(); ++i)
      line["val_" + data.extra_val()[i].name] =
          evaluate(model, extra_loaders[i], tc.eval_batches, in, tg);
    return val;
  };

  const int64_t tokens_per_step = tc.tokens_per_step(mc.seq);
  const double run_start = now_s();
  const int64_t first_step = step;
  std::string status = "done";

  while (step < tc.steps) {
    fault_point("train.step");
    const StepStats stats = stepper.run(train_loader, step);
    const double loss = stats.loss, aux = stats.aux_loss, z = stats.z_loss;
    const double grad_norm = stats.grad_norm, factor = stats.lr_factor;
    const std::vector<std::vector<int64_t>>& counts = stats.counts;
    const std::vector<RoutingStats>& last_routing = stats.last_routing;
    ++step;

    if (std::isnan(first_loss)) first_loss = loss, smoothed_loss = loss;
    smoothed_loss = 0.9 * smoothed_loss + 0.1 * loss;
    interval_loss += loss;
    ++interval_steps;
    const bool diverged = !std::isfinite(loss) || !std::isfinite(grad_norm) ||
                          (step > 10 && smoothed_loss > tc.diverge_factor * first_loss);
    const bool log_now = step % tc.log_every == 0 || step == tc.steps || diverged;
    const bool eval_now = !diverged && ((tc.eval_every > 0 && step % tc.eval_every == 0) ||
                                        step == tc.steps);
    if (log_now || eval_now) {
      const double tokens_per_s =
          double(tokens_per_step) * double(step - first_step) / (now_s() - run_start);
      nlohmann::json line = {{"step", step},
                             {"tokens", step * tokens_per_step},
                             {"loss", loss},
                             {"aux_loss", aux},
                             {"z_loss", z},
                             {"lr", oc.lr * factor},
                             {"grad_norm", grad_norm},
                             {"tokens_per_s", tokens_per_s}};
      if (!counts.empty()) line["routing"] = routing_json(last_routing, counts, tokens_per_step);
      result.train_loss = interval_loss / double(interval_steps);
      interval_loss = 0, interval_steps = 0;
      if (eval_now) result.val_loss = validate(line);
      metrics.write(line);
      result.tokens_per_s = tokens_per_s;
      progress.update(step, result.train_loss, result.val_loss, tokens_per_s, true);
    } else {
      progress.update(step, loss, result.val_loss,
                      double(tokens_per_step) * double(step - first_step) / (now_s() - run_start),
                      false);
    }
    if (diverged) {
      status = "diverged";
      progress.message(fmt::format("diverged at step {}: loss {} (first {:.4f})", step, loss,
                                   first_loss));
      break;
    }
    if (options.stop_after > 0 && step >= options.stop_after && step < tc.steps) {
      status = "stopped";
      break;
    }
    if (tc.save && tc.ckpt_every > 0 && step % tc.ckpt_every == 0 && step < tc.steps) save(false);
  }
  progress.finish();
  // The final checkpoint may exist already: this is the resume of a run killed after writing it.
  if (step != saved_step && (status == "stopped" || (tc.save && status == "done")))
    save(status == "done");
  fault_point("train.final");
  result.status = status;
  result.steps = step;
  write_status(dir, status, result.to_json());
  return result;
}

}  // namespace moet
