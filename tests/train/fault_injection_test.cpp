// Crash safety of a training run, by fault injection: a short run is killed (SIGKILL) at every
// point MOET_FAULT can reach in turn (each step, each file of each checkpoint, before and after
// each rename, half-way through a metrics line, between the last checkpoint and status.json),
// then resumed; and killed at random moments from outside. Every resumed run must end with the
// bits of an uninterrupted one: checkpoint tensors, metrics.jsonl, status.json, every file.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
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
#include "core/files.h"
#include "train_fixture.h"

namespace moet {
namespace {

namespace fs = std::filesystem;
using testing::run_moet_argv;

// 11 steps; metrics lines at 4, 6, 8 and 11 (log every 4, validate every 6), checkpoints at 5,
// 10 and 11: the one at 10 falls inside the last log interval (9-11), whose mean is the final
// train_loss. One thread keeps it cheap and its bits fixed.
class FaultInjectionTest : public testing::TrainFixture {
 protected:
  std::vector<std::string> tiny_sets() const override {
    auto sets = TrainFixture::tiny_sets();
    sets.insert(sets.end(), {"model.N=16", "model.d_head=8", "model.L=1", "train.accum=1",
                             "train.steps=11", "train.log_every=4", "train.eval_every=6",
                             "train.ckpt_every=5", "train.threads=1"});
    return sets;
  }
  std::vector<std::string> train_args(const std::string& run) const {
    std::vector<std::string> args = {"train", "--quiet", "--out", run};
    for (const auto& a : cli_set_args()) args.push_back(a);
    return args;
  }
};

// A file's content with the wall-clock throughput taken out of JSON (status.json, state.json,
// metrics.jsonl lines), which no two runs share; every other byte must match.
std::string comparable(const fs::path& file) {
  const std::string text = read_file(file.string());
  const std::string ext = file.extension().string();
  if (ext != ".json" && ext != ".jsonl") return text;
  std::istringstream lines(text);
  std::string out, line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    nlohmann::json json = nlohmann::json::parse(ext == ".json" ? text : line);
    json.erase("tokens_per_s");
    out += json.dump() + "\n";
    if (ext == ".json") break;
  }
  return out;
}

// Every file under run, by relative path, made comparable.
std::map<std::string, std::string> run_files(const std::string& run) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(run))
    files[fs::relative(entry.path(), run).string()] =
        entry.is_regular_file() ? comparable(entry.path()) : "<directory>";
  return files;
}

// Runs `moet train --resume` on what a kill left; it must finish cleanly with the reference's
// files, none missing, none extra, none left over from the kill. A run killed before its
// config.toml was in place has nothing to resume from: --resume says so in one line, and the
// original command (`start`) starts it.
void expect_resumes_to(const std::string& run, const std::map<std::string, std::string>& reference,
                       const std::vector<std::string>& start, const std::string& scratch) {
  auto resumed = run_moet_argv({"train", "--quiet", "--resume", run}, {}, scratch);
  if (!file_exists(run + "/config.toml")) {
    EXPECT_EQ(resumed.exit_code, 2);
    EXPECT_EQ(testing::count_lines(resumed.err), 1) << resumed.err;
    EXPECT_NE(resumed.err.find("with --out"), std::string::npos) << resumed.err;
    resumed = run_moet_argv(start, {}, scratch);
  }
  ASSERT_EQ(resumed.signal, 0) << resumed.err;
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const auto files = run_files(run);
  for (const auto& [name, text] : reference) {
    const auto it = files.find(name);
    ASSERT_NE(it, files.end()) << name << " missing";
    EXPECT_EQ(it->second, text) << name << " differs";
  }
  for (const auto& [name, text] : files) {
    EXPECT_TRUE(reference.count(name)) << name << " extra";
  }
}

TEST_F(FaultInjectionTest, KilledAtEveryPointThenResumedEndsWithTheBitsOfAnUninterruptedRun) {
  const std::string reference_run = path("reference");
  const auto ref = run_moet_argv(train_args(reference_run), {}, path(""));
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  const auto reference = run_files(reference_run);
  ASSERT_TRUE(reference.count("ckpt-000000011/model.safetensors"));

  std::set<std::string> points_hit;
  int kills = 0;
  for (int n = 1;; ++n) {
    ASSERT_LT(n, 400) << "the run never got past its fault points";
    const std::string run = path("killed");
    fs::remove_all(run);
    const auto killed =
        run_moet_argv(train_args(run), {"MOET_FAULT=*:" + std::to_string(n)}, path(""));
    if (killed.exit_code == 0) break;  // n is past the run's last point
    ASSERT_EQ(killed.signal, SIGKILL) << "hit " << n << ": " << killed.err;
    const size_t at = killed.err.find("killed at ");
    ASSERT_NE(at, std::string::npos) << killed.err;
    const std::string point = killed.err.substr(at + 10, killed.err.find(' ', at + 10) - at - 10);
    points_hit.insert(point);
    ++kills;
    SCOPED_TRACE("killed at hit " + std::to_string(n) + ", " + point);
    expect_resumes_to(run, reference, train_args(run), path(""));
    if (HasFailure()) return;
  }
  // Every point a training run has was a kill site at least once.
  for (const std::string_view point : fault_points()) {
    if (point.substr(0, 6) == "sweep.") continue;
    EXPECT_TRUE(points_hit.count(std::string(point))) << point;
  }
  EXPECT_GT(kills, 11) << "at least one kill per step";
}

TEST_F(FaultInjectionTest, KilledWhileResumingThenResumedAgainEndsTheSame) {
  const std::string reference_run = path("reference");
  ASSERT_EQ(run_moet_argv(train_args(reference_run), {}, path("")).exit_code, 0);
  const auto reference = run_files(reference_run);
  // A kill in the middle of the run, then one in the resume at each of its first points (which
  // clear what the first kill left and reopen the run).
  for (const std::string first : {"ckpt.published:2", "train.step:8"}) {
    for (int n = 1; n <= 6; ++n) {
      SCOPED_TRACE(first + ", then hit " + std::to_string(n) + " of the resume");
      const std::string run = path("killed");
      fs::remove_all(run);
      ASSERT_EQ(run_moet_argv(train_args(run), {"MOET_FAULT=" + first}, path("")).signal, SIGKILL);
      const auto again = run_moet_argv({"train", "--quiet", "--resume", run},
                                       {"MOET_FAULT=*:" + std::to_string(n)}, path(""));
      ASSERT_EQ(again.signal, SIGKILL) << again.err;
      expect_resumes_to(run, reference, train_args(run), path(""));
      if (HasFailure()) return;
    }
  }
}

TEST_F(FaultInjectionTest, KilledFromOutsideAtRandomMomentsThenResumedEndsTheSame) {
  const std::string reference_run = path("reference");
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(run_moet_argv(train_args(reference_run), {}, path("")).exit_code, 0);
  const auto duration = std::chrono::steady_clock::now() - start;
  const auto reference = run_files(reference_run);
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  for (int attempt = 0; attempt < 4; ++attempt) {
    const auto delay = std::chrono::duration_cast<std::chrono::microseconds>(
        duration * std::uniform_real_distribution<double>(0.1, 1.0)(rng));
    SCOPED_TRACE(fmt::format("seed {}, kill after {} us", seed, delay.count()));
    const std::string run = path("killed");
    fs::remove_all(run);
    auto args = train_args(run);
    args.insert(args.begin(), MOET_BINARY);
    const pid_t pid = testing::spawn_quietly(MOET_BINARY, args);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(delay);
    ::kill(pid, SIGKILL);  // the run may have finished: that is a moment too
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) ? WTERMSIG(status) == SIGKILL : WEXITSTATUS(status) == 0);
    expect_resumes_to(run, reference, train_args(run), path(""));
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace moet
