// Role: what a parameter tensor is for, in the vocabulary of docs/design.md §2.
//
// The parameterization engine (param/) maps each role to init std, forward multiplier, LR, Adam
// epsilon and weight decay; the model only tags its tensors with roles and never picks numbers.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace moet {

enum class Role {
  embed,        // token embedding [vocab, N]
  pos_embed,    // learned positions [seq, N]
  attn_qk,      // W_Q and W_K [N, N]
  attn_v,       // W_V [N, N]
  attn_o,       // W_O [N, N]
  router,       // [N, M]
  expert_up,    // [M, N, Ne] (SwiGLU: [M, N, 2 Ne], gate then up)
  expert_down,  // [M, Ne, N]
  shared_up,    // always-on experts [S, N, Ne']
  shared_down,  // [S, Ne', N]
  dense_up,     // dense FFN blocks [N, Nf]
  dense_down,   // [Nf, N]
  norm,         // norm gains (init one)
  bias,         // biases of linear layers and of LayerNorms (init zero)
  route_bias,   // balancing bias [M]: moves by the balancing rule, never by the optimizer
  unembed,      // untied readout [N, vocab]
};

const std::vector<Role>& all_roles();
const char* role_name(Role role);
// False for route_bias, which the balancing rule moves and the optimizer skips: it has an LR
// (eta_bias) but no Adam epsilon and no weight decay.
bool optimizer_trains(Role role);
std::optional<Role> role_from_name(const std::string& name);

}  // namespace moet
