// The model architectures that the whole-model checks run on: the finite-difference gradient
// check (gradcheck_test.cpp) and the PyTorch oracle (torch_oracle_test.cpp) iterate this one
// list, so an architecture added for one is checked by both.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../support/model_fixtures.h"
#include "kernels/flash_attention.h"
#include "model/attention_kernel.h"
#include "model/config.h"
#include "model/recompute.h"

namespace moet::testing {

struct ModelCase {
  std::string name;
  ModelConfig config;
  int64_t batch;
  // backward(loss_scale) must give loss_scale times the gradient, including the aux and z-loss
  // paths that moe_backward scales on their own; compared after dividing it out.
  double loss_scale = 1.0;
  // Flash is the kernel long sequences train with; one case also runs the strips kernel.
  AttentionKernel attention = AttentionKernel::flash;
  // A few cases run with activation recomputation, each mode, each attention kernel.
  Recompute recompute = Recompute::none;
  // Rows of logits formed at a time (Model::set_readout_rows); 0 keeps the default, one chunk at
  // these sizes. A few cases take several chunks and a ragged last one, tied and untied.
  int64_t readout_rows = 0;
};

inline std::vector<ModelCase> model_cases() {
  std::vector<ModelCase> out;
  {
    // Paper 1: LayerNorm, learned positions, GELU, sigmoid router, tied readout.
    out.push_back({"paper1_style", small_config(), 2});
    out.back().readout_rows = 3;
  }
  {
    // Paper 2 with every option on, through backward(loss_scale = 0.3).
    ModelConfig c = small_config();
    c.norm = NormKind::rmsnorm;
    c.pos = PosEncoding::rope;
    c.qk_norm = true;
    c.act = Activation::swiglu;
    c.router_score = RouterScore::softmax;
    c.tied_embed = false;
    c.linear_bias = true;
    c.gate_renorm = true;
    c.M = 6;
    c.shared_experts = 2;
    c.shared_Ne = 6;
    c.aux_weight = 0.3;
    c.z_weight = 0.2;
    out.push_back({"paper2_style", c, 2, 0.3});
    out.back().readout_rows = 4;
    // HyperP's SqrtGate on the same model: experts weighted by sqrt(gate).
    ModelConfig sqrt_gate = c;
    sqrt_gate.gate_fn = GateFn::sqrt;
    out.push_back({"sqrt_gate", sqrt_gate, 2, 0.3});
    out.push_back({"paper2_style_strips", c, 2, 0.3, AttentionKernel::strips});
    out.push_back(
        {"paper2_style_recompute_block", c, 2, 0.3, AttentionKernel::flash, Recompute::block});
    out.back().readout_rows = 4;
    out.push_back({"paper2_style_strips_recompute_attention", c, 2, 0.3, AttentionKernel::strips,
                   Recompute::attention});
  }
  {
    // The same options with M = 4 and one shared expert.
    ModelConfig c = small_config();
    c.norm = NormKind::rmsnorm;
    c.pos = PosEncoding::rope;
    c.qk_norm = true;
    c.act = Activation::swiglu;
    c.router_score = RouterScore::softmax;
    c.tied_embed = false;
    c.linear_bias = true;
    c.gate_renorm = true;
    c.shared_experts = 1;
    c.shared_Ne = 6;
    c.aux_weight = 0.3;
    c.z_weight = 0.2;
    out.push_back({"paper2_style_all_options", c, 2});
  }
  {
    // Dense and MoE blocks alternating (dense first), shared expert, sigmoid + renorm + aux.
    ModelConfig c = small_config();
    c.moe_every = 2;
    c.L = 4;
    c.dense_Nf = 20;
    c.shared_experts = 1;
    c.gate_renorm = true;
    c.aux_weight = 0.5;
    c.linear_bias = true;
    out.push_back({"interleaved_moe_every_2", c, 2});
  }
  {
    // Three blocks, dense ones between, two shared experts, one sequence.
    ModelConfig c = small_config();
    c.moe_every = 2;
    c.L = 3;
    c.shared_experts = 2;
    c.gate_renorm = true;
    c.aux_weight = 0.5;
    c.linear_bias = true;
    c.dense_Nf = 20;
    out.push_back({"interleaved_dense_shared_sigmoid_aux", c, 1});
  }
  {
    // Odd sizes: 3 heads of 4, M = 5 with K = 3, RoPE without qk-norm, LayerNorm with linear
    // biases, softmax without renorm, z-loss only, untied.
    ModelConfig c;
    c.vocab = 13;
    c.seq = 7;
    c.N = 12;
    c.d_head = 4;
    c.L = 2;
    c.M = 5;
    c.K = 3;
    c.Ne = 5;
    c.pos = PosEncoding::rope;
    c.rope_base = 50;
    c.linear_bias = true;
    c.router_score = RouterScore::softmax;
    c.tied_embed = false;
    c.z_weight = 0.4;
    out.push_back({"odd_shapes_rope_softmax_z", c, 3});
  }
  {
    // A second odd shape: 3 heads of 4, M = 6 with K = 3, softmax + z-loss, SwiGLU.
    ModelConfig c;
    c.vocab = 13;
    c.seq = 4;
    c.N = 12;
    c.d_head = 4;
    c.L = 2;
    c.M = 6;
    c.K = 3;
    c.Ne = 5;
    c.z_weight = 0.4;
    c.router_score = RouterScore::softmax;
    c.act = Activation::swiglu;
    out.push_back({"second_shape_softmax_z", c, 3});
  }
  {
    // One token per sequence (T = 1) and every expert active (K = M), qk-norm with learned
    // positions, SwiGLU, RMSNorm, sigmoid, aux loss.
    ModelConfig c = small_config();
    c.seq = 1;
    c.M = 3;
    c.K = 3;
    c.qk_norm = true;
    c.act = Activation::swiglu;
    c.norm = NormKind::rmsnorm;
    c.aux_weight = 0.2;
    out.push_back({"single_token_all_experts", c, 4});
  }
  {
    // Queries in several blocks of the flash kernel and keys in two, so the online softmax
    // rescales rows; RoPE and qk-norm on the way in. Dense FFNs: this many tokens make near-ties
    // in top-K routing likely (the MoE paths are above).
    ModelConfig c = small_config();
    c.seq = kFlashKeyBlock + 21;
    c.pos = PosEncoding::rope;
    c.qk_norm = true;
    c.L = 1;
    c.moe_every = 0;
    c.dense_Nf = 20;
    out.push_back({"long_sequence", c, 1});
  }
  return out;
}

inline ModelCase model_case(const std::string& name) {
  for (ModelCase& c : model_cases())
    if (c.name == name) return c;
  ADD_FAILURE() << "no model case named " << name;
  return model_cases().front();
}

// Test names: the case's name.
inline std::string model_case_name(const ::testing::TestParamInfo<ModelCase>& info) {
  return info.param.name;
}

}  // namespace moet::testing
