// to_json / from_json: the resolved parameterization as stored in checkpoints. Every number is
// written with full precision, so a reloaded run gets bit-identical inits, multipliers and
// optimizer settings; reading checks the tensors against the model and names the first field
// that is missing or does not match.
#include <nlohmann/json.hpp>

#include "core/enum_names.h"
#include "core/error.h"
#include "model/init.h"
#include "param/json.h"

namespace moet::param {

namespace {

constexpr const char* kFormat = "moet.parameterization/1";

constexpr EnumName<InitKind> kInitKinds[] = {
    {InitKind::normal, "normal"}, {InitKind::zero, "zero"}, {InitKind::one, "one"}};

nlohmann::json axes_json(const param::AxisValues& a) {
  nlohmann::json j;
  for (const auto axis : param::kAllAxes) j[param::axis_name(axis)] = a[axis];
  return j;
}

// Reads j[key] as T, failing with one line naming the field.
template <typename T>
T field(const nlohmann::json& j, const std::string& key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) fail("parameterization: {}{}: missing", where, key);
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    fail("parameterization: {}{}: wrong type ({})", where, key, j.at(key).type_name());
  }
}

// How a tensor moves under Muon. Written only for Muon runs, so the tables of other optimizers
// keep their format.
enum class Update { adamw, muon, muon_sphere };
constexpr EnumName<Update> kUpdates[] = {
    {Update::adamw, "adamw"}, {Update::muon, "muon"}, {Update::muon_sphere, "muon-sphere"}};

Update update_of(const TensorHyper& h) {
  if (!h.orthogonalised) return Update::adamw;
  return h.norm_preserved ? Update::muon_sphere : Update::muon;
}

void read_update(const nlohmann::json& s, const std::string& where, TensorHyper& h) {
  const Update update = parse_enum("parameterization: " + where + "update",
                                   field<std::string>(s, "update", where), kUpdates);
  h.orthogonalised = update != Update::adamw;
  h.norm_preserved = update == Update::muon_sphere;
  h.column_blocks = field<int>(s, "column_blocks", where);
  if (h.column_blocks < 1)
    fail("parameterization: {}column_blocks: must be at least 1 (got {})", where, h.column_blocks);
}

param::AxisValues axes_from(const nlohmann::json& j, const std::string& where) {
  param::AxisValues a;
  for (const auto axis : param::kAllAxes)
    a[axis] = field<int64_t>(j, param::axis_name(axis), where);
  return a;
}

nlohmann::json run_json(const RunHorizon& r) { return {{"tokens", r.tokens}, {"batch", r.batch}}; }

RunHorizon run_from(const nlohmann::json& j, const std::string& where) {
  return {field<int64_t>(j, "tokens", where), field<int64_t>(j, "batch", where)};
}

}  // namespace

nlohmann::json to_json(const Parameterization& p) {
  nlohmann::json tensors = nlohmann::json::array();
  for (size_t i = 0; i < p.tensors.size(); ++i) {
    const TensorInfo& t = p.tensors[i];
    const TensorPlan& plan = p.plan.tensors[i];
    tensors.push_back({{"name", t.name},
                       {"role", role_name(t.role)},
                       {"shape", t.shape},
                       {"init", enum_name(plan.init, kInitKinds)},
                       {"init_std", plan.init_std},
                       {"tied", plan.tied_across_experts},
                       {"multiplier", plan.multiplier},
                       {"lr", p.hyper[i].lr},
                       {"eps", p.hyper[i].eps},
                       {"wd", p.hyper[i].wd}});
    if (p.optimizer == OptimizerKind::muon) {
      tensors.back()["update"] = enum_name(update_of(p.hyper[i]), kUpdates);
      tensors.back()["column_blocks"] = p.hyper[i].column_blocks;
    }
  }
  const BlockPlan& b = p.plan.block;
  nlohmann::json out = {{"format", kFormat},
                        {"preset", p.preset},
                        {"source", p.source},
                        {"regime", p.regime},
                        {"depth", p.depth},
                        {"optimizer", name_of(p.optimizer)},
                        {"base", axes_json(p.base)},
                        {"target", axes_json(p.target)},
                        {"globals",
                         {{"init_std", p.globals.init_std},
                          {"lr", p.globals.lr},
                          {"eps", p.globals.eps},
                          {"wd", p.globals.wd},
                          {"bias_lr", p.globals.bias_lr}}},
                        {"block",
                         {{"residual_mult", b.residual_mult},
                          {"attn_logit_scale", b.attn_logit_scale},
                          {"aggregation_mult", b.aggregation_mult},
                          {"readout_mult", b.readout_mult}}},
                        {"tensors", tensors},
                        {"warnings", p.warnings}};
  // Only a run that differs from its base moved a number through D or B; without one, the
  // parameterizations stored before the run axes existed keep their bytes.
  if (p.base_run != p.target_run)
    out["run"] = {{"base", run_json(p.base_run)}, {"target", run_json(p.target_run)}};
  return out;
}

Parameterization from_json(const nlohmann::json& j, const ModelConfig& config) {
  if (field<std::string>(j, "format", "") != kFormat)
    fail("parameterization: format: expected '{}', got '{}'", kFormat,
         field<std::string>(j, "format", ""));
  Parameterization p;
  p.preset = field<std::string>(j, "preset", "");
  p.source = field<std::string>(j, "source", "");
  p.regime = field<std::string>(j, "regime", "");
  p.depth = field<std::string>(j, "depth", "");
  p.optimizer =
      optimizer_kind_from("parameterization: optimizer", field<std::string>(j, "optimizer", ""));
  p.base = axes_from(field<nlohmann::json>(j, "base", ""), "base.");
  p.target = axes_from(field<nlohmann::json>(j, "target", ""), "target.");
  if (p.target != param::axis_values(config))
    fail("parameterization: target: stored for N {} Ne {} M {} K {} L {}, but the model has N {} "
         "Ne {} M {} K {} L {}",
         p.target[param::Axis::N], p.target[param::Axis::Ne], p.target[param::Axis::M],
         p.target[param::Axis::K], p.target[param::Axis::L], config.N, config.Ne, config.M,
         config.K, config.L);
  const auto globals = field<nlohmann::json>(j, "globals", "");
  p.globals.init_std = field<double>(globals, "init_std", "globals.");
  p.globals.lr = field<double>(globals, "lr", "globals.");
  p.globals.eps = field<double>(globals, "eps", "globals.");
  p.globals.wd = field<double>(globals, "wd", "globals.");
  p.globals.bias_lr = field<double>(globals, "bias_lr", "globals.");
  const auto block = field<nlohmann::json>(j, "block", "");
  p.plan.block.residual_mult = field<double>(block, "residual_mult", "block.");
  p.plan.block.attn_logit_scale = field<double>(block, "attn_logit_scale", "block.");
  p.plan.block.aggregation_mult = field<double>(block, "aggregation_mult", "block.");
  p.plan.block.readout_mult = field<double>(block, "readout_mult", "block.");
  p.warnings = field<std::vector<std::string>>(j, "warnings", "");
  if (j.contains("run")) {
    const auto run = field<nlohmann::json>(j, "run", "");
    p.base_run = run_from(field<nlohmann::json>(run, "base", "run."), "run.base.");
    p.target_run = run_from(field<nlohmann::json>(run, "target", "run."), "run.target.");
  }

  p.tensors = model_tensors(config);
  const auto tensors = field<nlohmann::json>(j, "tensors", "");
  if (!tensors.is_array() || tensors.size() != p.tensors.size())
    fail("parameterization: tensors: {} stored, the model has {}",
         tensors.is_array() ? tensors.size() : 0, p.tensors.size());
  p.plan.tensors.resize(p.tensors.size());
  p.hyper.resize(p.tensors.size());
  for (size_t i = 0; i < p.tensors.size(); ++i) {
    const TensorInfo& t = p.tensors[i];
    const nlohmann::json& s = tensors[i];
    const std::string where = fmt::format("tensors[{}].", i);
    const auto name = field<std::string>(s, "name", where);
    const auto role = field<std::string>(s, "role", where);
    const auto shape = field<std::vector<int64_t>>(s, "shape", where);
    if (name != t.name || role != role_name(t.role) || shape != t.shape)
      fail("parameterization: {}name: stored {} ({} {}), the model has {} ({} {}) there", where,
           name, role, nlohmann::json(shape).dump(), t.name, role_name(t.role),
           nlohmann::json(t.shape).dump());
    TensorPlan& plan = p.plan.tensors[i];
    plan.init = parse_enum("parameterization: " + where + "init",
                           field<std::string>(s, "init", where), kInitKinds);
    plan.init_std = field<double>(s, "init_std", where);
    plan.tied_across_experts = field<bool>(s, "tied", where);
    plan.multiplier = field<double>(s, "multiplier", where);
    p.hyper[i].lr = field<double>(s, "lr", where);
    p.hyper[i].eps = field<double>(s, "eps", where);
    p.hyper[i].wd = field<double>(s, "wd", where);
    if (p.optimizer == OptimizerKind::muon) read_update(s, where, p.hyper[i]);
  }
  try {
    validate_plan(p.tensors, p.plan);
  } catch (const Error& e) {
    fail("stored {}", e.what());
  }
  return p;
}

}  // namespace moet::param
