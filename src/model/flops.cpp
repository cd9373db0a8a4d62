#include "model/flops.h"

namespace moet {

double forward_macs_per_token(const ModelConfig& c) {
  const double N = double(c.N), T = double(c.seq);
  double macs = N * double(c.vocab);  // readout
  for (int64_t l = 0; l < c.L; ++l) {
    macs += 4 * N * N + N * T;
    if (c.is_moe_block(l)) {
      macs += N * double(c.M);
      macs += double(c.K) * (N * double(c.up_cols(c.Ne)) + double(c.Ne) * N);
      const double Ns = double(c.shared_width());
      macs += double(c.shared_experts) * (N * double(c.up_cols(c.shared_width())) + Ns * N);
    } else {
      const double Nf = double(c.dense_width());
      macs += N * double(c.up_cols(c.dense_width())) + Nf * N;
    }
  }
  return macs;
}

double training_flops(const ModelConfig& c, int64_t tokens) {
  return 3.0 * 2.0 * forward_macs_per_token(c) * double(tokens);
}

}  // namespace moet
