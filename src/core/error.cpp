#include "core/error.h"

#include <cstdio>
#include <cstdlib>

namespace moet {

std::string escaped_excerpt(std::string_view bytes, size_t max_chars) {
  std::string body;
  size_t used = 0;
  for (; used < bytes.size(); ++used) {
    const unsigned char c = static_cast<unsigned char>(bytes[used]);
    std::string piece;
    if (c == '"' || c == '\\')
      piece = {'\\', char(c)};
    else if (c == '\n')
      piece = "\\n";
    else if (c == '\t')
      piece = "\\t";
    else if (c >= 0x20 && c < 0x7f)
      piece = std::string(1, char(c));
    else
      piece = fmt::format("\\x{:02x}", c);
    if (body.size() + piece.size() > max_chars) break;
    body += piece;
  }
  return "\"" + body + (used < bytes.size() ? "\"..." : "\"");
}

void check_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "moet: internal error: check '%s' failed at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace moet
