// Whether a sweep run somewhere else (Slurm array tasks, mpirun ranks) filled its database exactly
// as a local sweep of the same spec fills one: the same trials, each done, with the same steps,
// final losses and loss curve, bit for bit. Only where and when trials ran may differ. Trials of
// several data-parallel ranks (the spec's `ranks`) sum in another order than one process: their
// losses must agree within the data-parallel tolerance of tests/train/data_parallel_test.cpp.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "../support/run_binary.h"
#include "sweep/results_store.h"
#include "sweep/spec.h"

namespace moet::testing {

// rel = 0: bit for bit; else every loss within rel of the local one, relative.
inline void expect_same_results(const std::string& db, const std::string& local_db,
                                double rel = 0) {
  const auto expect_loss = [rel](double loss, double local, const std::string& what) {
    if (rel == 0)
      EXPECT_EQ(loss, local) << what;
    else
      EXPECT_NEAR(loss, local, rel * std::abs(local)) << what;
  };
  using sweep::ResultsStore;
  const ResultsStore store = ResultsStore::open_read_only(db);
  const ResultsStore local = ResultsStore::open_read_only(local_db);
  const auto trials = store.current_trials(), local_trials = local.current_trials();
  ASSERT_EQ(trials.size(), local_trials.size());
  for (size_t i = 0; i < trials.size(); ++i) {
    const sweep::TrialRecord &t = trials[i], &l = local_trials[i];
    SCOPED_TRACE(t.key);
    EXPECT_EQ(t.key, l.key);
    EXPECT_EQ(t.status, RunStatus::done) << t.error;
    EXPECT_EQ(t.status, l.status);
    EXPECT_EQ(t.steps, l.steps);
    // Bit for bit: the same binary, config and thread count train the same model.
    expect_loss(t.train_loss, l.train_loss, "train_loss");
    expect_loss(t.val_loss, l.val_loss, "val_loss");
    if (rel == 0) {
      EXPECT_EQ(t.val_extra, l.val_extra);
    }
    const auto curve = store.curve(t.key), local_curve = local.curve(l.key);
    ASSERT_EQ(curve.size(), local_curve.size());
    ASSERT_FALSE(curve.empty());
    for (size_t k = 0; k < curve.size(); ++k) {
      EXPECT_EQ(curve[k].step, local_curve[k].step);
      expect_loss(curve[k].loss, local_curve[k].loss, "step " + std::to_string(curve[k].step));
    }
  }
}

// Runs the spec as a local sweep into dir/local/sweep.sqlite and compares db with it.
inline void expect_same_as_local_sweep(const std::string& spec, const std::string& db,
                                       const std::string& dir) {
  const std::string local_db = dir + "/local/sweep.sqlite";
  const auto local =
      run_moet("sweep " + sweep::shell_quote({spec}) + " --db " + local_db + " --threads 1", dir);
  ASSERT_EQ(local.exit_code, 0) << local.out << local.err;
  expect_same_results(db, local_db);
}

}  // namespace moet::testing
