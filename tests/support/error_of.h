// The message of the moet Error a call throws: what tests of refused input compare.
#pragma once

#include <string>

#include "core/error.h"

namespace moet::testing {

// Runs f and returns the Error message it throws ("" if none).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace moet::testing
