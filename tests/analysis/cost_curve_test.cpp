// The cost curve's reader and plot (analysis/cost_curve.h): points sorted along the axis, RSS per
// token from the bench's peak RSS and step, PyTorch where a line has it, one clear line for a
// malformed file.
#include "analysis/cost_curve.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "../support/error_of.h"
#include "core/files.h"

namespace moet::analysis {
namespace {

namespace fs = std::filesystem;

std::string bench_json(double tokens_per_s, double peak_fraction, double rss_mb) {
  return fmt::format(
      "{{\"tokens_per_s\": {}, \"peak_fraction\": {}, \"peak_rss_mb\": {}, \"tokens_per_step\": "
      "4096}}",
      tokens_per_s, peak_fraction, rss_mb);
}

class CostCurveTest : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    write_file_atomic(path_, text);
    return path_;
  }
  void TearDown() override { fs::remove(path_); }
  std::string path_ =
      (fs::temp_directory_path() / fmt::format("moet_cost_curve_{}.jsonl", getpid())).string();
};

TEST_F(CostCurveTest, ReadsPointsInAxisOrderWithThePeerWhereItRan) {
  const std::string path =
      write("{\"axis\": \"N\", \"value\": 512, \"moet\": " + bench_json(2500, 0.6, 2048) +
            ", \"torch_tokens_per_s\": 550, \"torch_peak_fraction\": 0.14}\n" +
            "{\"axis\": \"N\", \"value\": 128, \"moet\": " + bench_json(40000, 0.4, 512) + "}\n");
  const CostCurve curve = read_cost_curve(path);
  EXPECT_EQ(curve.axis, "N");
  ASSERT_EQ(curve.points.size(), 2u);
  EXPECT_EQ(curve.points[0].value, 128);
  EXPECT_EQ(curve.points[0].rss_kib_per_token, 512.0 * 1024 / 4096);
  EXPECT_TRUE(std::isnan(curve.points[0].torch_tokens_per_s));
  EXPECT_EQ(curve.points[1].tokens_per_s, 2500);
  EXPECT_EQ(curve.points[1].torch_tokens_per_s, 550);

  const std::string svg = cost_curve_svg(curve);
  size_t plots = 0;
  for (size_t at = svg.find("<svg class="); at != std::string::npos;
       at = svg.find("<svg class=", at + 1))
    ++plots;
  EXPECT_EQ(plots, 3u);  // tokens/s, % of peak, RSS per token
  EXPECT_NE(svg.find("PyTorch eager"), std::string::npos);
  EXPECT_NE(svg.find("N 512: 60"), std::string::npos);  // 60% of peak, in the hover text
}

TEST_F(CostCurveTest, NamesTheLineAndFieldOfBadInput) {
  EXPECT_EQ(testing::error_of([&] {
              read_cost_curve(
                  write("{\"axis\": \"L\", \"value\": 2, \"moet\": " + bench_json(1, 0.5, 100) +
                        "}\n{\"axis\": \"L\", \"value\": 4}\n"));
            }),
            path_ + ":2: moet must be a `moet bench --json` object");
  EXPECT_EQ(testing::error_of([&] {
              read_cost_curve(write(
                  "{\"axis\": \"L\", \"value\": 2, \"moet\": " + bench_json(-1, 0.5, 100) + "}\n"));
            }),
            path_ + ":1: moet: tokens_per_s must be a positive number");
  EXPECT_EQ(testing::error_of([&] {
              read_cost_curve(
                  write("{\"axis\": \"L\", \"value\": 2, \"moet\": " + bench_json(1, 0.5, 100) +
                        "}\n{\"axis\": \"M\", \"value\": 4, " +
                        "\"moet\": " + bench_json(1, 0.5, 100) + "}\n"));
            }),
            path_ + ":2: axis 'M' differs from the file's first line ('L')");
  EXPECT_EQ(testing::error_of([&] { read_cost_curve(write("\n")); }), path_ + ": no points");
}

}  // namespace
}  // namespace moet::analysis
