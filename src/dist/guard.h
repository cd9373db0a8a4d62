// The top-level error handling of a program that runs on every rank of a World.
//
// Errors, not hangs: an exception that leaves `body` on one rank while the others wait in a
// collective must end them all, within seconds, with one line saying why.
//   - R = 1: the exception propagates unchanged (a plain `moet train` handles and prints errors
//     exactly as it always has).
//   - AgreedError (agree.h): every rank has it; rank 0 prints "<program>: <message>", every rank
//     returns exit_code and leaves normally (MPI_Finalize meets on all ranks).
//   - anything else: this rank prints "<program>: rank r of R: <message>" and aborts the world
//     (MPI_Abort), which makes the launcher kill the other ranks and exit non-zero.
// A rank killed outright (signal, OOM killer) is the launcher's to detect: mpirun ends the job
// when a rank dies; under srun use --kill-on-bad-exit=1 (docs/distributed.md §1.4).
#pragma once

#include <functional>
#include <string_view>

#include "dist/world.h"

namespace moet::dist {

int run_guarded(World& world, std::string_view program, int exit_code,
                const std::function<int()>& body);

}  // namespace moet::dist
