#include "sweep/trainer_command.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "core/config.h"
#include "core/error.h"
#include "core/files.h"
#include "param/json.h"
#include "param/resolve.h"
#include "train/schema.h"

namespace moet::sweep {

namespace {

bool is_placeholder(const std::string& name) {
  for (const char* known : kTrainerPlaceholders)
    if (name == known) return true;
  return false;
}

// Checks the braces of one word: "{{" and "}}" are literal braces, "{name}" a known placeholder.
void check_braces(const std::string& word, const std::string& where) {
  for (size_t i = 0; i < word.size(); ++i) {
    if ((word[i] == '{' || word[i] == '}') && i + 1 < word.size() && word[i + 1] == word[i]) {
      ++i;
    } else if (word[i] == '}') {
      fail("{}: a lone '}}' in '{}' (write '}}}}' for a literal brace)", where, word);
    } else if (word[i] == '{') {
      const size_t close = word.find('}', i);
      if (close == std::string::npos)
        fail("{}: unclosed '{{' in '{}' (write '{{{{' for a literal brace)", where, word);
      const std::string name = word.substr(i + 1, close - i - 1);
      if (!is_placeholder(name))
        fail("{}: unknown placeholder {{{}}} (known: {{{}}})", where, name,
             join({std::begin(kTrainerPlaceholders), std::end(kTrainerPlaceholders)}, "}, {"));
      i = close;
    }
  }
}

// Shell-like words: blanks separate, '...' and "..." group, a backslash outside single quotes
// takes the next character as it is. Shell syntax outside quotes is refused: nothing would run it.
std::vector<std::string> split_words(const std::string& text, const std::string& where) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (quote == '"' && c == '\\' && i + 1 < text.size()) {
        word += text[++i];
      } else {
        word += c;
      }
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < text.size()) {
      word += text[++i];
      in_word = true;
    } else if (std::strchr("|&;<>()$`", c)) {
      fail("{}: '{}' is shell syntax, but the command runs without a shell (quote it, or put the "
           "pipeline in a script)",
           where, c);
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote) fail("{}: unclosed {} quote", where, quote);
  if (in_word) words.push_back(word);
  return words;
}

// One word with its placeholders filled; an unknown value (threads 0) keeps its placeholder.
std::string fill(const std::string& word, const std::string& config, const std::string& table,
                 const std::string& out, int64_t threads, int64_t seed) {
  std::string filled;
  for (size_t i = 0; i < word.size(); ++i) {
    if ((word[i] == '{' || word[i] == '}') && i + 1 < word.size() && word[i + 1] == word[i]) {
      filled += word[i++];
      continue;
    }
    if (word[i] != '{') {
      filled += word[i];
      continue;
    }
    const size_t close = word.find('}', i);
    const std::string name = word.substr(i + 1, close - i - 1);
    if (name == "config")
      filled += config;
    else if (name == "table")
      filled += table;
    else if (name == "out")
      filled += out;
    else if (name == "threads")
      filled += threads > 0 ? std::to_string(threads) : "{threads}";
    else
      filled += std::to_string(seed);
    i = close;
  }
  return filled;
}

}  // namespace

std::string find_program(const std::string& program) {
  if (program.find('/') != std::string::npos)
    return ::access(program.c_str(), X_OK) == 0 ? program : "";
  const char* path = std::getenv("PATH");
  const std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string dir = end > start ? dirs.substr(start, end - start) : ".";
    const std::string candidate = dir + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

TrainerCommand parse_trainer_command(const std::string& text, const std::string& where) {
  TrainerCommand trainer;
  trainer.text = text;
  trainer.words = split_words(text, where);
  if (trainer.words.empty())
    fail("{}: empty; give the program and its arguments, e.g. \"python3 train.py --config "
         "{{config}} --out {{out}}\"",
         where);
  for (const std::string& word : trainer.words) check_braces(word, where);
  const std::string& program = trainer.words.front();
  if (program.find('{') != std::string::npos)
    fail("{}: the program '{}' must be named, not a placeholder", where, program);
  if (find_program(program).empty())
    fail("{}: '{}' is {}", where, program,
         program.find('/') != std::string::npos ? "not an executable file" : "not on PATH");
  return trainer;
}

std::vector<std::string> trainer_argv(const TrainerCommand& trainer, const Trial& trial,
                                      const std::string& run_dir, int64_t threads) {
  const std::string config = run_dir + "/" + kTrainerConfigFile;
  const std::string table = run_dir + "/" + kTrainerTableFile;
  std::vector<std::string> argv;
  for (const std::string& word : trainer.words)
    argv.push_back(fill(word, config, table, run_dir, threads, trial.seed));
  return argv;
}

std::vector<std::string> stored_command(const TrainerCommand& trainer, const Trial& trial,
                                        const std::string& run_dir) {
  return trainer.empty() ? trial_command(trial, run_dir, 0)
                         : trainer_argv(trainer, trial, run_dir, 0);
}

void write_trainer_inputs(const Trial& trial, const std::string& run_dir, int64_t threads) {
  std::vector<std::string> sets = trial.sets;
  if (threads > 0) sets.push_back(fmt::format("train.threads={}", threads));
  const Config config = Config::load(full_config_schema(), "", sets);
  write_file_atomic(run_dir + "/" + kTrainerConfigFile, config.to_toml());
  write_file_atomic(run_dir + "/" + kTrainerTableFile,
                    param::to_json(param::resolve_parameterization(config)).dump(2) + "\n");
}

}  // namespace moet::sweep
