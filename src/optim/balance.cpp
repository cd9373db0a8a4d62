#include "optim/balance.h"

#include <cstddef>

namespace moet {

void update_route_bias(float* bias, const std::vector<int64_t>& counts, int64_t tokens, int64_t K,
                       double eta_bias) {
  if (eta_bias == 0 || tokens == 0) return;
  const double balanced = double(K) / double(counts.size());
  for (size_t i = 0; i < counts.size(); ++i)
    bias[i] -= float(eta_bias * (double(counts[i]) / double(tokens) - balanced));
}

}  // namespace moet
