// Error: the one exception type for bad input (config, CLI, data, checkpoint).
//
// Its message is a single line that names the field or file at fault; the CLI prints it as
// "moet: <message>" and exits with a non-zero status. Internal invariant violations use
// MOET_CHECK, which aborts: they are bugs, not user errors.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace moet {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

// Untrusted bytes quoted for a one-line message: printable ASCII as is, everything else (control
// characters, quotes, bytes >= 0x80) escaped as \n, \", \xff; cut with "..." once the quoted
// text would pass max_chars, so a corrupt file cannot flood or garble the terminal.
std::string escaped_excerpt(std::string_view bytes, size_t max_chars = 60);

[[noreturn]] void check_failed(const char* expr, const char* file, int line);

}  // namespace moet

#define MOET_CHECK(expr) ((expr) ? (void)0 : ::moet::check_failed(#expr, __FILE__, __LINE__))
