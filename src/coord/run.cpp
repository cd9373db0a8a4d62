#include "coord/run.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "coord/probe.h"
#include "core/error.h"
#include "core/number_text.h"
#include "core/timer.h"
#include "data/dataset.h"
#include "kernels/threads.h"
#include "model/model.h"
#include "optim/optimizer.h"
#include "train/run_memory.h"
#include "train/train_config.h"
#include "train/train_step.h"

namespace moet {

std::vector<int64_t> default_record_steps(int64_t steps) {
  std::vector<int64_t> out;
  for (const int64_t t : {0, 1, 2, 5, 10})
    if (t < steps) out.push_back(t);
  out.push_back(steps);
  return out;
}

std::vector<int64_t> parse_record_steps(const std::string& text, int64_t steps) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item == "last") {
      out.push_back(steps);
      continue;
    }
    const std::optional<int64_t> v = parse_int64(item);
    if (!v || *v < 0)
      fail("--record: '{}' is not a step number or 'last' (e.g. --record 0,1,2,5,10,last)", item);
    if (*v > steps) fail("--record: step {} is beyond --steps {}", *v, steps);
    out.push_back(*v);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.empty()) fail("--record: no steps given");
  return out;
}

namespace {

// Collects probe values into series keyed by (metric, layer label).
class SeriesTable {
 public:
  SeriesTable(size_t steps, size_t scales, size_t seeds, int64_t min_depth, bool depth_moves)
      : steps_(steps),
        scales_(scales),
        seeds_(seeds),
        min_depth_(min_depth),
        depth_moves_(depth_moves) {}

  void add(const std::vector<CoordValue>& values, int64_t depth, size_t step, size_t scale,
           size_t seed) {
    for (const CoordValue& v : values) {
      if (v.layer < 0) {
        store(v.metric, "-", v.value, step, scale, seed);
        continue;
      }
      if (v.layer < min_depth_)
        store(v.metric, std::to_string(v.layer), v.value, step, scale, seed);
      if (depth_moves_ && v.layer == depth - 1) store(v.metric, "last", v.value, step, scale, seed);
    }
  }
  std::vector<CoordSeries> take() { return std::move(series_); }

 private:
  void store(const std::string& metric, const std::string& layer, double value, size_t step,
             size_t scale, size_t seed) {
    const auto key = std::make_pair(metric, layer);
    auto it = index_.find(key);
    if (it == index_.end()) {
      it = index_.emplace(key, series_.size()).first;
      CoordSeries s{metric, layer, {}};
      s.values.assign(steps_, std::vector<std::vector<double>>(
                                  scales_, std::vector<double>(seeds_, std::nan(""))));
      series_.push_back(std::move(s));
    }
    series_[it->second].values[step][scale][seed] = value;
  }

  size_t steps_, scales_, seeds_;
  int64_t min_depth_;
  bool depth_moves_;
  std::map<std::pair<std::string, std::string>, size_t> index_;
  std::vector<CoordSeries> series_;
};

}  // namespace

CoordData run_coord(const Config& given, const CoordOptions& options) {
  // A coordinate check compares steps of equal size: constant LR unless the config asks.
  Config config = given;
  if (!config.is_given("optim.warmup")) config.set("optim.warmup", "0");
  if (options.steps < 1) fail("--steps: must be positive (got {})", options.steps);
  if (options.seeds < 1) fail("--seeds: must be positive (got {})", options.seeds);
  MOET_CHECK(!options.record_steps.empty() && options.record_steps.back() <= options.steps);
  const TrainConfig tc = train_config_from(config);
  use_threads(tc.threads);
  const std::vector<CoordRung> rungs = ladder_rungs(config, options.ladder);
  // Every rung must fit before the first one trains (the largest comes last).
  for (const CoordRung& rung : rungs)
    run_memory(rung.config, RunKind::coord).require_fits(fmt::format("scale {:g}: ", rung.scale));

  CoordData data;
  const param::Parameterization& top = rungs.back().parameterization;
  data.preset = top.preset;
  data.regime = top.regime;
  data.depth = top.depth;
  data.optimizer = name_of(top.optimizer);
  data.axes = options.ladder.axes;
  data.shrinking = options.ladder.shrinking;
  data.scales = options.ladder.scales;
  data.steps = options.record_steps;
  data.train_steps = options.steps;
  data.seeds = options.seeds;
  int64_t min_depth = INT64_MAX, max_depth = 0;
  for (const CoordRung& r : rungs) {
    data.shapes.push_back(r.parameterization.target);
    min_depth = std::min(min_depth, r.parameterization.target[param::Axis::L]);
    max_depth = std::max(max_depth, r.parameterization.target[param::Axis::L]);
  }

  const Dataset dataset = Dataset::open(data_config_from(config));
  SeriesTable table(data.steps.size(), rungs.size(), size_t(options.seeds), min_depth,
                    min_depth != max_depth);
  for (size_t i = 0; i < rungs.size(); ++i) {
    const CoordRung& rung = rungs[i];
    const ModelConfig mc = model_config_from(rung.config);
    const OptimConfig oc = optim_config_from(rung.config);
    const param::Parameterization& p = rung.parameterization;
    if (dataset.vocab_size() > mc.vocab)
      fail("model.vocab: {} is smaller than the data's vocabulary ({}); set model.vocab = {}",
           mc.vocab, dataset.vocab_size(), dataset.vocab_size());
    for (int64_t s = 0; s < options.seeds; ++s) {
      const double start = now_s();
      const uint64_t seed = uint64_t(tc.seed + s);
      Model<float> model(mc, p.plan, tc.batch, tc.attention);
      model.set_precision(tc.precision);  // as moet train runs it; the probe's products stay fp32
      model.init(seed);
      Optimizer optimizer(oc, p.tensors, p.hyper);
      StepRunner stepper(model, optimizer, p.hyper, tc.accum, options.steps);
      BatchLoader loader(dataset, Split::train, tc.batch, mc.seq, seed);
      std::vector<int32_t> inputs(size_t(model.rows())), targets(size_t(model.rows()));
      loader.next(inputs.data(), targets.data());
      loader.reset();  // the probe batch is the first training batch
      const CoordProbe probe(model, inputs, targets);

      double first_loss = NAN, last_loss = NAN;
      std::string end = "";
      size_t next = 0;
      for (int64_t step = 0; step <= options.steps; ++step) {
        if (next < data.steps.size() && data.steps[next] == step)
          table.add(probe.measure(model), mc.L, next++, i, size_t(s));
        if (step == options.steps) break;
        const StepStats stats = stepper.run(loader, step);
        if (std::isnan(first_loss)) first_loss = stats.loss;
        last_loss = stats.loss;
        if (!std::isfinite(stats.loss) || !std::isfinite(stats.grad_norm)) {
          end = fmt::format(", diverged at step {}", step);
          break;
        }
      }
      if (options.progress)
        options.progress(fmt::format("scale {:g} ({}) seed {}: loss {:.4f} -> {:.4f}{}, {:.1f} s",
                                     rung.scale, shape_text(p.target), seed, first_loss, last_loss,
                                     end, now_s() - start));
    }
  }
  data.series = table.take();
  return data;
}

}  // namespace moet
