#include "model/roles.h"

namespace moet {

namespace {
struct RoleName {
  Role role;
  const char* name;
};
constexpr RoleName kRoles[] = {
    {Role::embed, "embed"},
    {Role::pos_embed, "pos_embed"},
    {Role::attn_qk, "attn_qk"},
    {Role::attn_v, "attn_v"},
    {Role::attn_o, "attn_o"},
    {Role::router, "router"},
    {Role::expert_up, "expert_up"},
    {Role::expert_down, "expert_down"},
    {Role::shared_up, "shared_up"},
    {Role::shared_down, "shared_down"},
    {Role::dense_up, "dense_up"},
    {Role::dense_down, "dense_down"},
    {Role::norm, "norm"},
    {Role::bias, "bias"},
    {Role::route_bias, "route_bias"},
    {Role::unembed, "unembed"},
};
}  // namespace

const std::vector<Role>& all_roles() {
  static const std::vector<Role> roles = [] {
    std::vector<Role> out;
    for (const auto& r : kRoles) out.push_back(r.role);
    return out;
  }();
  return roles;
}

const char* role_name(Role role) {
  for (const auto& r : kRoles)
    if (r.role == role) return r.name;
  return "?";
}

bool optimizer_trains(Role role) { return role != Role::route_bias; }

std::optional<Role> role_from_name(const std::string& name) {
  for (const auto& r : kRoles)
    if (name == r.name) return r.role;
  return std::nullopt;
}

}  // namespace moet
