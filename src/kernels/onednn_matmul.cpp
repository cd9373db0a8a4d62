#include "kernels/onednn_matmul.h"

#include <omp.h>

#include <bit>
#include <cstdlib>
#include <list>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>

#include "core/error.h"
#include "kernels/gemm.h"

namespace moet {
namespace {

using dnnl::memory;

// Everything a primitive is specialised on. oneDNN bakes sizes, strides, the output scale (alpha)
// and the sum post-op scale (beta) into its kernels, and sizes its work split by the thread count.
struct MatmulKey {
  MatmulInput input;
  Transpose trans_a, trans_b;
  int64_t m, n, k, lda, ldb, ldc;
  uint32_t alpha_bits, beta_bits;
  int threads;
  bool operator==(const MatmulKey&) const = default;
};

struct MatmulKeyHash {
  size_t operator()(const MatmulKey& key) const {
    uint64_t h = 0x9e3779b97f4a7c15ull;
    auto mix = [&h](uint64_t v) { h = (h ^ v) * 0x100000001b3ull + (h >> 29); };
    mix(uint64_t(key.input) | uint64_t(key.trans_a) << 8 | uint64_t(key.trans_b) << 9 |
        uint64_t(key.threads) << 16);
    for (int64_t v : {key.m, key.n, key.k, key.lda, key.ldb, key.ldc}) mix(uint64_t(v));
    mix(uint64_t(key.alpha_bits) << 32 | key.beta_bits);
    return size_t(h);
  }
};

struct Prepared {
  dnnl::matmul primitive;
  memory::desc a_desc, b_desc, c_desc, scratchpad_desc;
};

// Leaked on purpose, like the cache below: cached primitives and thread-local streams refer to
// the engine, and leaking sidesteps the order in which statics are destroyed at exit.
dnnl::engine& cpu_engine() {
  static auto* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

// One stream per calling thread: a oneDNN stream is not meant to take submissions from several
// threads at once, which is what one GEMM per head inside an omp parallel region does.
dnnl::stream& thread_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

// Scratchpad per calling thread, not per primitive: a primitive executed from two threads at
// once would otherwise share oneDNN's library-managed buffer.
void* thread_scratchpad(size_t bytes) {
  struct FreeAligned {
    void operator()(void* p) const { std::free(p); }
  };
  thread_local std::unique_ptr<void, FreeAligned> buffer;
  thread_local size_t capacity_bytes = 0;
  if (bytes > capacity_bytes || buffer == nullptr) {
    capacity_bytes = (bytes + 4096) / 4096 * 4096;
    buffer.reset(std::aligned_alloc(64, capacity_bytes));
    MOET_CHECK(buffer != nullptr);
  }
  return buffer.get();
}

memory::desc matrix_desc(int64_t rows, int64_t cols, Transpose transposed, int64_t ld,
                         memory::data_type type) {
  // A transposed operand is the same matrix read with swapped strides.
  const memory::dims strides =
      transposed == Transpose::yes ? memory::dims{1, ld} : memory::dims{ld, 1};
  return memory::desc({rows, cols}, type, strides);
}

dnnl::matmul::primitive_desc primitive_desc(const MatmulKey& key) {
  const auto input_type =
      key.input == MatmulInput::bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  const memory::desc a_desc = matrix_desc(key.m, key.k, key.trans_a, key.lda, input_type);
  const memory::desc b_desc = matrix_desc(key.k, key.n, key.trans_b, key.ldb, input_type);
  const memory::desc c_desc =
      matrix_desc(key.m, key.n, Transpose::no, key.ldc, memory::data_type::f32);

  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const float alpha = std::bit_cast<float>(key.alpha_bits);
  const float beta = std::bit_cast<float>(key.beta_bits);
  // A constant output scale, not a runtime one: runtime scales exclude oneDNN's brgemm kernels.
  if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
  if (beta != 0.0f) {
    dnnl::post_ops ops;
    ops.append_sum(beta);
    attr.set_post_ops(ops);
  }
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_desc, b_desc, c_desc), attr,
                                      cpu_engine());
}

std::shared_ptr<const Prepared> build(const MatmulKey& key) {
  const dnnl::matmul::primitive_desc pd = primitive_desc(key);
  return std::make_shared<const Prepared>(Prepared{
      dnnl::matmul(pd), pd.src_desc(), pd.weights_desc(), pd.dst_desc(), pd.scratchpad_desc()});
}

class PrimitiveCache {
 public:
  std::shared_ptr<const Prepared> find_or_build(const MatmulKey& key) {
    {
      std::lock_guard lock(mutex_);
      if (!caching_) {
        ++misses_;
      } else if (auto it = index_.find(key); it != index_.end()) {
        ++hits_;
        lru_.splice(lru_.begin(), lru_, it->second);
        return it->second->second;
      } else {
        ++misses_;
      }
    }
    // Built outside the lock: creation takes ~0.1-0.5 ms and other threads may be executing.
    auto prepared = build(key);
    std::lock_guard lock(mutex_);
    if (!caching_ || index_.count(key)) return prepared;
    lru_.emplace_front(key, prepared);
    index_.emplace(key, lru_.begin());
    evict_beyond_capacity();
    return prepared;
  }

  GemmCacheStats stats() {
    std::lock_guard lock(mutex_);
    return {hits_, misses_, int64_t(lru_.size()), capacity_};
  }

  void clear() {
    std::lock_guard lock(mutex_);
    lru_.clear();
    index_.clear();
    hits_ = misses_ = 0;
    // A cold start for oneDNN too: otherwise its own cache turns our next misses into ~5 us
    // look-ups, and a benchmark of the first pass would time those instead of real builds.
    if (caching_) {
      const int onednn_capacity = dnnl::get_primitive_cache_capacity();
      dnnl::set_primitive_cache_capacity(0);
      dnnl::set_primitive_cache_capacity(onednn_capacity);
    }
  }

  void set_capacity(int64_t entries) {
    MOET_CHECK(entries >= 0);
    std::lock_guard lock(mutex_);
    capacity_ = entries;
    evict_beyond_capacity();
  }

  void set_caching(bool enabled) {
    std::lock_guard lock(mutex_);
    if (enabled == caching_) return;
    caching_ = enabled;
    // oneDNN keeps its own primitive cache; "uncached" must bypass it too.
    if (!enabled) {
      onednn_capacity_ = dnnl::get_primitive_cache_capacity();
      dnnl::set_primitive_cache_capacity(0);
    } else {
      dnnl::set_primitive_cache_capacity(onednn_capacity_);
    }
  }

 private:
  void evict_beyond_capacity() {
    while (int64_t(lru_.size()) > capacity_) {
      index_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }

  // ~50 KB of JIT code and descriptors per primitive: 2048 entries bound it near 100 MB, and
  // hold every token count of every expert GEMM layout of the models we train.
  int64_t capacity_ = 2048;
  std::mutex mutex_;
  std::list<std::pair<MatmulKey, std::shared_ptr<const Prepared>>> lru_;  // most recent first
  std::unordered_map<MatmulKey, decltype(lru_)::iterator, MatmulKeyHash> index_;
  int64_t hits_ = 0, misses_ = 0;
  bool caching_ = true;
  int onednn_capacity_ = 0;
};

PrimitiveCache& cache() {
  static auto* instance = new PrimitiveCache;
  return *instance;
}

// Below ~2 MFLOP (m n k < 2^20) a fork-join costs more than a second thread saves: on this
// machine 64^3 takes 3.6 us on one thread and 7.4 us on two; at 128 x 128 x 64 they tie.
constexpr int64_t kSingleThreadBelow = int64_t(1) << 20;

// Makes oneDNN plan and run the enclosed calls for the calling thread alone; the OpenMP thread
// count is a per-thread setting, so other threads are unaffected.
class SingleThreadScope {
 public:
  explicit SingleThreadScope(bool active) : saved_threads_(active ? omp_get_max_threads() : 0) {
    if (saved_threads_ > 0) omp_set_num_threads(1);
  }
  ~SingleThreadScope() {
    if (saved_threads_ > 0) omp_set_num_threads(saved_threads_);
  }
  SingleThreadScope(const SingleThreadScope&) = delete;
  SingleThreadScope& operator=(const SingleThreadScope&) = delete;

 private:
  const int saved_threads_;
};

// The thread count in the key is the one oneDNN will plan for (1 inside SingleThreadScope).
MatmulKey make_key(MatmulInput input, Transpose trans_a, Transpose trans_b, int64_t m, int64_t n,
                   int64_t k, float alpha, int64_t lda, int64_t ldb, float beta, int64_t ldc) {
  return {input,
          trans_a,
          trans_b,
          m,
          n,
          k,
          lda,
          ldb,
          ldc,
          std::bit_cast<uint32_t>(alpha),
          std::bit_cast<uint32_t>(beta),
          omp_get_max_threads()};
}

}  // namespace

void onednn_matmul(MatmulInput input, Transpose trans_a, Transpose trans_b, int64_t m, int64_t n,
                   int64_t k, float alpha, const void* a, int64_t lda, const void* b, int64_t ldb,
                   float beta, float* c, int64_t ldc) {
  // Inside a parallel region oneDNN runs on the calling thread anyway; planning for one thread
  // keeps it from laying out work (or scratchpad) for threads that never come.
  const SingleThreadScope single_thread(m * n * k < kSingleThreadBelow || omp_in_parallel());
  const std::shared_ptr<const Prepared> prepared =
      cache().find_or_build(make_key(input, trans_a, trans_b, m, n, k, alpha, lda, ldb, beta, ldc));
  const dnnl::engine& engine = cpu_engine();
  // oneDNN reads A and B only; its memory objects just take a non-const handle.
  const memory a_mem(prepared->a_desc, engine, const_cast<void*>(a));
  const memory b_mem(prepared->b_desc, engine, const_cast<void*>(b));
  const memory c_mem(prepared->c_desc, engine, c);
  const memory scratchpad(prepared->scratchpad_desc, engine,
                          thread_scratchpad(prepared->scratchpad_desc.get_size()));
  // The C entry point takes the arguments as an array; the C++ one builds a hash map per call.
  const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, a_mem.get()},
                                  {DNNL_ARG_WEIGHTS, b_mem.get()},
                                  {DNNL_ARG_DST, c_mem.get()},
                                  {DNNL_ARG_SCRATCHPAD, scratchpad.get()}};
  const dnnl_status_t status =
      dnnl_primitive_execute(prepared->primitive.get(), thread_stream().get(), 4, args);
  MOET_CHECK(status == dnnl_success);
}

bool onednn_has_bf16_matmul() {
  static const bool available = [] {
    try {
      primitive_desc(make_key(MatmulInput::bf16, Transpose::no, Transpose::no, 16, 16, 16, 1.0f, 16,
                              16, 0.0f, 16));
      return true;
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return available;
}

GemmCacheStats gemm_cache_stats() { return cache().stats(); }
void gemm_cache_clear() { cache().clear(); }
void gemm_cache_set_capacity(int64_t entries) { cache().set_capacity(entries); }
void gemm_set_caching(bool enabled) { cache().set_caching(enabled); }

std::string gemm_implementation_name(bool bf16, Transpose trans_a, Transpose trans_b, int64_t m,
                                     int64_t n, int64_t k) {
  if (bf16 && !onednn_has_bf16_matmul())
    return "bf16 widened to f32, then " +
           gemm_implementation_name(false, trans_a, trans_b, m, n, k);
  const MatmulKey key =
      make_key(bf16 ? MatmulInput::bf16 : MatmulInput::f32, trans_a, trans_b, m, n, k, 1.0f,
               trans_a == Transpose::yes ? m : k, trans_b == Transpose::yes ? k : n, 0.0f, n);
  return primitive_desc(key).impl_info_str();
}

}  // namespace moet
