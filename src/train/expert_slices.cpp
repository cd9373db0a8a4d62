#include "train/expert_slices.h"

#include <algorithm>
#include <span>

#include "core/error.h"

namespace moet {

namespace {

// Where tensor i of the local layout starts inside the whole layout's vector.
int64_t whole_start(const TensorInfo& local, const TensorInfo& whole) {
  MOET_CHECK(local.name == whole.name);
  if (!is_expert_slice(local)) return whole.offset;
  MOET_CHECK(whole.numel % whole.experts == 0);
  return whole.offset + local.first_expert * (whole.numel / whole.experts);
}

}  // namespace

std::vector<float> local_from_whole(const std::vector<TensorInfo>& local,
                                    const std::vector<TensorInfo>& whole,
                                    const std::vector<float>& values) {
  MOET_CHECK(local.size() == whole.size() && int64_t(values.size()) == total_numel(whole));
  std::vector<float> out(size_t(total_numel(local)));
  for (size_t i = 0; i < local.size(); ++i)
    std::copy_n(values.begin() + whole_start(local[i], whole[i]), local[i].numel,
                out.begin() + local[i].offset);
  return out;
}

std::vector<float> whole_from_local(const std::vector<TensorInfo>& local,
                                    const std::vector<TensorInfo>& whole,
                                    const std::vector<float>& values, dist::World& experts) {
  MOET_CHECK(local.size() == whole.size() && int64_t(values.size()) == total_numel(local));
  std::vector<float> out(size_t(total_numel(whole)));
  for (size_t i = 0; i < local.size(); ++i) {
    const std::span<const float> mine(values.data() + local[i].offset, size_t(local[i].numel));
    if (!is_expert_slice(local[i])) {
      std::copy(mine.begin(), mine.end(), out.begin() + whole[i].offset);
      continue;
    }
    MOET_CHECK(local[i].numel * experts.size() == whole[i].numel);
    experts.all_gather(mine,
                       std::span<float>(out.data() + whole[i].offset, size_t(whole[i].numel)));
  }
  return out;
}

}  // namespace moet
