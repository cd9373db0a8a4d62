// The results database of a sweep (SQLite): every trial with its config, command, status, final
// losses and loss curve, and the ladder points it stands on. docs/sweeps.md has the schema.
//
// Writers are the sweep's local runner, its MPI ranks and its Slurm array tasks, possibly at
// once: each result goes in with one IMMEDIATE transaction when its trial ends, so a killed sweep
// loses nothing that finished and never leaves half a result. A database made for one host uses
// WAL (readers never wait for the writer); one made for a cluster (--emit-slurm, several MPI
// ranks) uses a rollback journal, because WAL needs every writer on one machine.
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "param/axes.h"
#include "sweep/spec.h"
#include "sweep/sqlite.h"
#include "sweep/trial_outcome.h"

namespace moet::sweep {

enum class JournalMode { wal, rollback };

struct TrialRecord {
  std::string key;
  int64_t index = -1;  // position in the current spec's expansion
  std::string preset;
  double lr = 0;
  double init_std = 0;
  int64_t seed = 0;
  param::AxisValues shape;
  std::string run_dir;
  std::string config_toml;
  std::vector<std::string> command;  // argv after the binary
  RunStatus status = RunStatus::pending;
  int64_t steps = 0;
  double train_loss = NAN, val_loss = NAN;
  nlohmann::json val_extra = nlohmann::json::object();
  double tokens_per_s = NAN, seconds = NAN;
  std::string error;
  std::vector<LadderPoint> points;
};

// Where a database's trial run directories go: next to it, "<db without extension>.runs".
std::string runs_dir_for(const std::string& db_path);

class ResultsStore {
 public:
  // Opens the database, creating it (with `create_mode`) when the file does not exist. An
  // existing file keeps its journal mode; one that is not a moet sweep database is an Error.
  static ResultsStore open(const std::string& path, JournalMode create_mode);
  // Opens an existing database for reading only (report, transfer).
  static ResultsStore open_read_only(const std::string& path);

  const std::string& path() const { return db_->path(); }
  std::string runs_dir() const { return runs_dir_for(path()); }

  // Makes this expansion the database's current sweep: adds its new trials as pending, keeps the
  // results of trials it shares with earlier versions of the spec, and records the spec. Trials
  // no longer in the spec stay in the file but drop out of the current sweep (index NULL).
  void register_sweep(const SweepSpec& spec, const Expansion& expansion);
  std::string spec_hash() const;
  std::string meta(const std::string& key) const;  // "" when absent
  param::AxisValues base_shape() const;

  std::map<std::string, RunStatus> statuses() const;  // current trials: key -> status
  // pending | running (stamps host and start time); results go in with record().
  void set_status(const std::string& key, RunStatus status);
  void record(const std::string& key, const TrialOutcome& outcome);

  // The current sweep's trials in expansion order, with their ladder points; the ladders in
  // spec order as (name, axes).
  std::vector<TrialRecord> current_trials() const;
  std::vector<std::pair<std::string, std::string>> ladders() const;
  std::vector<CurvePoint> curve(const std::string& key) const;

 private:
  explicit ResultsStore(std::unique_ptr<sql::Db> db) : db_(std::move(db)) {}
  std::unique_ptr<sql::Db> db_;
};

}  // namespace moet::sweep
