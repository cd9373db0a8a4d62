#include "analysis/transfer_reach.h"

#include <fmt/format.h>

#include <algorithm>

#include "analysis/ladder_transfer.h"

namespace moet::analysis {

std::vector<LadderExtent> ladder_extents(const std::vector<Panel>& panels,
                                         const std::string& preset) {
  std::vector<LadderExtent> out;
  for (const Panel& p : panels) {
    if (p.preset != preset) continue;
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const LadderExtent& e) { return e.ladder == p.ladder; });
    if (it == out.end()) it = out.insert(out.end(), {p.ladder, sweep::parse_ladder_axes(p.axes)});
    const LadderAnalysis a = analyze_ladder(p.curves, kDefaultDriftTolerance);
    for (size_t i = 0; i < p.curves.size(); ++i) {
      if (a.optima[i].kind == OptimumKind::none) continue;
      const double s = p.curves[i].scale;
      it->min_scale = std::isnan(it->min_scale) ? s : std::min(it->min_scale, s);
      it->max_scale = std::isnan(it->max_scale) ? s : std::max(it->max_scale, s);
    }
  }
  return out;
}

AxisReach reach_along(const sweep::LadderAxis& quantity, double ratio,
                      const std::vector<LadderExtent>& extents) {
  AxisReach r;
  r.axis = sweep::quantity_name(quantity);
  r.ratio = ratio;
  const double x = std::log2(ratio);
  for (const LadderExtent& e : extents) {
    if (std::isnan(e.min_scale)) continue;
    for (const sweep::LadderAxis& a : e.axes) {
      if (!sweep::same_quantity(a, quantity)) continue;
      // Along a 1/Ne axis the scale s checks Ne at 1/s of the base.
      const double lo =
          std::min(std::pow(e.min_scale, a.exponent), std::pow(e.max_scale, a.exponent));
      const double hi =
          std::max(std::pow(e.min_scale, a.exponent), std::pow(e.max_scale, a.exponent));
      const double beyond = std::max({0.0, x - std::log2(hi), std::log2(lo) - x});
      if (std::isnan(r.doublings_beyond) || beyond < r.doublings_beyond)
        r.doublings_beyond = beyond, r.ladder = e.ladder, r.low = lo, r.high = hi;
    }
  }
  return r;
}

std::string reach_text(const AxisReach& r) {
  const std::string head = fmt::format("{:<7} {}", r.axis, scale_label(r.ratio));
  if (r.untested()) return fmt::format("{}: no ladder scales {}", head, r.axis);
  const std::string ladder =
      fmt::format("ladder {} ({} to {})", r.ladder, scale_label(r.low), scale_label(r.high));
  if (r.doublings_beyond == 0) return fmt::format("{}: within {}", head, ladder);
  return fmt::format("{}: {:.1f} doubling{} {} {}", head, r.doublings_beyond,
                     r.doublings_beyond == 1 ? "" : "s", r.ratio > r.high ? "beyond" : "below",
                     ladder);
}

}  // namespace moet::analysis
