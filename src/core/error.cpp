#include "core/error.h"

#include <cstdio>
#include <cstdlib>

namespace moet {

void check_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "moet: internal error: check '%s' failed at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace moet
