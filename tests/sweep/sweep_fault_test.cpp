// Crash safety of a sweep, by fault injection: the sweep process is killed (SIGKILL) at every
// point MOET_FAULT can reach in it (trials registered, each trial started, ended, recorded), and
// at random moments from outside; rerunning the same command must leave the database with the
// results of an uninterrupted sweep, bit for bit, without retraining what was already recorded.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "../support/run_binary.h"
#include "core/fault.h"
#include "sweep/results_store.h"
#include "sweep/sqlite.h"
#include "sweep_fixture.h"

namespace moet::sweep {
namespace {

namespace fs = std::filesystem;
using testing::run_moet_argv;

// Two trials (one LR at two widths), one at a time, so the order of the points is fixed.
class SweepFaultTest : public testing::SweepFixture {
 protected:
  std::string spec() const {
    return write_spec("spec.toml", tiny_config("", 12, 5) +
                                       "[grid]\nlr_log2 = [-7]\n"
                                       "[[preset]]\nname = \"completep-moe\"\n"
                                       "[[ladder]]\nname = \"width\"\naxes = [\"N\", \"Ne\"]\n"
                                       "scales = [1, 2]\n");
  }
  std::vector<std::string> sweep_args(const std::string& db) const {
    return {"sweep", spec(), "--db", db, "--workers", "1", "--threads", "1"};
  }
};

// Each trial's results (status, steps, losses, loss curve) as JSON text: equal text means equal
// bits (doubles print round-trip exact), NaN included. Where its files went and how long it took
// differ between sweeps and are left out.
std::map<std::string, std::string> results(const std::string& db) {
  const ResultsStore store = ResultsStore::open_read_only(db);
  std::map<std::string, std::string> out;
  for (const TrialRecord& t : store.current_trials()) {
    nlohmann::json curve = nlohmann::json::array();
    for (const CurvePoint& p : store.curve(t.key))
      curve.push_back({p.step, p.tokens, p.loss, p.val_loss, p.lr});
    out[t.key] = nlohmann::json{
        {"status", name_of(t.status)},
        {"steps", t.steps},
        {"train_loss", t.train_loss},
        {"val_loss", t.val_loss},
        {"val_extra", t.val_extra},
        {"error", t.error},
        {"curve",
         curve}}.dump();
  }
  return out;
}

bool has_tables(const std::string& db) {
  sql::Db conn(db, sql::Access::read_only, 10000);
  auto q = conn.prepare("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'");
  int64_t n = 0;
  while (q.step()) n = q.column_int(0);
  return n > 0;
}

// The files of the trials the database records as done, with their modification times: a rerun
// must not touch them. A sweep killed before its database was set up recorded nothing.
std::map<std::string, std::pair<std::string, int64_t>> recorded_files(const std::string& db) {
  std::map<std::string, std::pair<std::string, int64_t>> files;
  if (!fs::exists(db) || !has_tables(db)) return files;
  for (const TrialRecord& t : ResultsStore::open_read_only(db).current_trials()) {
    if (t.status != RunStatus::done) continue;
    for (const auto& entry : fs::recursive_directory_iterator(t.run_dir)) {
      struct stat info {};
      ::stat(entry.path().c_str(), &info);
      files[entry.path().string()] = {
          entry.is_regular_file() ? read_file(entry.path().string()) : "",
          int64_t(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec};
    }
  }
  return files;
}

// Reruns the sweep after a kill: it must end cleanly with the reference's results and leave
// what was recorded before as it was.
void expect_rerun_ends_with(const std::vector<std::string>& args, const std::string& db,
                            const std::map<std::string, std::string>& reference,
                            const std::string& scratch) {
  const auto before = recorded_files(db);
  const auto rerun = run_moet_argv(args, {}, scratch);
  ASSERT_EQ(rerun.signal, 0) << rerun.err;
  ASSERT_EQ(rerun.exit_code, 0) << rerun.out << rerun.err;
  EXPECT_EQ(results(db), reference);
  const auto after = recorded_files(db);
  for (const auto& [file, content] : before) {
    const auto it = after.find(file);
    EXPECT_TRUE(it != after.end() && it->second == content) << file << " changed";
  }
}

TEST_F(SweepFaultTest, KilledAtEveryPointThenRerunEndsWithTheUninterruptedResults) {
  const std::string ref_db = path("reference/sweep.sqlite");
  const auto ref = run_moet_argv(sweep_args(ref_db), {}, path(""));
  ASSERT_EQ(ref.exit_code, 0) << ref.out << ref.err;
  const auto reference = results(ref_db);
  ASSERT_EQ(reference.size(), 2u);

  std::set<std::string> points_hit;
  for (int n = 1;; ++n) {
    ASSERT_LT(n, 100) << "the sweep never got past its fault points";
    const std::string dir = path(fmt::format("killed{}", n)), db = dir + "/sweep.sqlite";
    const auto killed =
        run_moet_argv(sweep_args(db), {"MOET_FAULT=*:" + std::to_string(n)}, path(""));
    if (killed.exit_code == 0) break;  // n is past the sweep's last point
    ASSERT_EQ(killed.signal, SIGKILL) << "hit " << n << ": " << killed.out << killed.err;
    const size_t at = killed.err.find("killed at ");
    ASSERT_NE(at, std::string::npos) << killed.err;
    const std::string point = killed.err.substr(at + 10, killed.err.find(' ', at + 10) - at - 10);
    points_hit.insert(point);
    SCOPED_TRACE("killed at hit " + std::to_string(n) + ", " + point);
    expect_rerun_ends_with(sweep_args(db), db, reference, path(""));
    if (HasFailure()) return;
    fs::remove_all(dir);
  }
  for (const std::string_view point : fault_points()) {
    if (point.substr(0, 6) != "sweep.") continue;
    EXPECT_TRUE(points_hit.count(std::string(point))) << point;
  }
}

TEST_F(SweepFaultTest, ADatabaseLeftEmptyByAKillIsSetUpAsANewOne) {
  // A sweep killed between creating its database file and setting it up leaves it empty.
  const std::string db = path("empty/sweep.sqlite");
  fs::create_directories(path("empty"));
  write_file_atomic(db, "");
  const auto r = run_moet_argv(sweep_args(db), {}, path(""));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(results(db).size(), 2u);
  sql::Db conn(db, sql::Access::read_only, 10000);
  auto q = conn.prepare("PRAGMA journal_mode");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.column_text(0), "wal") << "a database for one host, as if it had been created now";
  while (q.step()) {}
}

TEST_F(SweepFaultTest, KilledFromOutsideAtRandomMomentsThenRerunEndsTheSame) {
  const std::string ref_db = path("reference/sweep.sqlite");
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(run_moet_argv(sweep_args(ref_db), {}, path("")).exit_code, 0);
  const auto duration = std::chrono::steady_clock::now() - start;
  const auto reference = results(ref_db);
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  for (int attempt = 0; attempt < 3; ++attempt) {
    const auto delay = std::chrono::duration_cast<std::chrono::microseconds>(
        duration * std::uniform_real_distribution<double>(0.1, 1.0)(rng));
    SCOPED_TRACE(fmt::format("seed {}, kill after {} us", seed, delay.count()));
    const std::string dir = path(fmt::format("killed{}", attempt)), db = dir + "/sweep.sqlite";
    auto args = sweep_args(db);
    args.insert(args.begin(), MOET_BINARY);
    const pid_t pid = testing::spawn_quietly(MOET_BINARY, args);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(delay);
    ::kill(pid, SIGKILL);  // the sweep may have finished: that is a moment too
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) ? WTERMSIG(status) == SIGKILL : WEXITSTATUS(status) == 0);
    expect_rerun_ends_with(sweep_args(db), db, reference, path(""));
    if (HasFailure()) return;
    fs::remove_all(dir);
  }
}

}  // namespace
}  // namespace moet::sweep
