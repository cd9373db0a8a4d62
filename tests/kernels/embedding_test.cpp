// Token and learned-position embeddings (kernels/embedding.cpp). Checked as kernel_check.h says:
// forward against a scalar reference, backward against finite differences in double, and the buffer
// convention of each backward.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "kernel_check.h"
#include "kernels/embedding.h"

namespace moet {
namespace {

using namespace testing;

struct EmbeddingShape {
  int64_t rows, N, vocab;
};
// rows > vocab forces repeated tokens (the backward must add, not overwrite); N = 70 spans two
// of the backward's 64-column blocks; the last shape takes the OpenMP path.
const EmbeddingShape kEmbeddingShapes[] = {{7, 5, 4}, {1, 1, 1}, {6, 70, 3}, {300, 70, 9}};

template <typename T>
Vec embedding_run(const std::vector<int32_t>& tokens, const Vec& table, int64_t N, double mult) {
  auto tt = as<T>(table);
  std::vector<T> out(tokens.size() * size_t(N), T(kNaN));
  embedding_forward<T>(out.data(), tokens.data(), tt.data(), int64_t(tokens.size()), N, T(mult));
  return widen(out);
}

TEST(Embedding, LookupMatchesReferenceAndBackwardAdds) {
  const double mult = 0.7;
  for (const EmbeddingShape& s : kEmbeddingShapes) {
    const std::string name = shape_name({s.rows, s.N, s.vocab});
    const std::vector<int32_t> tokens = random_tokens(s.rows, s.vocab, 81);
    Vec table = random_vector(size_t(s.vocab * s.N), 82);
    Vec want(size_t(s.rows * s.N));
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t c = 0; c < s.N; ++c) want[r * s.N + c] = mult * table[tokens[r] * s.N + c];
    expect_all_near(embedding_run<double>(tokens, table, s.N, mult), want, kDoubleTol,
                    "double " + name);
    const Vec tablef = float_rounded(table);
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t c = 0; c < s.N; ++c) want[r * s.N + c] = mult * tablef[tokens[r] * s.N + c];
    expect_all_near(embedding_run<float>(tokens, tablef, s.N, mult), want, kFloatTol,
                    "float " + name);

    const Vec g = random_vector(size_t(s.rows * s.N), 83);
    const Vec dtable0 = prefilled(table.size(), true, 84);
    Vec dtable = dtable0;
    embedding_backward<double>(dtable.data(), tokens.data(), g.data(), s.rows, s.N, mult);
    check_vjp([&] { return embedding_run<double>(tokens, table, s.N, mult); }, g, table,
              minus(dtable, dtable0), "embedding " + name, fd_checks(size_t(s.rows * s.N)));

    auto g32 = as<float>(g);
    std::vector<float> dtable32(table.size(), 0);
    Vec want_dtable(table.size(), 0);
    embedding_backward<float>(dtable32.data(), tokens.data(), g32.data(), s.rows, s.N, float(mult));
    embedding_backward<double>(want_dtable.data(), tokens.data(), float_rounded(g).data(), s.rows,
                               s.N, mult);
    expect_all_near(widen(dtable32), want_dtable, kFloatTol, "float backward " + name);
  }
}

struct PositionShape {
  int64_t B, seq, N;
};
const PositionShape kPositionShapes[] = {{2, 5, 3}, {1, 1, 4}, {3, 40, 150}};  // last: OpenMP

template <typename T>
Vec positions_run(const Vec& out0, const Vec& pos, const PositionShape& s, double mult) {
  auto out = as<T>(out0);
  auto pt = as<T>(pos);
  add_positions<T>(out.data(), pt.data(), s.B, s.seq, s.N, T(mult));
  return widen(out);
}

TEST(Embedding, PositionsAddAndBackwardSumsOverSequences) {
  const double mult = 1.3;
  for (const PositionShape& s : kPositionShapes) {
    const std::string name = shape_name({s.B, s.seq, s.N});
    const Vec out0 = random_vector(size_t(s.B * s.seq * s.N), 91);  // add_positions adds to it
    Vec pos = random_vector(size_t(s.seq * s.N), 92);
    Vec want(out0);
    for (int64_t b = 0; b < s.B; ++b)
      for (int64_t t = 0; t < s.seq; ++t)
        for (int64_t c = 0; c < s.N; ++c)
          want[(b * s.seq + t) * s.N + c] += mult * pos[t * s.N + c];
    expect_all_near(positions_run<double>(out0, pos, s, mult), want, kDoubleTol, "double " + name);
    const Vec out0f = float_rounded(out0), posf = float_rounded(pos);
    Vec wantf(out0f);
    for (int64_t b = 0; b < s.B; ++b)
      for (int64_t t = 0; t < s.seq; ++t)
        for (int64_t c = 0; c < s.N; ++c)
          wantf[(b * s.seq + t) * s.N + c] += mult * posf[t * s.N + c];
    expect_all_near(positions_run<float>(out0f, posf, s, mult), wantf, kFloatTol, "float " + name);

    const Vec g = random_vector(out0.size(), 93);
    const Vec dpos0 = prefilled(pos.size(), true, 94);
    Vec dpos = dpos0;
    positions_backward<double>(dpos.data(), g.data(), s.B, s.seq, s.N, mult);
    check_vjp([&] { return positions_run<double>(out0, pos, s, mult); }, g, pos, minus(dpos, dpos0),
              "positions " + name, fd_checks(size_t(s.B * s.seq * s.N)));
  }
}

}  // namespace
}  // namespace moet
