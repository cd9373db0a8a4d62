// The repository's own files as the repository tests see them: the list of files (git's, or a
// walk of the source tree when git is not there), their text, and small text helpers.
#pragma once

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace moet::testing {

inline std::string repo_root() { return MOET_SOURCE_DIR; }

inline std::string read_repo_file(const std::string& relative) {
  std::ifstream in(repo_root() + "/" + relative, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Binary as git decides it: a NUL byte among the first 8000.
inline bool looks_binary(const std::string& text) {
  return text.substr(0, 8000).find('\0') != std::string::npos;
}

// What a shell command prints on stdout; *status is pclose's (-1 when it could not start).
inline std::string command_output(const std::string& command, int* status) {
  FILE* pipe = popen(command.c_str(), "r");
  *status = -1;
  if (!pipe) return {};
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  *status = pclose(pipe);
  return out;
}

// Tracked files plus untracked ones git does not ignore (so a new file is checked before it is
// committed), relative to the root; empty when git cannot list them.
inline std::vector<std::string> git_files() {
  int status = 0;
  const std::string out = command_output(
      "git -C '" + repo_root() + "' ls-files -z --cached --others --exclude-standard 2>/dev/null",
      &status);
  if (status != 0) return {};
  std::vector<std::string> files;
  std::istringstream s(out);
  for (std::string f; std::getline(s, f, '\0');)
    if (!f.empty() && std::filesystem::is_regular_file(repo_root() + "/" + f)) files.push_back(f);
  return files;
}

// Without git (a source tarball): every file under the root except hidden and build directories.
inline std::vector<std::string> walked_files() {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  const fs::path root(repo_root());
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() && (name.starts_with(".") || name.starts_with("build") ||
                               name == "runs" || name == "out" || name == "__pycache__")) {
      it.disable_recursion_pending();
    } else if (it->is_regular_file()) {
      files.push_back(fs::relative(it->path(), root).string());
    }
  }
  return files;
}

inline std::vector<std::string> repo_files() {
  std::vector<std::string> files = git_files();
  if (files.empty()) files = walked_files();
  std::sort(files.begin(), files.end());
  return files;
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream s(text);
  for (std::string line; std::getline(s, line);) lines.push_back(line);
  return lines;
}

// 1-based line number of a byte offset.
inline size_t line_at(const std::string& text, size_t offset) {
  return size_t(std::count(text.begin(), text.begin() + long(offset), '\n')) + 1;
}

// Every match of group `group` of `pattern` in `text`, in order.
inline std::vector<std::string> matches(const std::string& text, const std::regex& pattern,
                                        int group = 1) {
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), pattern);
       it != std::sregex_iterator(); ++it)
    out.push_back((*it)[group].str());
  return out;
}

}  // namespace moet::testing
