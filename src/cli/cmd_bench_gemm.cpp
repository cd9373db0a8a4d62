// moet bench-gemm: GEMM throughput on the shapes our models run, as GFLOP/s and as a fraction of
// this machine's measured peak, so kernel choices rest on reproducible figures.
//
// Besides plain throughput it shows the three costs the facade was designed around: building a
// primitive (cached vs uncached calls), MoE token counts changing every call (first pass builds,
// later passes hit), and one GEMM per attention head inside an OpenMP region.
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/timer.h"
#include "kernels/bf16.h"
#include "kernels/gemm.h"
#include "kernels/peak.h"

namespace moet::cli {
namespace {

struct BenchOptions {
  double seconds = 0.25;  // timed window per figure
  int rounds = 3;         // figures are the best of this many windows: others may share the CPU
};

struct Shape {
  Transpose trans_a, trans_b;
  int64_t m, n, k;
  const char* role;
};

double gemm_flop(int64_t m, int64_t n, int64_t k) {
  return 2.0 * double(m) * double(n) * double(k);
}

// Median seconds per call over one timed window; the best (lowest) median over `rounds` windows,
// since interference from other processes only ever slows a window down.
template <typename Call>
double seconds_per_call(const BenchOptions& options, Call call) {
  call();  // warm-up: builds the primitive, touches the operands
  double best = 1e30;
  for (int round = 0; round < options.rounds; ++round) {
    std::vector<double> times;
    const double start = now_s();
    while (now_s() - start < options.seconds || times.size() < 3) {
      const double t0 = now_s();
      call();
      times.push_back(now_s() - t0);
    }
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    best = std::min(best, times[times.size() / 2]);
  }
  return best;
}

// Operands of one shape in fp32 and bf16, filled with uniform(-1, 1).
struct Operands {
  std::vector<float> a, b, c;
  std::vector<uint16_t> a_bf16, b_bf16;
};

Operands make_operands(int64_t m, int64_t n, int64_t k) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  Operands ops;
  ops.a.resize(size_t(m * k));
  ops.b.resize(size_t(k * n));
  ops.c.assign(size_t(m * n), 0.0f);
  for (float& v : ops.a) v = uniform(rng);
  for (float& v : ops.b) v = uniform(rng);
  ops.a_bf16.resize(ops.a.size());
  ops.b_bf16.resize(ops.b.size());
  float_to_bf16(ops.a.data(), ops.a_bf16.data(), int64_t(ops.a.size()));
  float_to_bf16(ops.b.data(), ops.b_bf16.data(), int64_t(ops.b.size()));
  return ops;
}

// Dense row-major call: leading dimensions are the stored row lengths.
void call_fp32(const Shape& s, Operands& ops) {
  gemm<float>(s.trans_a, s.trans_b, s.m, s.n, s.k, 1.0f, ops.a.data(),
              s.trans_a == Transpose::yes ? s.m : s.k, ops.b.data(),
              s.trans_b == Transpose::yes ? s.k : s.n, 0.0f, ops.c.data(), s.n);
}
void call_bf16(const Shape& s, Operands& ops) {
  gemm_bf16(s.trans_a, s.trans_b, s.m, s.n, s.k, 1.0f, ops.a_bf16.data(),
            s.trans_a == Transpose::yes ? s.m : s.k, ops.b_bf16.data(),
            s.trans_b == Transpose::yes ? s.k : s.n, 0.0f, ops.c.data(), s.n);
}

std::string op_name(const Shape& s) {
  return std::string(s.trans_a == Transpose::yes ? "T" : "N") +
         (s.trans_b == Transpose::yes ? "T" : "N");
}

// bf16_peak is the fastest bf16 unit's, `bf16_unit`; the %bf16 column is of it.
void print_throughput(const BenchOptions& options, double fp32_peak, Bf16Unit bf16_unit,
                      double bf16_peak) {
  const Shape shapes[] = {
      {Transpose::no, Transpose::no, 4096, 512, 512, "projection, 4096 tokens, N=512"},
      {Transpose::no, Transpose::yes, 4096, 512, 512, "its input gradient dX = dY W^T"},
      {Transpose::yes, Transpose::no, 512, 512, 4096, "its weight gradient dW = X^T dY"},
      {Transpose::no, Transpose::no, 1024, 2048, 512, "expert up, 1024 tokens, Ne=2048"},
      {Transpose::no, Transpose::no, 1024, 512, 2048, "expert down"},
      {Transpose::no, Transpose::no, 256, 1024, 256, "small expert, 256 tokens"},
      {Transpose::no, Transpose::no, 64, 1024, 256, "tiny expert, 64 tokens"},
      {Transpose::no, Transpose::yes, 256, 256, 64, "attention scores, one head"},
  };
  const std::string bf16_column = bf16_unit == Bf16Unit::amx ? "%amx" : "%dpbf";
  fmt::print("\n{:>16} {:>2}  {:>9} {:>6} {:>9} {:>9} {:>6}  {:<32} {}\n", "m x n x k", "op",
             "fp32", "%peak", "uncached", "bf16", bf16_column, "role",
             "oneDNN kernels (fp32 / bf16)");
  for (const Shape& s : shapes) {
    Operands ops = make_operands(s.m, s.n, s.k);
    const double flop = gemm_flop(s.m, s.n, s.k);
    const double fp32_s = seconds_per_call(options, [&] { call_fp32(s, ops); });
    const double bf16_s = seconds_per_call(options, [&] { call_bf16(s, ops); });
    gemm_set_caching(false);
    const double uncached_s = seconds_per_call(options, [&] { call_fp32(s, ops); });
    gemm_set_caching(true);
    const double fp32_gflops = flop / fp32_s / 1e9, bf16_gflops = flop / bf16_s / 1e9;
    fmt::print("{:>16} {:>2}  {:9.1f} {:5.0f}% {:9.1f} {:9.1f} {:5.0f}%  {:<32} {} / {}\n",
               fmt::format("{}x{}x{}", s.m, s.n, s.k), op_name(s), fp32_gflops,
               100 * fp32_gflops / fp32_peak, flop / uncached_s / 1e9, bf16_gflops,
               bf16_peak > 0 ? 100 * bf16_gflops / bf16_peak : 0.0, s.role,
               gemm_implementation_name(false, s.trans_a, s.trans_b, s.m, s.n, s.k),
               gemm_implementation_name(true, s.trans_a, s.trans_b, s.m, s.n, s.k));
  }
  fmt::print("(GFLOP/s; fp32 and bf16 with the primitive cached; \"uncached\" fp32 builds its\n"
             " primitive on every call; {} is of the {} peak, the fastest bf16 unit here)\n",
             bf16_column, bf16_unit_instruction(bf16_unit));
}

// The vdpbf16ps peak stays the ceiling of our own bf16 kernels even where AMX is faster.
void print_bf16_peak(const std::string& instruction, double peak, int threads,
                     const std::string& absent) {
  if (peak > 0)
    fmt::print("measured peak, bf16 {:<15} {:8.1f} GFLOP/s ({:.1f} per thread)\n",
               instruction + ":", peak, peak / threads);
  else
    fmt::print("measured peak, bf16 {:<15} {}\n", instruction + ":", absent);
}

void print_call_overhead(const BenchOptions& options) {
  fmt::print("\nper-call time of small GEMMs, fp32 (us):\n");
  fmt::print("{:>16}  {:>9} {:>9} {:>11}\n", "m x n x k", "cached", "uncached", "build cost");
  for (int64_t size : {16, 64, 256}) {
    const Shape s{Transpose::no, Transpose::no, size, size, size, ""};
    Operands ops = make_operands(size, size, size);
    const double cached_s = seconds_per_call(options, [&] { call_fp32(s, ops); });
    gemm_set_caching(false);
    const double uncached_s = seconds_per_call(options, [&] { call_fp32(s, ops); });
    gemm_set_caching(true);
    fmt::print("{:>16}  {:9.2f} {:9.1f} {:11.1f}\n", fmt::format("{}x{}x{}", size, size, size),
               cached_s * 1e6, uncached_s * 1e6, (uncached_s - cached_s) * 1e6);
  }
}

// An expert's weights (n x k fixed) meet a different token count on every call, cycling through
// 64 counts around 256: a cold pass builds 64 primitives, a warm pass only hits the cache. Each
// is the best of `rounds` passes, the cold one restarted from an empty cache every time.
void print_moe_pattern(const BenchOptions& options) {
  const int64_t n = 1024, k = 256, distinct = 64;
  std::vector<int64_t> token_counts;
  for (int64_t i = 0; i < distinct; ++i) token_counts.push_back(224 + i);
  std::shuffle(token_counts.begin(), token_counts.end(), std::mt19937(2));
  Operands ops = make_operands(224 + distinct, n, k);
  double flop = 0;
  for (int64_t m : token_counts) flop += gemm_flop(m, n, k);
  auto timed_pass = [&] {
    const double start = now_s();
    for (int64_t m : token_counts) call_fp32({Transpose::no, Transpose::no, m, n, k, ""}, ops);
    return now_s() - start;
  };
  double cold_s = 1e30, warm_s = 1e30;
  for (int round = 0; round < options.rounds; ++round) {
    gemm_cache_clear();
    cold_s = std::min(cold_s, timed_pass());
    warm_s = std::min(warm_s, timed_pass());
  }
  fmt::print(
      "\nMoE pattern: {} calls of m x {} x {}, m = every count in [224, {}) shuffled, fp32\n",
      distinct, n, k, 224 + distinct);
  fmt::print("  cold pass (builds {} primitives): {:7.1f} ms, {:6.1f} GFLOP/s\n", distinct,
             cold_s * 1e3, flop / cold_s / 1e9);
  fmt::print("  warm pass (all cached):          {:7.1f} ms, {:6.1f} GFLOP/s\n", warm_s * 1e3,
             flop / warm_s / 1e9);
  fmt::print("  => {:.0f} us per primitive build\n", (cold_s - warm_s) / double(distinct) * 1e6);
}

// Attention runs one T x T x d_head GEMM per head. Either each call uses every thread, one head
// after another, or the heads are spread over threads and each call runs on its calling thread.
void print_nested(const BenchOptions& options) {
  const int64_t heads = 16, t_len = 256, d_head = 64;
  std::vector<Operands> per_head;
  for (int64_t h = 0; h < heads; ++h) per_head.push_back(make_operands(t_len, t_len, d_head));
  const Shape s{Transpose::no, Transpose::yes, t_len, t_len, d_head, ""};
  const double flop = double(heads) * gemm_flop(t_len, t_len, d_head);
  const double serial_s = seconds_per_call(options, [&] {
    for (int64_t h = 0; h < heads; ++h) call_fp32(s, per_head[size_t(h)]);
  });
  const double nested_s = seconds_per_call(options, [&] {
#pragma omp parallel for schedule(static)
    for (int64_t h = 0; h < heads; ++h) call_fp32(s, per_head[size_t(h)]);
  });
  fmt::print("\n{} heads of {}x{}x{} (NT), fp32, {} threads:\n", heads, t_len, t_len, d_head,
             omp_get_max_threads());
  fmt::print("  heads in sequence, each GEMM on all threads: {:7.1f} GFLOP/s\n",
             flop / serial_s / 1e9);
  fmt::print("  heads over threads (omp parallel for):       {:7.1f} GFLOP/s\n",
             flop / nested_s / 1e9);
}

MOET_COMMAND(
    bench_gemm,
    Command{
        "bench-gemm", "GEMM GFLOP/s on model shapes (fp32, bf16) against the measured peak",
        [](CLI::App& app) {
          auto options = std::make_shared<BenchOptions>();
          app.add_option("--seconds", options->seconds, "timed window per figure")
              ->check(CLI::PositiveNumber);
          app.add_option("--rounds", options->rounds, "windows per figure; the best median is kept")
              ->check(CLI::PositiveNumber);
          return std::function<int()>([options] {
            const int threads = omp_get_max_threads();
            const double fp32_peak = measure_fp32_peak_gflops(0.5);
            const double dot_peak = measure_bf16_dot_peak_gflops(0.5);
            const double amx_peak = measure_amx_bf16_peak_gflops(0.5);
            fmt::print("OpenMP threads: {} (set OMP_NUM_THREADS to change)\n", threads);
            fmt::print("measured peak, fp32 FMA:            {:8.1f} GFLOP/s ({:.1f} per thread)\n",
                       fp32_peak, fp32_peak / threads);
            print_bf16_peak("vdpbf16ps", dot_peak, threads, "no AVX512-BF16 on this CPU");
            print_bf16_peak("AMX tdpbf16ps", amx_peak, threads,
                            cpu_has_amx_bf16() ? "the OS did not grant AMX tile data"
                                               : "no AMX-BF16 on this CPU");
            const Bf16Unit unit = fastest_bf16_unit();
            print_throughput(*options, fp32_peak, unit,
                             unit == Bf16Unit::amx ? amx_peak : dot_peak);
            print_call_overhead(*options);
            print_moe_pattern(*options);
            print_nested(*options);
            return kExitOk;
          });
        }});

}  // namespace
}  // namespace moet::cli
