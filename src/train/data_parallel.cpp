#include "train/data_parallel.h"

#include <algorithm>

#include "core/error.h"
#include "core/profile.h"
#include "train/expert_slices.h"

namespace moet {

// Tensors of the local layout packed back to back (in layout order), synced over `world`.
struct DataParallel::Part {
  dist::World* world = nullptr;
  std::vector<int> tensors;                         // indices into the local layout
  std::vector<std::pair<int64_t, int64_t>> packed;  // (offset in the part, numel) per tensor
  int64_t numel = 0;
  dist::Shard shard;
  std::vector<dist::TensorPiece> pieces;  // of the shard, in packed coordinates
  int64_t compact_begin = 0;              // where its owned elements sit in the compact vectors
  std::vector<float> padded;              // R_part * shard length
};

namespace {

void check_expert_parallel(int64_t E, int ranks, const ModelConfig& config) {
  if (E < 1) fail("train.expert_parallel: must be positive (got {})", E);
  if (ranks % E != 0)
    fail("train.expert_parallel = {} does not divide the number of ranks ({}): run on a multiple "
         "of {} ranks (R = D x E)",
         E, ranks, E);
  const bool moe = config.moe_every > 0 && config.L >= config.moe_every;
  if (E > 1 && (!moe || config.M % E != 0))
    fail("train.expert_parallel = {} does not divide model.M = {}: each of the E ranks holds "
         "M/E experts of every MoE layer",
         E, moe ? config.M : 0);
}

}  // namespace

DataParallel::DataParallel(dist::World& world, int64_t numel, int64_t batch)
    : world_(world),
      numel_(numel),
      batch_(batch),
      shard_(dist::zero1_shard(numel, world.rank(), world.size())),
      rows_(dist::batch_rows(batch, world.rank(), world.size())) {
  if (ranks() == 1) return;
  // The collectives need R equal blocks: the flat vector is padded once, at its end.
  padded_.assign(size_t(dist::padded_length(numel, ranks())), 0.0f);
  shard_grads_.assign(size_t(shard_.length), 0.0f);
}

DataParallel::DataParallel(dist::World& world, const ModelConfig& config, int64_t batch,
                           int64_t expert_parallel)
    : DataParallel((check_expert_parallel(expert_parallel, world.size(), config), world),
                   total_numel(model_tensors(config)), batch) {
  const int E = int(expert_parallel);
  if (E == 1) return;
  experts_ = world.split(world.rank() / E);
  replicas_ = world.split(world.rank() % E);
  local_ = model_layout(config, expert_shard()).tensors;
  whole_ = model_tensors(config);
  parts_.resize(2);
  parts_[0].world = &world_;
  parts_[1].world = replicas_.get();
  for (size_t i = 0; i < local_.size(); ++i) {
    Part& part = parts_[is_expert_slice(local_[i]) ? 1 : 0];
    part.tensors.push_back(int(i));
    part.packed.emplace_back(part.numel, local_[i].numel);
    part.numel += local_[i].numel;
  }
  int64_t compact = 0, grads_length = 0;
  for (Part& part : parts_) {
    part.shard = dist::zero1_shard(part.numel, part.world->rank(), part.world->size());
    part.pieces = dist::shard_pieces(part.packed, part.shard);
    part.padded.assign(size_t(dist::padded_length(part.numel, part.world->size())), 0.0f);
    part.compact_begin = compact;
    grads_length = std::max(grads_length, compact + part.shard.length);
    compact += part.shard.owned;
  }
  shard_grads_.assign(size_t(grads_length), 0.0f);
  owned_params_.assign(size_t(compact), 0.0f);
}

DataParallel::~DataParallel() = default;

ExpertShard DataParallel::expert_shard() const {
  return experts_ ? ExpertShard{experts_->rank(), experts_->size()} : ExpertShard{};
}

Optimizer DataParallel::make_optimizer(const OptimConfig& config,
                                       const std::vector<TensorInfo>& tensors,
                                       const std::vector<param::TensorHyper>& hyper) const {
  // Muon orthogonalises whole matrices; a shard or a compact piece cuts them anywhere.
  if (ranks() > 1 && config.kind == OptimizerKind::muon)
    fail("optim.name = muon does not run data or expert parallel yet (it needs whole matrices "
         "on one rank); train on one rank");
  if (parts_.empty())
    return Optimizer(config, tensors, hyper, {shard_.begin, shard_.begin + shard_.owned});
  // One pseudo-tensor per owned piece, at its place in the compact vector, with its settings.
  std::vector<TensorInfo> pieces;
  std::vector<param::TensorHyper> piece_hyper;
  for (const Part& part : parts_)
    for (const dist::TensorPiece& piece : part.pieces) {
      const int t = part.tensors[size_t(piece.tensor)];
      TensorInfo info = tensors[size_t(t)];
      info.offset = part.compact_begin + (piece.begin - part.shard.begin);
      info.numel = piece.count;
      pieces.push_back(std::move(info));
      piece_hyper.push_back(hyper[size_t(t)]);
    }
  return Optimizer(config, pieces, piece_hyper);
}

const float* DataParallel::reduce_scatter(const std::vector<float>& grads) {
  MOET_CHECK(int64_t(grads.size()) == (parts_.empty() ? numel_ : total_numel(local_)));
  if (ranks() == 1) return grads.data();
  PhaseScope scope(Phase::communication);
  if (parts_.empty()) {
    std::copy(grads.begin(), grads.end(), padded_.begin());
    world_.reduce_scatter_sum(padded_, shard_grads_);
    return shard_grads_.data();
  }
  // The second part's shard overwrites the first's padding: the owned values stay side by side.
  for (Part& part : parts_) {
    for (size_t j = 0; j < part.tensors.size(); ++j)
      std::copy_n(grads.begin() + local_[size_t(part.tensors[j])].offset, part.packed[j].second,
                  part.padded.begin() + part.packed[j].first);
    part.world->reduce_scatter_sum(
        part.padded,
        std::span<float>(shard_grads_.data() + part.compact_begin, size_t(part.shard.length)));
  }
  return shard_grads_.data();
}

void DataParallel::pack_owned(const Part& part, const float* local, float* compact) const {
  for (const dist::TensorPiece& piece : part.pieces) {
    const size_t j = size_t(piece.tensor);
    const int64_t from =
        local_[size_t(part.tensors[j])].offset + piece.begin - part.packed[j].first;
    std::copy_n(local + from, piece.count,
                compact + part.compact_begin + (piece.begin - part.shard.begin));
  }
}

float* DataParallel::owned_params(std::vector<float>& params) {
  if (parts_.empty()) return params.data();
  for (const Part& part : parts_) pack_owned(part, params.data(), owned_params_.data());
  return owned_params_.data();
}

void DataParallel::all_gather(std::vector<float>& params) {
  if (ranks() == 1) return;
  PhaseScope scope(Phase::communication);
  if (parts_.empty()) {
    MOET_CHECK(int64_t(params.size()) == numel_);
    const std::span<float> mine(padded_.data() + shard_.begin, size_t(shard_.length));
    std::copy_n(params.begin() + shard_.begin, shard_.owned, mine.begin());
    world_.all_gather(std::span<const float>(mine), std::span<float>(padded_));
    std::copy_n(padded_.begin(), numel_, params.begin());
    return;
  }
  for (Part& part : parts_) {
    const std::span<float> mine(part.padded.data() + part.shard.begin, size_t(part.shard.length));
    std::copy_n(owned_params_.begin() + part.compact_begin, part.shard.owned, mine.begin());
    part.world->all_gather(std::span<const float>(mine), std::span<float>(part.padded));
    for (size_t j = 0; j < part.tensors.size(); ++j)
      std::copy_n(part.padded.begin() + part.packed[j].first, part.packed[j].second,
                  params.begin() + local_[size_t(part.tensors[j])].offset);
  }
}

double DataParallel::sum(double local) {
  if (ranks() == 1) return local;
  PhaseScope scope(Phase::communication);
  world_.allreduce_sum(std::span<double>(&local, 1));
  return local;
}

// E > 1: the local layout's vector from every rank's compact owned part.
std::vector<float> DataParallel::gather_local(std::span<const float> compact) {
  std::vector<float> local(size_t(total_numel(local_)));
  for (Part& part : parts_) {
    std::vector<float> all(part.padded.size()), mine(size_t(part.shard.length), 0.0f);
    std::copy_n(compact.begin() + part.compact_begin, part.shard.owned, mine.begin());
    part.world->all_gather(std::span<const float>(mine), std::span<float>(all));
    for (size_t j = 0; j < part.tensors.size(); ++j)
      std::copy_n(all.begin() + part.packed[j].first, part.packed[j].second,
                  local.begin() + local_[size_t(part.tensors[j])].offset);
  }
  return local;
}

std::vector<float> DataParallel::gather(std::span<const float> owned_part) {
  if (!parts_.empty()) {
    MOET_CHECK(owned_part.size() == owned_params_.size());
    return whole_from_local(local_, whole_, gather_local(owned_part), *experts_);
  }
  MOET_CHECK(int64_t(owned_part.size()) == shard_.owned);
  if (ranks() == 1) return {owned_part.begin(), owned_part.end()};
  std::vector<float> all(padded_.size()), mine(size_t(shard_.length), 0.0f);
  std::copy(owned_part.begin(), owned_part.end(), mine.begin());
  world_.all_gather(std::span<const float>(mine), std::span<float>(all));
  all.resize(size_t(numel_));
  return all;
}

std::vector<float> DataParallel::owned_part(std::span<const float> whole) const {
  MOET_CHECK(int64_t(whole.size()) == numel_);
  if (parts_.empty()) {
    const auto first = whole.begin() + shard_.begin;
    return {first, first + shard_.owned};
  }
  const std::vector<float> local = local_from_whole(local_, whole_, {whole.begin(), whole.end()});
  std::vector<float> compact(owned_params_.size());
  for (const Part& part : parts_) pack_owned(part, local.data(), compact.data());
  return compact;
}

std::vector<float> DataParallel::whole_params(const std::vector<float>& params) {
  if (parts_.empty()) return params;
  return whole_from_local(local_, whole_, params, *experts_);
}

void DataParallel::load_params(const std::vector<float>& whole, std::vector<float>& params) const {
  if (parts_.empty()) {
    params = whole;
    return;
  }
  const std::vector<float> local = local_from_whole(local_, whole_, whole);
  MOET_CHECK(local.size() == params.size());
  std::copy(local.begin(), local.end(), params.begin());
}

int64_t DataParallel::bytes_sent() const {
  int64_t bytes = world_.traffic().total_bytes();
  for (const dist::World* group : {experts_.get(), replicas_.get()})
    if (group) bytes += group->traffic().total_bytes();
  return bytes;
}

void DataParallel::reset_traffic() {
  world_.reset_traffic();
  for (dist::World* group : {experts_.get(), replicas_.get()})
    if (group) group->reset_traffic();
}

}  // namespace moet
