// The diagnosis: jump, drift or oscillation (rules in docs/diagnosis.md),
// read from the comparable layers the way the vendor guide does.
#include "sigdump/diagnosis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

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

// The layer where a jump happens, or -1. A jump is a suspect layer whose
// COS fell by at least two threshold margins, or whose RMSE rose by at
// least the threshold and at least doubled, against the previous comparable
// layer, or whose metrics turned non-finite. Before the first layer stands
// a virtual layer exactly at the thresholds: a first layer only mildly off
// (an 8-bit quantized input typically is) is not a jump.
std::int64_t find_jump(const std::vector<const layer_result*>& c, const thresholds& t) {
  const double margin = 1.0 - t.cos_min;
  double prev_cos = t.cos_min, prev_rmse = t.rmse_max;
  bool prev_finite = true;
  for (std::size_t k = 0; k < c.size(); ++k) {
    const layer_result& l = *c[k];
    const bool fin = finite_metrics(l);
    if (l.suspect) {
      if (!fin && prev_finite) return static_cast<std::int64_t>(k);
      if (fin) {
        const bool cos_jump = prev_cos - l.metrics.cos >= 2 * margin && cos_bad(l, t);
        const bool rmse_jump = l.metrics.rmse - prev_rmse >= t.rmse_max &&
                               l.metrics.rmse >= 2 * prev_rmse && rmse_bad(l, t);
        if (cos_jump || rmse_jump) return static_cast<std::int64_t>(k);
      }
    }
    prev_cos = l.metrics.cos;
    prev_rmse = l.metrics.rmse;
    prev_finite = fin;
  }
  return -1;
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

  if (const std::int64_t j = find_jump(c, t); j >= 0) {
    const layer_result& l = *c[static_cast<std::size_t>(j)];
    d.what = diagnosis::kind::jump;
    d.at = l.index;
    if (j == 0) {
      d.text = "the first compared layer " + layer_label(l) + " already differs (" +
               suspect_reason(l, t) +
               "): check the preprocessing (normalisation, mean/std, input format) first";
    } else {
      const layer_result& p = *c[static_cast<std::size_t>(j - 1)];
      d.text = "metrics change abruptly at " + layer_label(l) + ": COS " +
               fmt("%f", p.metrics.cos) + " -> " + fmt("%f", l.metrics.cos) + ", RMSE " +
               fmt("%f", p.metrics.rmse) + " -> " + fmt("%f", l.metrics.rmse) + " (after " +
               layer_label(p) + "); precision is lost at this layer";
    }
    if (static_cast<std::size_t>(j) != f) {
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
    return;
  }
  d.what = diagnosis::kind::drift;
  d.text =
      "metrics degrade gradually, without an abrupt change; the first layer past a "
      "threshold is " +
      layer_label(fl) + " (" + suspect_reason(fl, t) + "): look there first";
}

}  // namespace detail

}  // namespace sigdump
