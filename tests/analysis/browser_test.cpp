// The HTML report in a real browser: Debian's chromium, headless, loads the page from disk with
// networking off, and the DOM it builds holds every plot and marker. A screenshot must come out
// too (and is kept next to the report for a person to look at when the test fails). Names and
// paths a person may well use (quotes, '&', '<>' in the title; spaces, '#', '%', '?' in the
// directory) must reach the page as text and not stop the page from loading.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <vector>

#include "../support/run_binary.h"
#include "analysis/transfer_report.h"
#include "report_fixture.h"
#include "sweep/spec.h"

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

// The file:// URL of an absolute path: every byte but unreserved ones and '/' percent-encoded,
// so a '#', '?' or '%' in a directory name stays part of the path.
std::string file_url(const std::string& path) {
  std::string url = "file://";
  for (const unsigned char c : path) {
    if (std::isalnum(c) || std::strchr("/-._~", c)) {
      url += char(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      url += hex;
    }
  }
  return url;
}

// Runs headless chromium on a local file with extra flags; stdout goes to out_path. Every
// argument is quoted for the shell that starts it.
int run_chromium(const std::string& profile, const std::vector<std::string>& flags,
                 const std::string& file, const std::string& out_path,
                 const std::string& err_path) {
  std::vector<std::string> argv = {chromium(),
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--no-first-run",
                                   "--user-data-dir=" + profile};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back(file_url(std::filesystem::absolute(file).string()));
  const std::string line = sweep::shell_quote(argv) + " >" + sweep::shell_quote({out_path}) +
                           " 2>" + sweep::shell_quote({err_path});
  return std::system(line.c_str());
}

TEST_F(BrowserTest, ChromiumRendersTheReportWithEveryPlot) {
  ASSERT_FALSE(chromium().empty())
      << "headless chromium is needed to check the report: apt-get install -y "
         "--no-install-recommends chromium (./moet.sh test installs it)";
  const auto store = sweep::ResultsStore::open_read_only(make_database());
  const ReportFiles files = write_transfer_report(store, path("report"), ReportOptions{});

  const std::string dom_path = path("dom.html");
  ASSERT_EQ(run_chromium(path("profile"), {"--dump-dom"}, files.html_path, dom_path,
                         path("chromium.err")),
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
  ASSERT_EQ(run_chromium(path("profile"),
                         {"--hide-scrollbars", "--window-size=1280,2000", "--screenshot=" + png},
                         files.html_path, "/dev/null", "/dev/null"),
            0);
  ASSERT_TRUE(std::filesystem::exists(png));
  EXPECT_GT(std::filesystem::file_size(png), 20000u) << "a blank page compresses to almost nothing";
}

TEST_F(BrowserTest, TitlesAndPathsWithSpecialCharactersSurvive) {
  ASSERT_FALSE(chromium().empty()) << "headless chromium is needed (./moet.sh test installs it)";
  const std::string name = "paper 1: \"width\" & <N, Ne> x8 'it's'";
  const std::string dir = "odd dir #1 %41 & 'q' ?x";
  const auto store = sweep::ResultsStore::open_read_only(make_database(name, dir + "/db.sqlite"));
  const ReportFiles files = write_transfer_report(store, path(dir + "/report"), ReportOptions{});

  const std::string dom_path = path("dom.html");
  ASSERT_EQ(run_chromium(path("profile"), {"--dump-dom"}, files.html_path, dom_path,
                         path("chromium.err")),
            0)
      << testing::slurp(path("chromium.err"));
  const std::string dom = testing::slurp(dom_path);
  // The browser serializes text with '&', '<' and '>' escaped: markup made of the name (an
  // element <N,) would come back unescaped, and a page that failed to load has no title.
  const std::string as_text = "paper 1: \"width\" &amp; &lt;N, Ne&gt; x8 'it's'";
  EXPECT_NE(dom.find("<title>moet transfer report: " + as_text + "</title>"), std::string::npos)
      << dom.substr(0, 2000);
  EXPECT_NE(dom.find("<small>(" + as_text + ")</small></h1>"), std::string::npos);
  EXPECT_NE(dom.find("<code>" + path("odd dir #1 %41 &amp; 'q' ?x/db.sqlite") + "</code>"),
            std::string::npos);
  EXPECT_EQ(occurrences(dom, "<svg class=\"plot lr-plot\""), 2u);
  EXPECT_EQ(occurrences(dom, "<section class=\"panel\""), 2u);

  // A plot as its own SVG file is XML, which Chromium refuses with a parsererror on a stray '&'.
  ASSERT_FALSE(files.svg_paths.empty());
  ASSERT_EQ(run_chromium(path("profile"), {"--dump-dom"}, files.svg_paths.front(), dom_path,
                         path("chromium.err")),
            0);
  const std::string svg = testing::slurp(dom_path);
  EXPECT_NE(svg.find("<svg"), std::string::npos) << svg.substr(0, 2000);
  EXPECT_EQ(svg.find("parsererror"), std::string::npos) << svg.substr(0, 2000);
}

}  // namespace
}  // namespace moet::analysis
