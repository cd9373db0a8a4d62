// The layout's typed indices (ModelLayout): every index names the tensor the model binds there,
// every tensor has exactly one index, and a tensor the config lacks is -1.
#include <gtest/gtest.h>

#include <map>

#include "../support/model_fixtures.h"
#include "core/config.h"
#include "model/config.h"
#include "model/layout.h"

namespace moet {
namespace {

// What an index must point at, by the checkpoint name (the names are the layout's contract with
// checkpoints and `moet params`, so they are the independent witness here).
void expect_names(const ModelLayout& layout, std::map<std::string, int>& seen) {
  const auto check = [&](int index, const std::string& name, bool present) {
    if (!present) {
      EXPECT_EQ(index, -1) << name << " is absent from this config";
      return;
    }
    ASSERT_GE(index, 0) << name;
    ASSERT_LT(size_t(index), layout.tensors.size()) << name;
    EXPECT_EQ(layout.tensors[size_t(index)].name, name);
    ++seen[name];
  };
  const std::vector<TensorInfo>& t = layout.tensors;
  const auto has = [&](const std::string& name) { return find_tensor(t, name) >= 0; };
  const auto norm = [&](const NormIndex& n, const std::string& p) {
    check(n.gain, p + ".gain", true);
    check(n.bias, p + ".bias", has(p + ".bias"));
  };
  const auto mlp = [&](const MlpIndex& m, const std::string& up, const std::string& down) {
    check(m.up, up, has(up));
    check(m.up_bias, up + "_bias", has(up + "_bias"));
    check(m.down, down, has(down));
    check(m.down_bias, down + "_bias", has(down + "_bias"));
  };
  check(layout.embed, "embed", true);
  check(layout.pos_embed, "pos_embed", has("pos_embed"));
  check(layout.unembed, "unembed", has("unembed"));
  norm(layout.final_norm, "final_norm");
  for (size_t l = 0; l < layout.blocks.size(); ++l) {
    const BlockIndex& b = layout.blocks[l];
    const std::string p = "blocks." + std::to_string(l);
    norm(b.ln1, p + ".ln1");
    norm(b.ln2, p + ".ln2");
    for (const auto& [index, name] :
         {std::pair{b.wq, "wq"}, {b.wk, "wk"}, {b.wv, "wv"}, {b.wo, "wo"}})
      check(index, p + ".attn." + name, true);
    for (const auto& [index, name] :
         {std::pair{b.bq, "bq"}, {b.bk, "bk"}, {b.bv, "bv"}, {b.bo, "bo"}})
      check(index, p + ".attn." + name, has(p + ".attn." + name));
    check(b.router, p + ".moe.router", has(p + ".moe.router"));
    check(b.route_bias, p + ".moe.route_bias", has(p + ".moe.route_bias"));
    mlp(b.experts, p + ".moe.expert_up", p + ".moe.expert_down");
    mlp(b.shared, p + ".moe.shared_up", p + ".moe.shared_down");
    mlp(b.ffn, p + ".ffn.up", p + ".ffn.down");
  }
}

TEST(ModelLayout, EveryIndexNamesItsTensorAndEveryTensorHasOne) {
  const ModelConfig plain = testing::small_config();
  // Every optional tensor present or absent the other way: dense blocks 0 and 2, shared
  // experts, biases, an untied readout, no learned positions, no norm biases.
  const ModelConfig mixed = model_config_from(Config::load(
      model_config_keys(), "",
      {"model.N=16", "model.d_head=8", "model.L=4", "model.M=4", "model.Ne=12", "model.moe_every=2",
       "model.shared_experts=2", "model.linear_bias=true", "model.tied_embed=false",
       "model.pos=rope", "model.norm=rmsnorm", "model.act=swiglu"}));
  for (const ModelConfig& c : {plain, mixed}) {
    const ModelLayout layout = model_layout(c);
    EXPECT_EQ(layout.blocks.size(), size_t(c.L));
    std::map<std::string, int> seen;
    expect_names(layout, seen);
    for (const TensorInfo& t : layout.tensors) EXPECT_EQ(seen[t.name], 1) << t.name;
    EXPECT_EQ(seen.size(), layout.tensors.size());
    // model_tensors is the same list.
    const std::vector<TensorInfo> tensors = model_tensors(c);
    ASSERT_EQ(tensors.size(), layout.tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
      EXPECT_EQ(tensors[i].name, layout.tensors[i].name);
      EXPECT_EQ(tensors[i].offset, layout.tensors[i].offset);
    }
  }
}

// A dense block has no MoE indices and an MoE block no dense ones, whatever the names say.
TEST(ModelLayout, BlockKindsHaveOnlyTheirOwnIndices) {
  ModelConfig c = testing::small_config();
  c.L = 2;
  c.moe_every = 2;  // block 0 dense, block 1 MoE
  const ModelLayout layout = model_layout(c);
  EXPECT_GE(layout.blocks[0].ffn.up, 0);
  EXPECT_EQ(layout.blocks[0].router, -1);
  EXPECT_EQ(layout.blocks[0].experts.up, -1);
  EXPECT_EQ(layout.blocks[1].ffn.up, -1);
  EXPECT_GE(layout.blocks[1].router, 0);
  EXPECT_EQ(layout.tensors[size_t(layout.blocks[1].experts.up)].role, Role::expert_up);
  EXPECT_EQ(layout.blocks[1].shared.up, -1);  // no shared experts configured
}

}  // namespace
}  // namespace moet
