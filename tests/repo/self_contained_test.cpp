// The repository stands on its own: no file points at notes, paths or trackers outside it, every
// source reference `[ID]` resolves to an entry of docs/sources.md, and every file and symbol that
// docs/design.md names exists.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>

#include "repo_files.h"

namespace moet::testing {
namespace {

// This file spells out what it looks for; .ci/ is the CI machinery that runs the repository, not
// part of it.
bool exempt(const std::string& file) {
  return file == "tests/repo/self_contained_test.cpp" || file.starts_with(".ci/");
}

struct Pattern {
  std::vector<std::string> needles;  // the regex runs only on files holding one of these
  std::regex regex;
  const char* what;
  bool lowered = false;    // matched against the lower-cased text (std::regex::icase is slow)
  bool text_only = false;  // only in .md and .toml files (in code, [A] is an index or a shape)
};

const std::vector<Pattern>& outside_references() {
  using std::regex;
  static const std::vector<Pattern> patterns = {
      {{"shared", "research/"},
       regex(R"(\.\./shared|shared/research|research/)"),
       "a path outside the repository"},
      {{"DESIGN.md"}, regex(R"(\bDESIGN\.md)"), "the old design note (now docs/design.md)"},
      {{"anchors", "deps"},
       regex(R"(\b(anchors|deps)(-[0-9-]+)?(\.md\b|\s+§))"),
       "a research note"},
      {{"paper1-", "paper2-", "mssp-official", "other-moe", "probe-transfer"},
       regex(R"(paper1-moe-hp-transfer|paper2-mssp|mssp-official-code|)"
             R"(other-moe-parameterizations|probe-transfer-at-cpu-scale)"),
       "a research note"},
      {{"note"}, regex(R"(\bresearch notes?\b|\bnotes?\s+§)"), "a research note", true},
      {{"issue"},
       regex(R"(\bissues?\s*#?\s*[0-9]+)"),
       "an issue of a tracker outside the repository",
       true},
      {{"[AT]", "[PN]", "[NF]"},
       regex(R"(\[(AT|PN|NF)\])"),
       "a provenance tag of the research notes"},
      {{"["},
       regex(R"(\[[ABCIPS]\](?![\[(]))"),
       "a provenance tag of the research notes",
       false,
       true},
  };
  return patterns;
}

bool is_text_doc(const std::string& file) {
  return file.ends_with(".md") || file.ends_with(".toml");
}

TEST(RepoSelfContained, NoFileCitesAnythingOutsideTheRepository) {
  std::vector<std::string> found;
  size_t checked = 0;
  for (const std::string& file : repo_files()) {
    if (exempt(file)) continue;
    const std::string text = read_repo_file(file);
    if (looks_binary(text)) continue;
    ++checked;
    std::string lower = text;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    for (const Pattern& p : outside_references()) {
      const std::string& subject = p.lowered ? lower : text;
      if ((p.text_only && !is_text_doc(file)) ||
          std::none_of(p.needles.begin(), p.needles.end(),
                       [&](const std::string& n) { return subject.find(n) != std::string::npos; }))
        continue;
      for (auto it = std::sregex_iterator(subject.begin(), subject.end(), p.regex);
           it != std::sregex_iterator(); ++it)
        found.push_back(file + ":" + std::to_string(line_at(text, it->position())) + ": '" +
                        text.substr(it->position(), it->length()) + "' (" + p.what + ")");
    }
  }
  std::sort(found.begin(), found.end());
  EXPECT_GT(checked, 100u) << "the file list looks wrong";
  std::string listing;
  for (const std::string& f : found) listing += "  " + f + "\n";
  EXPECT_TRUE(found.empty()) << found.size()
                             << " references outside the repository; cite docs/sources.md "
                                "entries ([ID]) or docs/ pages instead:\n"
                             << listing;
}

// A source reference is an upper-case family, a hyphen and an item in brackets: [P1-T2].
const std::regex& reference() {
  static const std::regex r(R"(\[([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)\])");
  return r;
}

// docs/sources.md defines each entry once, as a heading "### [ID] title".
std::map<std::string, int> source_entries() {
  std::map<std::string, int> entries;
  const std::regex heading(R"(^### \[([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)\] )");
  for (const std::string& line : lines_of(read_repo_file("docs/sources.md"))) {
    std::smatch m;
    if (std::regex_search(line, m, heading)) ++entries[m[1].str()];
  }
  return entries;
}

TEST(RepoSources, EveryEntryOfDocsSourcesIsDefinedOnce) {
  const std::map<std::string, int> entries = source_entries();
  EXPECT_GT(entries.size(), 20u) << "docs/sources.md: too few '### [ID] title' entries";
  for (const auto& [id, count] : entries) EXPECT_EQ(count, 1) << "[" << id << "] defined twice";
}

TEST(RepoSources, EveryReferenceResolvesToAnEntryOfDocsSources) {
  const std::map<std::string, int> entries = source_entries();
  std::vector<std::string> dangling;
  std::set<std::string> used;
  for (const std::string& file : repo_files()) {
    if (exempt(file)) continue;
    const std::string text = read_repo_file(file);
    if (looks_binary(text)) continue;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), reference());
         it != std::sregex_iterator(); ++it) {
      const std::string id = (*it)[1].str();
      used.insert(id);
      if (!entries.count(id))
        dangling.push_back(file + ":" + std::to_string(line_at(text, it->position())) + ": [" + id +
                           "]");
    }
  }
  std::string listing;
  for (const std::string& d : dangling) listing += "  " + d + "\n";
  EXPECT_TRUE(dangling.empty()) << "references with no entry in docs/sources.md:\n" << listing;
  EXPECT_GT(used.size(), 20u) << "hardly any [ID] references found; is the pattern right?";
}

// docs/design.md names files as `src/...`, `tests/...`, `docs/...` (and the like) and symbols as
// "`name` in `path`": each file must exist and each symbol must appear in its file.
TEST(RepoDesignDoc, EveryFileAndSymbolItNamesExists) {
  namespace fs = std::filesystem;
  const std::string design = read_repo_file("docs/design.md");
  ASSERT_FALSE(design.empty()) << "docs/design.md is missing";
  const std::regex path(R"(`((?:src|tests|docs|cmake|studies|bench|corpus)/[A-Za-z0-9_./*<>-]*)"
                        R"(|CMakeLists\.txt|README\.md|moet\.sh)`)");
  std::vector<std::string> missing;
  size_t paths = 0, symbols = 0;
  for (std::string p : matches(design, path)) {
    if (p.find_first_of("*<>") != std::string::npos) continue;  // a pattern, not a file
    while (p.ends_with("/")) p.pop_back();
    ++paths;
    if (!fs::exists(repo_root() + "/" + p)) missing.push_back("no file " + p);
  }
  // `Class::member` needs both names in the file.
  const std::regex symbol_in(R"(`([A-Za-z_][\w:]*)(?:\(\))?` in `([A-Za-z0-9_./-]+)`)");
  for (auto it = std::sregex_iterator(design.begin(), design.end(), symbol_in);
       it != std::sregex_iterator(); ++it) {
    const std::string symbol = (*it)[1].str(), file = (*it)[2].str();
    ++symbols;
    const std::string text = read_repo_file(file);
    for (const std::string& name : matches(symbol, std::regex(R"((\w+))")))
      if (!std::regex_search(text, std::regex("\\b" + name + "\\b")))
        missing.push_back(symbol + " is not in " + file);
  }
  EXPECT_GT(paths, 30u);
  EXPECT_GT(symbols, 15u);
  std::string listing;
  for (const std::string& m : missing) listing += "  " + m + "\n";
  EXPECT_TRUE(missing.empty()) << "docs/design.md names what does not exist:\n" << listing;
}

}  // namespace
}  // namespace moet::testing
