#include "dist/launch.h"

#include "dist/mpi_world.h"

namespace moet::dist {

std::unique_ptr<World> make_world() {
  const Launch launch = detect_launch();
  if (!launch.mpi) return std::make_unique<SingleWorld>();
  return std::make_unique<MpiWorld>(launch.source);
}

}  // namespace moet::dist
