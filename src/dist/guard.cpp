#include "dist/guard.h"

#include <cstdio>
#include <exception>
#include <string>

#include "dist/agree.h"

namespace moet::dist {

int run_guarded(World& world, std::string_view program, int exit_code,
                const std::function<int()>& body) {
  if (world.size() == 1) return body();
  std::string message;
  try {
    return body();
  } catch (const AgreedError& e) {
    if (world.rank() == 0)
      std::fprintf(stderr, "%.*s: %s\n", int(program.size()), program.data(), e.what());
    return exit_code;
  } catch (const std::exception& e) {
    message = e.what();
  } catch (...) {
    message = "an exception of unknown type";
  }
  std::fprintf(stderr, "%.*s: rank %d of %d: %s\n", int(program.size()), program.data(),
               world.rank(), world.size(), message.c_str());
  world.abort(exit_code);
}

}  // namespace moet::dist
