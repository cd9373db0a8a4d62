// A small sweep database with synthetic results (no training): two presets on a width ladder of
// three scales, two seeds, known optima, one diverged LR, one failed and one unfinished trial.
// The report, transfer and browser tests read it.
#pragma once

#include <cmath>
#include <string>

#include "../sweep/sweep_fixture.h"
#include "sweep/results_store.h"
#include "sweep/spec.h"

namespace moet::testing {

class ReportFixture : public SweepFixture {
 protected:
  // "stable" keeps its optimum at 2^-6 on every scale; "sp" moves it down an octave per
  // doubling. Both improve with scale at their own optima.
  static double synthetic_loss(const std::string& preset, double scale, double log2_lr,
                               int64_t seed) {
    const double optimum = preset == "sp" ? -6 - std::log2(scale) : -6.0;
    return 3.0 - 0.1 * std::log2(scale) + 0.04 * (log2_lr - optimum) * (log2_lr - optimum) +
           0.002 * double(seed);
  }

  // name: the spec's name (any text); db_file: the database's path under the scratch directory.
  std::string make_database(const std::string& name = "synthetic",
                            const std::string& db_file = "synthetic.sqlite") {
    std::string toml_name;  // the contents of a TOML basic string
    for (const char c : name) {
      if (c == '"' || c == '\\') toml_name += '\\';
      toml_name += c;
    }
    const std::string text = "name = \"" + toml_name + "\"\n" + tiny_config() + R"(
[grid]
lr_log2 = { from = -10, to = -3 }
seeds = [1, 2]
[[preset]]
name = "sp"
[[preset]]
name = "completep-moe"
[[ladder]]
name = "width"
axes = ["N", "Ne"]
scales = [1, 2, 4]
)";
    const std::string spec_path = write_spec("synthetic.toml", text);
    const sweep::SweepSpec spec = sweep::load_sweep_spec(spec_path);
    const sweep::Expansion expansion = sweep::expand_sweep(spec);
    const std::string db = path(db_file);
    sweep::ResultsStore store = sweep::ResultsStore::open(db, sweep::JournalMode::wal);
    store.register_sweep(spec, expansion);
    for (const sweep::Trial& t : expansion.trials) {
      const double scale = t.points.front().scale;
      const double log2_lr = std::log2(t.lr);
      const std::string preset = t.preset == "sp" ? "sp" : "stable";
      sweep::TrialOutcome o;
      o.steps = 12;
      o.seconds = 1.5;
      if (log2_lr == -3) {
        o.status = RunStatus::diverged;
        o.steps = 11;
        o.train_loss = INFINITY;
      } else if (t.preset == "sp" && scale == 2 && log2_lr == -10 && t.seed == 2) {
        o.status = RunStatus::failed;
        o.error = "exit status 2: data.train: cannot open";
      } else if (t.preset == "sp" && scale == 1 && log2_lr == -10 && t.seed == 2) {
        continue;  // never ran: stays pending
      } else {
        o.status = RunStatus::done;
        o.val_loss = synthetic_loss(preset, scale, log2_lr, t.seed);
        o.train_loss = o.val_loss - 0.05;
        o.val_extra = {{"moby", o.val_loss + 0.3}};
        for (int step = 4; step <= 12; step += 4)
          o.curve.push_back(
              {step, step * 64, o.val_loss + 1.0 / step, step == 12 ? o.val_loss : NAN, t.lr});
      }
      store.record(t.key, o);
    }
    return db;
  }
};

}  // namespace moet::testing
