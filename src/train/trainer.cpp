#include "train/trainer.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "core/error.h"
#include "core/fault.h"
#include "core/files.h"
#include "core/json_text.h"
#include "core/timer.h"
#include "data/dataset.h"
#include "dist/agree.h"
#include "kernels/threads.h"
#include "model/model.h"
#include "optim/optimizer.h"
#include "param/json.h"
#include "param/resolve.h"
#include "param/table.h"
#include "train/checkpoint.h"
#include "train/checkpoint_fields.h"
#include "train/data_parallel.h"
#include "train/progress.h"
#include "train/run_files.h"
#include "train/run_memory.h"
#include "train/schema.h"
#include "train/settings_text.h"
#include "train/train_config.h"
#include "train/train_step.h"

namespace moet {

nlohmann::json TrainResult::to_json() const {
  return {{"status", name_of(status)},
          {"steps", steps},
          {"train_loss", finite_or_null(train_loss)},
          {"val_loss", finite_or_null(val_loss)},
          {"tokens_per_s", finite_or_null(tokens_per_s)}};
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

// The mean loss over `batches` global batches; inputs and targets hold one. Each rank runs its
// rows; the ranks' means are averaged (equal shares).
double evaluate(Model<float>& model, BatchLoader& loader, int64_t batches,
                std::vector<int32_t>& inputs, std::vector<int32_t>& targets, DataParallel& ranks) {
  loader.reset();
  batches = std::max<int64_t>(1, std::min(batches, loader.batches_per_pass()));
  const int64_t first = ranks.rows().begin * model.config().seq;
  double sum = 0;
  for (int64_t b = 0; b < batches; ++b) {
    loader.next(inputs.data(), targets.data());
    sum += model.forward(inputs.data() + first, targets.data() + first).loss;
  }
  return ranks.mean(sum / double(batches));
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

// The status a status.json records; none when there is no file or it holds no status of moet's.
std::optional<RunStatus> status_of(const nlohmann::json& status) {
  const auto it = status.is_object() ? status.find("status") : status.end();
  if (it == status.end() || !it->is_string()) return std::nullopt;
  return run_status_from(it->get<std::string>());
}

int64_t status_steps(const nlohmann::json& status) {
  const auto it = status.is_object() ? status.find("steps") : status.end();
  return it != status.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
}

bool is_final(const nlohmann::json& status) {
  const std::optional<RunStatus> stored = status_of(status);
  return stored && is_finished(*stored);
}

// The result status.json records (to_json's inverse); null numbers are NaN.
TrainResult stored_result(const nlohmann::json& status) {
  const auto number = [&](const char* key) {
    const auto it = status.find(key);
    return it != status.end() && it->is_number() ? it->get<double>() : NAN;
  };
  TrainResult r;
  r.status = *status_of(status);
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
  if (status_of(status) == RunStatus::done && status_steps(status) > steps)
    fail("train.steps: {} is fewer than the {} steps the run in {} already did", steps,
         status_steps(status), dir);
  if (!has_checkpoint(dir)) {
    if (is_final(status))
      fail("{}: finished at step {} without a checkpoint (train.save = false); it cannot go on "
           "to train.steps = {}",
           dir, status_steps(status), steps);
    return std::nullopt;
  }
  Checkpoint checkpoint = load_checkpoint(dir, tensors);
  const auto final = checkpoint.state.find("final");
  if (final == checkpoint.state.end() || !final->is_boolean())
    fail("{}: the checkpoint's state.json has no 'final' (written by an older moet?)", dir);
  if (checkpoint.step > steps || (checkpoint.step == steps && !final->get<bool>()))
    fail("train.steps: {} does not go past the checkpoint at step {} in {}", steps, checkpoint.step,
         dir);
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
    fail("{}: the checkpoint's state.json has no count '{}' (written by an older moet?)", dir, key);
  return it->get<int64_t>();
}

// The stored result of a run that --resume finds finished (diverged, or done at train.steps):
// such a run is left exactly as it is.
std::optional<TrainResult> finished_before(const std::string& dir, const TrainOptions& options,
                                           const nlohmann::json& stored_status, int64_t steps,
                                           bool leader) {
  const std::optional<RunStatus> stored = status_of(stored_status);
  if (!options.resume || !(stored == RunStatus::diverged ||
                           (stored == RunStatus::done && status_steps(stored_status) == steps)))
    return std::nullopt;
  if (leader)
    fmt::print(stderr, "{}: already finished ({} at step {}); nothing to do\n", dir,
               name_of(*stored), status_steps(stored_status));
  return stored_result(stored_status);
}

Dataset open_dataset(const DataConfig& config, const ModelConfig& model) {
  Dataset data = Dataset::open(config);
  if (data.vocab_size() > model.vocab)
    fail("model.vocab: {} is smaller than the data's vocabulary ({}); set model.vocab = {}",
         model.vocab, data.vocab_size(), data.vocab_size());
  return data;
}

// The loop's running totals: checkpoints keep them (with the last logged values of the
// result), so a resumed run logs and ends (status.json included) exactly as an uninterrupted one.
struct LossTracker {
  double first_loss = NAN, smoothed_loss = NAN;
  double interval_loss = 0;
  int64_t interval_steps = 0;
};

// A run's sections of the config, all read (and checked) before anything else happens.
struct RunSettings {
  ModelConfig model;
  TrainConfig train;
  OptimConfig optim;
  DataConfig data;
};

// A final checkpoint ends the run: resuming from it has no step left to take.
enum class CheckpointKind { intermediate, final };

// One run, from its model, optimizer and loaders (fresh or restored from a checkpoint) through
// the training loop to its final checkpoint and status.json. Data parallel, every rank runs it;
// only the leader (rank 0) prints and writes the run directory.
class TrainRun {
 public:
  TrainRun(const Config& config, const TrainOptions& options, const RunSettings& settings,
           const std::vector<TensorInfo>& tensors, const param::Parameterization& p,
           const Checkpoint* checkpoint, DataParallel& ranks)
      : config_(config),
        options_(options),
        dir_(options.out_dir),
        mc_(settings.model),
        tc_(settings.train),
        oc_(settings.optim),
        tensors_(tensors),
        p_(p),
        p_json_(to_json(p)),
        data_(open_dataset(settings.data, mc_)),
        ranks_(ranks),
        model_(mc_, p.plan, ranks.rows().count, tc_.attention, tc_.recompute, ranks.groups()),
        optimizer_(ranks.make_optimizer(oc_, model_.tensors(), p.hyper)),
        train_loader_(data_, Split::train, tc_.batch, mc_.seq, uint64_t(tc_.seed)),
        val_loader_(data_, Split::validation, tc_.batch, mc_.seq, uint64_t(tc_.seed)),
        from_checkpoint_(checkpoint != nullptr) {
    model_.set_precision(tc_.precision);
    for (const auto& extra : data_.extra_val())
      extra_loaders_.emplace_back(extra.tokens, Split::validation, tc_.batch, mc_.seq,
                                  uint64_t(tc_.seed));
    result_.train_loss = result_.val_loss = result_.tokens_per_s = NAN;
    if (checkpoint)
      restore(*checkpoint);
    else
      model_.init(uint64_t(tc_.seed));
  }

  // Prints what is about to run, then writes the run directory's files but the checkpoints.
  void open(const RunMemory& memory) {
    progress_.emplace(tc_.steps, step_, options_.quiet || !ranks_.leader());
    if (!ranks_.leader()) return;
    if (options_.resume && !from_checkpoint_)
      progress_->message(fmt::format("{}: no checkpoint yet; the run starts over", dir_));
    if (!options_.quiet) {
      progress_->message(fmt::format("data: {}", data_.describe()));
      progress_->message(memory.line());
      progress_->message(format_table(p_) + format_settings(config_));
      progress_->message(
          fmt::format("model: {:.2f}M parameters, {:.2f}M active per token; {} tokens per step",
                      double(total_numel(tensors_)) / 1e6,
                      double(active_numel(mc_, tensors_)) / 1e6, tc_.tokens_per_step(mc_.seq)));
      if (ranks_.ranks() > 1)
        progress_->message(fmt::format(
            "data parallel: {} ranks ({}), {} sequences each; optimizer state sharded (ZeRO-1)",
            ranks_.ranks(), ranks_.world().describe(), ranks_.rows().count));
      if (ranks_.expert_ranks() > 1)
        progress_->message(
            fmt::format("expert parallel: {} ranks per expert group, {} experts each; {} replicas",
                        ranks_.expert_ranks(), mc_.M / ranks_.expert_ranks(),
                        ranks_.ranks() / ranks_.expert_ranks()));
    }
    make_dirs(dir_);
    remove_stale_temporaries(dir_);  // of a killed run; its unneeded checkpoints too
    remove_stale_checkpoints(dir_);
    write_file_atomic(dir_ + "/config.toml", config_.to_toml());
    write_file_atomic(dir_ + "/parameterization.json", p_json_.dump(1) + "\n");
    metrics_.emplace(dir_ + "/metrics.jsonl", from_checkpoint_ ? step_ : -1);
    write_status(dir_, RunStatus::running, {{"step", step_}});
  }

  // Steps to train.steps, or until the loss diverges or --stop-after.
  RunStatus loop() {
    StepRunner stepper(model_, optimizer_, p_.hyper, tc_.accum, tc_.steps, ranks_);
    run_start_ = now_s();
    first_step_ = step_;
    while (step_ < tc_.steps) {
      fault_point("train.step");
      const StepStats stats = stepper.run(train_loader_, step_);
      ++step_;
      const bool diverged = track(stats);
      log(stats, diverged);
      if (diverged) {
        progress_->message(fmt::format("diverged at step {}: loss {} (first {:.4f})", step_,
                                       stats.loss, losses_.first_loss));
        return RunStatus::diverged;
      }
      if (options_.stop_after > 0 && step_ >= options_.stop_after && step_ < tc_.steps)
        return RunStatus::stopped;
      if (tc_.save && tc_.ckpt_every > 0 && step_ % tc_.ckpt_every == 0 && step_ < tc_.steps)
        save(CheckpointKind::intermediate);
    }
    return RunStatus::done;
  }

  TrainResult finish(RunStatus status) {
    progress_->finish();
    // The final checkpoint may exist already: this is the resume of a run killed after writing
    // it.
    if (step_ != saved_step_ &&
        (status == RunStatus::stopped || (tc_.save && status == RunStatus::done)))
      save(status == RunStatus::done ? CheckpointKind::final : CheckpointKind::intermediate);
    fault_point("train.final");
    result_.status = status;
    result_.steps = step_;
    if (ranks_.leader()) write_status(dir_, status, result_.to_json());
    return result_;
  }

 private:
  void restore(const Checkpoint& checkpoint) {
    ranks_.load_params(checkpoint.params, model_.params());
    optimizer_.first_moment() = ranks_.owned_part(checkpoint.first_moment);
    if (!checkpoint.second_moment.empty())
      optimizer_.second_moment() = ranks_.owned_part(checkpoint.second_moment);
    optimizer_.set_steps_taken(checkpoint.optimizer_steps);
    step_ = saved_step_ = checkpoint.step;
    const nlohmann::json& s = checkpoint.state;
    train_loader_.restore(s.at("train_loader").get<BatchLoader::State>());
    losses_.first_loss = s.at("first_loss").get<double>();
    losses_.smoothed_loss = s.at("smoothed_loss").get<double>();
    losses_.interval_loss = state_number(s, "interval_loss", dir_);
    losses_.interval_steps = state_count(s, "interval_steps", dir_);
    result_.train_loss = state_number(s, "train_loss", dir_);
    result_.val_loss = state_number(s, "val_loss", dir_);
    result_.tokens_per_s = state_number(s, "tokens_per_s", dir_);
  }

  // Adds the step's loss to the running totals; true when the run has diverged: a loss or
  // gradient that is not finite, or (after 10 steps) a smoothed loss past diverge_factor times
  // the first.
  bool track(const StepStats& stats) {
    if (std::isnan(losses_.first_loss))
      losses_.first_loss = stats.loss, losses_.smoothed_loss = stats.loss;
    losses_.smoothed_loss = 0.9 * losses_.smoothed_loss + 0.1 * stats.loss;
    losses_.interval_loss += stats.loss;
    ++losses_.interval_steps;
    return !std::isfinite(stats.loss) || !std::isfinite(stats.grad_norm) ||
           (step_ > 10 && losses_.smoothed_loss > tc_.diverge_factor * losses_.first_loss);
  }

  double tokens_per_s() const {
    return double(tc_.tokens_per_step(mc_.seq)) * double(step_ - first_step_) /
           (now_s() - run_start_);
  }

  // A metrics line (with a validation pass when one is due) every log_every steps, at the end
  // and on divergence; the progress bar after every step.
  void log(const StepStats& stats, bool diverged) {
    const bool log_now = step_ % tc_.log_every == 0 || step_ == tc_.steps || diverged;
    const bool eval_now =
        !diverged && ((tc_.eval_every > 0 && step_ % tc_.eval_every == 0) || step_ == tc_.steps);
    if (!log_now && !eval_now) {
      progress_->update(step_, stats.loss, result_.val_loss, tokens_per_s(), LogLine::skip);
      return;
    }
    const int64_t tokens_per_step = tc_.tokens_per_step(mc_.seq);
    const double throughput = tokens_per_s();
    nlohmann::json line = {{"step", step_},
                           {"tokens", step_ * tokens_per_step},
                           {"loss", stats.loss},
                           {"aux_loss", stats.aux_loss},
                           {"z_loss", stats.z_loss},
                           {"lr", oc_.lr * stats.lr_factor},
                           {"grad_norm", stats.grad_norm},
                           {"tokens_per_s", throughput}};
    if (!stats.counts.empty())
      line["routing"] = routing_json(stats.last_routing, stats.counts, tokens_per_step);
    result_.train_loss = losses_.interval_loss / double(losses_.interval_steps);
    losses_.interval_loss = 0, losses_.interval_steps = 0;
    if (eval_now) result_.val_loss = validate(line);
    if (ranks_.leader()) metrics_->write(line);
    result_.tokens_per_s = throughput;
    progress_->update(step_, result_.train_loss, result_.val_loss, throughput, LogLine::print);
  }

  // Validation loss on val (returned) and on every extra set, written into the metrics line.
  double validate(nlohmann::json& line) {
    const size_t rows = size_t(tc_.batch * mc_.seq);
    std::vector<int32_t> in(rows), tg(rows);
    const double val = evaluate(model_, val_loader_, tc_.eval_batches, in, tg, ranks_);
    line["val_loss"] = val;
    for (size_t i = 0; i < extra_loaders_.size(); ++i)
      line["val_" + data_.extra_val()[i].name] =
          evaluate(model_, extra_loaders_[i], tc_.eval_batches, in, tg, ranks_);
    return val;
  }

  // Every rank takes part (the moments are gathered from the shards); the leader writes.
  void save(CheckpointKind kind) {
    std::vector<float> first_moment = ranks_.gather(optimizer_.first_moment()), second_moment;
    if (!optimizer_.second_moment().empty())
      second_moment = ranks_.gather(optimizer_.second_moment());
    std::vector<float> params = ranks_.whole_params(model_.params());
    if (!ranks_.leader()) {
      saved_step_ = step_;
      return;
    }
    Checkpoint c;
    c.step = step_;
    c.config_toml = config_.to_toml();
    c.parameterization = p_json_;
    c.params = std::move(params);
    c.first_moment = std::move(first_moment);
    c.second_moment = std::move(second_moment);
    c.optimizer_steps = optimizer_.steps_taken();
    c.state = {{"train_loader", train_loader_.state()},
               {"first_loss", losses_.first_loss},
               {"smoothed_loss", losses_.smoothed_loss},
               {"interval_loss", losses_.interval_loss},
               {"interval_steps", losses_.interval_steps},
               {"train_loss", result_.train_loss},
               {"val_loss", result_.val_loss},
               {"tokens_per_s", result_.tokens_per_s},
               {"final", kind == CheckpointKind::final}};
    save_checkpoint(dir_, tensors_, c);
    saved_step_ = step_;
  }

  const Config& config_;
  const TrainOptions& options_;
  const std::string& dir_;
  const ModelConfig& mc_;
  const TrainConfig& tc_;
  const OptimConfig& oc_;
  const std::vector<TensorInfo>& tensors_;
  const param::Parameterization& p_;
  const nlohmann::json p_json_;
  const Dataset data_;
  DataParallel& ranks_;
  Model<float> model_;
  Optimizer optimizer_;
  BatchLoader train_loader_, val_loader_;
  std::vector<BatchLoader> extra_loaders_;
  const bool from_checkpoint_;
  std::optional<Progress> progress_;
  std::optional<MetricsLog> metrics_;
  TrainResult result_;
  LossTracker losses_;
  int64_t step_ = 0;
  int64_t saved_step_ = -1;  // of the last checkpoint written or resumed from
  double run_start_ = 0;
  int64_t first_step_ = 0;  // of this process: throughput counts from here
};

}  // namespace

TrainResult train(const Config& config, const TrainOptions& options) {
  dist::SingleWorld alone;
  return train(config, options, alone);
}

TrainResult train(const Config& config, const TrainOptions& options, dist::World& world) {
  const std::string& dir = options.out_dir;
  std::optional<RunSettings> settings;
  std::optional<RunMemory> memory;
  std::optional<TrainResult> finished;
  std::vector<TensorInfo> tensors;
  std::optional<Checkpoint> checkpoint;
  std::optional<param::Parameterization> p;
  std::optional<DataParallel> ranks;
  std::optional<TrainRun> run;
  // Everything is read and checked before the first file is written: a refused run changes
  // nothing. A finished run is left exactly as it is. Data parallel, every rank reads; an error
  // on any rank stops all of them with one line.
  dist::all_or_none(world, [&] {
    settings.emplace(RunSettings{model_config_from(config), train_config_from(config),
                                 optim_config_from(config), data_config_from(config)});
    const TrainConfig& tc = settings->train;
    use_threads(tc.threads);
    memory.emplace(run_memory(config, options.resume ? RunKind::resume : RunKind::train));
    memory->require_fits();
    const nlohmann::json stored_status = read_status(dir);
    finished = finished_before(dir, options, stored_status, tc.steps, world.rank() == 0);
    if (finished) return;
    tensors = model_tensors(settings->model);
    checkpoint = starting_point(dir, options, stored_status, tc.steps, tensors);
    // A resumed run reloads its stored parameterization.
    p.emplace(checkpoint ? stored_parameterization(*checkpoint, settings->model, dir)
                         : param::resolve_parameterization(config));
  });
  if (finished) return *finished;
  // Apart from the reads above, so that every rank reaches the world's split in it (the checks
  // before the split depend on the config alone, the same on every rank).
  dist::all_or_none(world, [&] {
    ranks.emplace(world, settings->model, settings->train.batch, settings->train.expert_parallel);
    run.emplace(config, options, *settings, tensors, *p, checkpoint ? &*checkpoint : nullptr,
                *ranks);
  });
  dist::all_or_none(world, [&] { run->open(*memory); });
  return run->finish(run->loop());
}

}  // namespace moet
