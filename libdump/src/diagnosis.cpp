// The diagnosis: jump, drift or oscillation (rules in docs/diagnosis.md),
// read from the comparable layers the way the vendor guide does.
#include "sigdump/diagnosis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "summary_parts.h"

namespace sigdump {

const char* diagnosis_kind_name(diagnosis::kind k) noexcept {
  switch (k) {
    case diagnosis::kind::none: return "none";
    case diagnosis::kind::jump: return "jump";
    case diagnosis::kind::drift: return "drift";
    case diagnosis::kind::oscillation: return "oscillation";
  }
  return "none";
}

namespace detail {

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

bool cos_bad(const layer_result& l, const thresholds& t) { return !(l.metrics.cos >= t.cos_min); }
bool rmse_bad(const layer_result& l, const thresholds& t) {
  return !(l.metrics.rmse <= t.rmse_max);
}

bool finite_metrics(const layer_result& l) {
  return std::isfinite(l.metrics.cos) && std::isfinite(l.metrics.rmse);
}

// The level a step is measured from: the median COS and RMSE of the (up to
// diagnosis_window) finite comparable layers before position k, so that one
// dipping neighbour or a zigzag between convolutions with and without a
// ReLU does not set it. Before the first layer stands a virtual layer
// exactly at the thresholds.
struct level {
  double cos, rmse;
  std::size_t layers;  // how many layers set it (0: the virtual layer)
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

level level_before(const std::vector<const layer_result*>& c, std::size_t k, const thresholds& t) {
  std::vector<double> cs, rs;
  for (std::size_t j = k; j-- > 0 && cs.size() < diagnosis_window;) {
    if (!finite_metrics(*c[j])) continue;
    cs.push_back(c[j]->metrics.cos);
    rs.push_back(c[j]->metrics.rmse);
  }
  if (cs.empty()) return {t.cos_min, t.rmse_max, 0};
  return {median(cs), median(rs), cs.size()};
}

// Past the step from level b: COS at least two threshold margins below it,
// or RMSE up by at least the threshold and at least doubled.
bool cos_down(double cos, const level& b, const thresholds& t) {
  return cos <= b.cos - 2 * (1.0 - t.cos_min);
}
bool rmse_up(double rmse, const level& b, const thresholds& t) {
  return rmse - b.rmse >= t.rmse_max && rmse >= 2 * b.rmse;
}

struct step {
  std::size_t k = 0;                     // position in the comparable layers
  level before{};                        // the level it is measured from
  std::size_t followed = 0, stayed = 0;  // following layers looked at, and past the step
};

// Whether position k is a step: a suspect layer past the step from the
// level before it (or turned non-finite), and whose previous layer accounts
// for at least half of the fall (a steady slope, however steep, is not a
// step: each layer adds only a part of it).
bool is_step(const std::vector<const layer_result*>& c, std::size_t k, const level& b,
             const thresholds& t) {
  const layer_result& l = *c[k];
  if (!l.suspect) return false;
  const double prev_cos = k ? c[k - 1]->metrics.cos : t.cos_min;
  const double prev_rmse = k ? c[k - 1]->metrics.rmse : t.rmse_max;
  if (!finite_metrics(l)) return k == 0 || finite_metrics(*c[k - 1]);
  const double cos = l.metrics.cos, rmse = l.metrics.rmse;
  const bool by_cos = cos_bad(l, t) && cos_down(cos, b, t) && prev_cos - cos >= (b.cos - cos) / 2;
  const bool by_rmse =
      rmse_bad(l, t) && rmse_up(rmse, b, t) && rmse - prev_rmse >= (rmse - b.rmse) / 2;
  return by_cos || by_rmse;
}

// Whether the following layers show that the step stays: each of the
// (up to diagnosis_window) layers after it stays past the step from the
// level before it (non-finite, COS still two margins below, or RMSE still up
// by the threshold and doubled), except at most one when three or more
// follow. A step moves the whole band of values: in a zigzag or after a
// one-layer dip the better layers are back.
bool stays(const step& s) {
  const std::size_t back = s.followed - s.stayed;
  return s.followed > 0 && back <= (s.followed >= 3 ? 1u : 0u);
}

// The first jump: a step that stays. A step that the following layers undo
// is a dip; a step with no layer after it cannot be told from one. The
// first of those is returned in `dip` for the text.
std::optional<step> find_jump(const std::vector<const layer_result*>& c, const thresholds& t,
                              std::optional<step>& dip) {
  for (std::size_t k = 0; k < c.size(); ++k) {
    step s;
    s.k = k;
    s.before = level_before(c, k, t);
    if (!is_step(c, k, s.before, t)) continue;
    for (std::size_t j = k + 1; j < c.size() && s.followed < diagnosis_window; ++j) {
      const layer_metrics& m = c[j]->metrics;
      ++s.followed;
      if (!finite_metrics(*c[j]) || cos_down(m.cos, s.before, t) || rmse_up(m.rmse, s.before, t)) {
        ++s.stayed;
      }
    }
    if (stays(s)) return s;
    if (!dip) dip = s;
  }
  return std::nullopt;
}

std::string dip_note(const std::vector<const layer_result*>& c, const step& s) {
  const layer_result& l = *c[s.k];
  if (s.followed == 0) {
    return "; " + layer_label(l) +
           " changes abruptly but is the last compared layer: no layer follows to show that "
           "the change stays";
  }
  return "; " + layer_label(l) + " changes abruptly (COS " + fmt("%f", l.metrics.cos) + ", RMSE " +
         fmt("%f", l.metrics.rmse) + ") but " + std::to_string(s.followed - s.stayed) + " of the " +
         std::to_string(s.followed) +
         " following layer(s) are back near the level before it: a dip, not a lasting step";
}

}  // namespace

std::string suspect_reason(const layer_result& l, const thresholds& t) {
  std::string r;
  if (cos_bad(l, t)) r = "COS " + fmt("%f", l.metrics.cos) + " < " + fmt("%g", t.cos_min);
  if (rmse_bad(l, t)) {
    if (!r.empty()) r += ", ";
    r += "RMSE " + fmt("%f", l.metrics.rmse) + " > " + fmt("%g", t.rmse_max);
  }
  return r;
}

void diagnose(compare_report& report, const std::vector<const layer_result*>& c,
              std::int64_t first) {
  const thresholds& t = report.thresholds;
  diagnosis& d = report.diagnosis;
  d = {};
  const std::size_t errors = static_cast<std::size_t>(std::count_if(
      report.layers.begin(), report.layers.end(), [](const auto& l) { return !l.error.empty(); }));
  if (first < 0) {
    d.text = "no layer is past the thresholds (COS < " + fmt("%g", t.cos_min) + " or RMSE > " +
             fmt("%g", t.rmse_max) + ")";
    if (errors) d.text += "; " + std::to_string(errors) + " layer(s) could not be compared";
    return;
  }
  const double margin = 1.0 - t.cos_min;
  const auto f = static_cast<std::size_t>(first);
  const layer_result& fl = *c[f];

  std::optional<step> dip;
  if (const std::optional<step> s = find_jump(c, t, dip)) {
    const layer_result& l = *c[s->k];
    d.what = diagnosis::kind::jump;
    d.at = l.index;
    d.following = static_cast<std::int32_t>(s->followed);
    const std::string stays =
        std::to_string(s->stayed) + " of the " + std::to_string(s->followed) +
        " following layer(s) stay there" +
        (s->followed >= diagnosis_window ? ""
         : s->followed > 2 ? " (only " + std::to_string(s->followed) + " layers follow it)"
                           : " (only " + std::to_string(s->followed) +
                                 " layer(s) follow it: little evidence that it lasts)");
    if (s->k == 0) {
      d.preprocessing = true;
      d.text = "the first compared layer " + layer_label(l) + " already differs (" +
               suspect_reason(l, t) + ") and " + stays +
               ": check the preprocessing (normalisation, mean/std, input format) first";
    } else {
      const std::string from =
          s->before.layers == 1
              ? "the layer before"
              : "the median of the " + std::to_string(s->before.layers) + " layers before";
      d.text = "metrics change abruptly at " + layer_label(l) + " and stay changed: COS " +
               fmt("%f", s->before.cos) + " -> " + fmt("%f", l.metrics.cos) + ", RMSE " +
               fmt("%f", s->before.rmse) + " -> " + fmt("%f", l.metrics.rmse) + " (from " + from +
               " it); " + stays + "; precision is lost at this layer";
    }
    if (s->k != f) {
      d.text += "; the first layer past a threshold is " + layer_label(fl);
    }
    return;
  }

  bool worsening = false, mild = true;
  std::size_t suspects = 0;
  for (std::size_t k = f; k < c.size(); ++k) {
    const layer_metrics& m = c[k]->metrics;
    if (k > f && (m.cos <= fl.metrics.cos - margin || m.rmse >= fl.metrics.rmse + t.rmse_max)) {
      worsening = true;
    }
    if (!(m.cos >= t.cos_min - 2 * margin) || !(m.rmse <= 2 * t.rmse_max)) mild = false;
    if (c[k]->suspect) ++suspects;
  }
  const std::size_t span = c.size() - f;
  d.at = fl.index;
  if (!worsening && mild && span >= 3 && suspects >= 2) {
    d.what = diagnosis::kind::oscillation;
    d.text = "metrics hover around the thresholds (COS about " + fmt("%g", t.cos_min - margin) +
             "-" + fmt("%g", t.cos_min) + ", RMSE below about " + fmt("%g", 2 * t.rmse_max) +
             ") from " + layer_label(fl) +
             " on without a clear break: try the training quantizer "
             "(SGS_IPU_Toolchain/Scripts/calibrator/torch_calibrator.py, level Q2) and "
             "compare again";
    if (dip) d.text += dip_note(c, *dip);
    return;
  }
  d.what = diagnosis::kind::drift;
  d.text =
      "metrics degrade gradually, without a lasting step; the first layer past a "
      "threshold is " +
      layer_label(fl) + " (" + suspect_reason(fl, t) + "): look there first";
  if (dip) d.text += dip_note(c, *dip);
}

}  // namespace detail

}  // namespace sigdump
