#include "kernels/threads.h"

#include <omp.h>
#include <pmmintrin.h>
#include <xmmintrin.h>

namespace moet {

namespace {

void flush_denormals_here() {
  _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
  _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
}

}  // namespace

void use_threads(int64_t threads) {
  if (threads > 0) omp_set_num_threads(int(threads));
  flush_denormals_here();
  // The pool's threads persist between parallel regions, so one region reaches all of them.
#pragma omp parallel
  flush_denormals_here();
}

bool thread_flushes_denormals() {
  return _MM_GET_FLUSH_ZERO_MODE() == _MM_FLUSH_ZERO_ON &&
         _MM_GET_DENORMALS_ZERO_MODE() == _MM_DENORMALS_ZERO_ON;
}

}  // namespace moet
