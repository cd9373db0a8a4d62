// The HTML report in a real browser: Debian's chromium, headless, loads the page from disk with
// networking off, and the DOM it builds holds every plot and marker. A screenshot must come out
// too (and is kept next to the report for a person to look at when the test fails).
#include <gtest/gtest.h>

#include <filesystem>

#include "../support/run_binary.h"
#include "analysis/transfer_report.h"
#include "report_fixture.h"

namespace moet::analysis {
namespace {

using BrowserTest = testing::ReportFixture;

size_t occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::string chromium() {
  for (const char* candidate : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (std::filesystem::exists(candidate)) return candidate;
  return "";
}

TEST_F(BrowserTest, ChromiumRendersTheReportWithEveryPlot) {
  const std::string browser = chromium();
  ASSERT_FALSE(browser.empty())
      << "headless chromium is needed to check the report: apt-get install -y "
         "--no-install-recommends chromium (./moet.sh test installs it)";
  const auto store = sweep::ResultsStore::open_read_only(make_database());
  const ReportFiles files = write_transfer_report(store, path("report"), ReportOptions{});
  const std::string flags =
      " --headless --no-sandbox --disable-gpu --disable-background-networking "
      "--disable-component-update --no-first-run --user-data-dir=" + path("profile") + " ";
  const std::string url = "file://" + std::filesystem::absolute(files.html_path).string();

  const std::string dom_path = path("dom.html");
  ASSERT_EQ(std::system((browser + flags + "--dump-dom " + url + " >" + dom_path + " 2>" +
                         path("chromium.err")).c_str()),
            0)
      << testing::slurp(path("chromium.err"));
  const std::string dom = testing::slurp(dom_path);
  // Counted in the DOM the browser built, not in our file: a malformed page would lose them.
  EXPECT_EQ(occurrences(dom, "<svg class=\"plot lr-plot\""), 2u) << dom.substr(0, 2000);
  EXPECT_EQ(occurrences(dom, "<svg class=\"plot scale-plot\""), 2u);
  EXPECT_EQ(occurrences(dom, "<g class=\"optimum\""), 6u);
  EXPECT_EQ(occurrences(dom, "<g class=\"diverged\""), 6u);
  EXPECT_EQ(occurrences(dom, "<section class=\"panel\""), 2u);
  EXPECT_NE(dom.find("larger is better at every step"), std::string::npos);
  EXPECT_NE(dom.find("<title>moet transfer report: synthetic</title>"), std::string::npos);

  const std::string png = path("report/screenshot.png");
  ASSERT_EQ(std::system((browser + flags + "--hide-scrollbars --window-size=1280,2000 "
                         "--screenshot=" + png + " " + url + " >/dev/null 2>&1").c_str()),
            0);
  ASSERT_TRUE(std::filesystem::exists(png));
  EXPECT_GT(std::filesystem::file_size(png), 20000u) << "a blank page compresses to almost nothing";
}

}  // namespace
}  // namespace moet::analysis
