// OneThread: OpenMP limited to one thread for the scope of a test, restored after.
//
// For tests that run many tiny models: their time goes to thread hand-offs (ten times slower
// on a busy machine), and the model gives the same bits on any thread count (docs/design.md §6), so
// one thread loses nothing.
#pragma once

#include <omp.h>

namespace moet::testing {

class OneThread {
 public:
  OneThread() : saved_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~OneThread() { omp_set_num_threads(saved_); }
  OneThread(const OneThread&) = delete;
  OneThread& operator=(const OneThread&) = delete;

 private:
  int saved_;
};

}  // namespace moet::testing
