#include "sweep/results_store.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "sweep/trainer_command.h"

namespace moet::sweep {

namespace {

constexpr const char* kSchemaVersion = "1";
// Long enough for a cluster's worth of tasks finishing at once to queue their small writes.
constexpr int kBusyTimeoutMs = 120000;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials(
  key TEXT PRIMARY KEY,
  idx INTEGER,
  preset TEXT NOT NULL,
  lr REAL NOT NULL,
  init_std REAL NOT NULL,
  seed INTEGER NOT NULL,
  N INTEGER NOT NULL, Ne INTEGER NOT NULL, M INTEGER NOT NULL, K INTEGER NOT NULL,
  L INTEGER NOT NULL,
  run_dir TEXT NOT NULL,
  command TEXT NOT NULL,
  config TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  steps INTEGER, tokens INTEGER,
  train_loss REAL, val_loss REAL, val_extra TEXT,
  tokens_per_s REAL, seconds REAL,
  error TEXT,
  host TEXT, started_at TEXT, finished_at TEXT);
CREATE INDEX IF NOT EXISTS trials_idx ON trials(idx);
CREATE TABLE IF NOT EXISTS ladder_points(
  ladder TEXT NOT NULL,
  ladder_pos INTEGER NOT NULL,
  axes TEXT NOT NULL,
  scale REAL NOT NULL,
  key TEXT NOT NULL REFERENCES trials(key),
  PRIMARY KEY(ladder, key));
CREATE TABLE IF NOT EXISTS curves(
  key TEXT NOT NULL REFERENCES trials(key),
  step INTEGER NOT NULL,
  tokens INTEGER,
  loss REAL,
  val_loss REAL,
  lr REAL,
  PRIMARY KEY(key, step));
)sql";

std::string hostname() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

void set_meta(sql::Db& db, const std::string& key, const std::string& value) {
  db.prepare("INSERT INTO meta(key, value) VALUES(?1, ?2) "
             "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
      .bind(1, key)
      .bind(2, value)
      .run();
}

std::string get_meta(sql::Db& db, const std::string& key) {
  auto q = db.prepare("SELECT value FROM meta WHERE key = ?1");
  q.bind(1, key);
  std::string value;
  while (q.step()) value = q.column_text(0);
  return value;
}

// Fails unless this is a moet sweep database of our schema or has no tables at all; true when it
// has none: new, or left empty by a sweep killed while creating it.
bool check_is_new(sql::Db& db) {
  auto tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'");
  bool has_meta = false, any = false;
  while (tables.step()) {
    any = true;
    has_meta |= tables.column_text(0) == "meta";
  }
  if (any && !has_meta) fail("{}: not a moet sweep database (no meta table)", db.path());
  if (!any) return true;
  const std::string version = get_meta(db, "schema_version");
  if (version != kSchemaVersion)
    fail("{}: sweep database schema version '{}', this moet reads version {}", db.path(), version,
         kSchemaVersion);
  return false;
}

// A trial's status column; anything but moet's own words means the file was edited by hand.
RunStatus status_of(const std::string& path, const std::string& key, const std::string& text) {
  if (const auto status = run_status_from(text)) return *status;
  fail("{}: trial {}: status '{}' is not one of {}", path, key, text,
       join(enum_names(kRunStatuses), "|"));
}

}  // namespace

ResultsStore ResultsStore::open(const std::string& path, JournalMode create_mode) {
  const bool exists = file_exists(path);
  if (exists) require_file(path);
  if (!exists) {
    const std::string dir = std::filesystem::path(path).parent_path().string();
    if (!dir.empty()) make_dirs(dir);
  }
  auto db = std::make_unique<sql::Db>(path, sql::Access::read_write, kBusyTimeoutMs);
  if (check_is_new(*db)) {
    // Setting the journal mode needs the file to ourselves, which a brand-new file is.
    db->exec(create_mode == JournalMode::wal ? "PRAGMA journal_mode = WAL"
                                             : "PRAGMA journal_mode = DELETE");
  }
  db->exec("PRAGMA synchronous = NORMAL");
  sql::Transaction tx(*db);
  db->exec(kSchema);
  if (get_meta(*db, "schema_version").empty()) set_meta(*db, "schema_version", kSchemaVersion);
  tx.commit();
  return ResultsStore(std::move(db));
}

ResultsStore ResultsStore::open_read_only(const std::string& path) {
  if (!file_exists(path)) fail("{}: no such database", path);
  require_file(path);
  auto db = std::make_unique<sql::Db>(path, sql::Access::read_only, kBusyTimeoutMs);
  if (check_is_new(*db) || get_meta(*db, "schema_version").empty())
    fail("{}: not a moet sweep database (empty)", path);
  return ResultsStore(std::move(db));
}

std::string runs_dir_for(const std::string& db_path) {
  const std::filesystem::path p(db_path);
  return (p.parent_path() / (p.stem().string() + ".runs")).string();
}

std::string ResultsStore::meta(const std::string& key) const { return get_meta(*db_, key); }

std::string ResultsStore::spec_hash() const { return meta("spec_hash"); }

param::AxisValues ResultsStore::base_shape() const {
  const std::string text = meta("base_shape");
  if (text.empty()) fail("{}: no sweep registered yet (no base shape)", path());
  param::AxisValues base;
  try {
    const auto json = nlohmann::json::parse(text);
    for (const param::Axis a : param::kAllAxes)
      base[a] = json.at(param::axis_name(a)).get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    fail("{}: meta base_shape is corrupt ({})", path(), e.what());
  }
  return base;
}

void ResultsStore::register_sweep(const SweepSpec& spec, const Expansion& expansion) {
  if (spec_hash() == expansion.hash) {
    // The same trials; the spec's name, comments or path may still have changed.
    if (meta("spec_text") == spec.text && meta("spec_path") == spec.source) return;
    sql::Transaction tx(*db_);
    set_meta(*db_, "spec_path", spec.source);
    set_meta(*db_, "spec_text", spec.text);
    set_meta(*db_, "name", spec.name);
    tx.commit();
    return;
  }
  sql::Transaction tx(*db_);
  if (get_meta(*db_, "spec_hash") == expansion.hash) return;  // another rank just did it
  db_->exec("UPDATE trials SET idx = NULL");
  auto insert = db_->prepare(
      "INSERT INTO trials(key, idx, preset, lr, init_std, seed, N, Ne, M, K, L, run_dir, command, "
      "config) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
      "ON CONFLICT(key) DO UPDATE SET idx = excluded.idx, run_dir = excluded.run_dir, "
      "command = excluded.command");
  db_->exec("DELETE FROM ladder_points");
  auto point = db_->prepare(
      "INSERT INTO ladder_points(ladder, ladder_pos, axes, scale, key) VALUES(?1, ?2, ?3, ?4, ?5)");
  const std::string root = runs_dir();
  for (const Trial& t : expansion.trials) {
    const std::string run_dir = root + "/" + t.key;
    insert.bind(1, t.key).bind(2, t.index).bind(3, t.preset).bind(4, t.lr).bind(5, t.init_std);
    insert.bind(6, t.seed);
    for (int a = 0; a < param::kAxes; ++a) insert.bind(7 + a, t.shape.values[size_t(a)]);
    insert.bind(12, run_dir)
        .bind(13, nlohmann::json(stored_command(spec.trainer, t, run_dir)).dump())
        .bind(14, t.config_toml)
        .run();
    for (const LadderPoint& p : t.points) {
      int64_t pos = 0;
      while (spec.ladders[size_t(pos)].name != p.ladder) ++pos;
      point.bind(1, p.ladder).bind(2, pos).bind(3, p.axes).bind(4, p.scale).bind(5, t.key).run();
    }
  }
  nlohmann::json base;
  for (const param::Axis a : param::kAllAxes) base[param::axis_name(a)] = expansion.base[a];
  set_meta(*db_, "base_shape", base.dump());
  set_meta(*db_, "spec_hash", expansion.hash);
  set_meta(*db_, "spec_path", spec.source);
  set_meta(*db_, "spec_text", spec.text);
  set_meta(*db_, "name", spec.name);
  tx.commit();
}

std::map<std::string, RunStatus> ResultsStore::statuses() const {
  std::map<std::string, RunStatus> out;
  auto q = db_->prepare("SELECT key, status FROM trials WHERE idx IS NOT NULL");
  while (q.step()) out[q.column_text(0)] = status_of(path(), q.column_text(0), q.column_text(1));
  return out;
}

void ResultsStore::set_status(const std::string& key, RunStatus status) {
  sql::Transaction tx(*db_);
  db_->prepare("UPDATE trials SET status = ?3, host = ?2, "
               "started_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE key = ?1")
      .bind(1, key)
      .bind(2, hostname())
      .bind(3, std::string(name_of(status)))
      .run();
  tx.commit();
}

void ResultsStore::record(const std::string& key, const TrialOutcome& outcome) {
  sql::Transaction tx(*db_);
  db_->prepare("UPDATE trials SET status = ?2, steps = ?3, tokens = ?4, train_loss = ?5, "
               "val_loss = ?6, val_extra = ?7, tokens_per_s = ?8, seconds = COALESCE(?9, seconds), "
               "error = ?10, "
               "finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE key = ?1")
      .bind(1, key)
      .bind(2, std::string(name_of(outcome.status)))
      .bind(3, outcome.steps)
      .bind(4, outcome.tokens)
      .bind(5, outcome.train_loss)
      .bind(6, outcome.val_loss)
      .bind(7, outcome.val_extra.dump())
      .bind(8, outcome.tokens_per_s)
      .bind(9, outcome.seconds)
      .bind(10, outcome.error)
      .run();
  if (db_->changes() != 1) fail("{}: no trial '{}' to record", path(), key);
  db_->prepare("DELETE FROM curves WHERE key = ?1").bind(1, key).run();
  auto insert = db_->prepare(
      "INSERT INTO curves(key, step, tokens, loss, val_loss, lr) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
  for (const CurvePoint& p : outcome.curve)
    insert.bind(1, key)
        .bind(2, p.step)
        .bind(3, p.tokens)
        .bind(4, p.loss)
        .bind(5, p.val_loss)
        .bind(6, p.lr)
        .run();
  tx.commit();
}

std::vector<TrialRecord> ResultsStore::current_trials() const {
  std::vector<TrialRecord> out;
  std::map<std::string, size_t> position;
  auto q = db_->prepare(
      "SELECT key, idx, preset, lr, init_std, seed, N, Ne, M, K, L, run_dir, config, command, "
      "status, steps, train_loss, val_loss, val_extra, tokens_per_s, seconds, error "
      "FROM trials WHERE idx IS NOT NULL ORDER BY idx");
  while (q.step()) {
    TrialRecord r;
    r.key = q.column_text(0);
    r.index = q.column_int(1);
    r.preset = q.column_text(2);
    r.lr = q.column_double(3);
    r.init_std = q.column_double(4);
    r.seed = q.column_int(5);
    for (int a = 0; a < param::kAxes; ++a) r.shape.values[size_t(a)] = q.column_int(6 + a);
    r.run_dir = q.column_text(11);
    r.config_toml = q.column_text(12);
    try {
      r.command = nlohmann::json::parse(q.column_text(13)).get<std::vector<std::string>>();
      if (!q.is_null(18)) r.val_extra = nlohmann::json::parse(q.column_text(18));
    } catch (const nlohmann::json::exception& e) {
      fail("{}: trial {}: corrupt JSON column ({})", path(), r.key, e.what());
    }
    r.status = status_of(path(), r.key, q.column_text(14));
    r.steps = q.column_int(15);
    r.train_loss = q.column_double(16);
    r.val_loss = q.column_double(17);
    r.tokens_per_s = q.column_double(19);
    r.seconds = q.column_double(20);
    r.error = q.column_text(21);
    position[r.key] = out.size();
    out.push_back(std::move(r));
  }
  auto points =
      db_->prepare("SELECT ladder, axes, scale, key FROM ladder_points ORDER BY ladder_pos, scale");
  while (points.step()) {
    const auto it = position.find(points.column_text(3));
    if (it == position.end()) continue;
    out[it->second].points.push_back(
        {points.column_text(0), points.column_text(1), points.column_double(2)});
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ResultsStore::ladders() const {
  std::vector<std::pair<std::string, std::string>> out;
  auto q = db_->prepare(
      "SELECT ladder, axes FROM ladder_points GROUP BY ladder ORDER BY MIN(ladder_pos)");
  while (q.step()) out.emplace_back(q.column_text(0), q.column_text(1));
  return out;
}

std::vector<CurvePoint> ResultsStore::curve(const std::string& key) const {
  std::vector<CurvePoint> out;
  auto q = db_->prepare(
      "SELECT step, tokens, loss, val_loss, lr FROM curves WHERE key = ?1 ORDER BY step");
  q.bind(1, key);
  while (q.step())
    out.push_back({q.column_int(0), q.column_int(1), q.column_double(2), q.column_double(3),
                   q.column_double(4)});
  return out;
}

}  // namespace moet::sweep
