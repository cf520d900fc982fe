// Reading the numbers the way the vendor guide does: the first bad layer,
// jump / drift / oscillation (rules in docs/diagnosis.md) and the INT16
// advice for suspect convolutions.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <unordered_map>

#include "sigdump/compare.h"

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

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string label(const layer_result& l) { return std::to_string(l.index) + ") " + l.name; }

bool cos_bad(const layer_result& l, const thresholds& t) { return !(l.metrics.cos >= t.cos_min); }
bool rmse_bad(const layer_result& l, const thresholds& t) {
  return !(l.metrics.rmse <= t.rmse_max);
}

std::string suspect_reason(const layer_result& l, const thresholds& t) {
  std::string r;
  if (cos_bad(l, t)) r = "COS " + fmt("%f", l.metrics.cos) + " < " + fmt("%g", t.cos_min);
  if (rmse_bad(l, t)) {
    if (!r.empty()) r += ", ";
    r += "RMSE " + fmt("%f", l.metrics.rmse) + " > " + fmt("%g", t.rmse_max);
  }
  return r;
}

bool finite_metrics(const layer_result& l) {
  return std::isfinite(l.metrics.cos) && std::isfinite(l.metrics.rmse);
}

bool is_conv(const std::string& op) { return op == "CONV_2D" || op == "DEPTHWISE_CONV_2D"; }

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
      d.text = "the first compared layer " + label(l) + " already differs (" +
               suspect_reason(l, t) +
               "): check the preprocessing (normalisation, mean/std, input format) first";
    } else {
      const layer_result& p = *c[static_cast<std::size_t>(j - 1)];
      d.text = "metrics change abruptly at " + label(l) + ": COS " + fmt("%f", p.metrics.cos) +
               " -> " + fmt("%f", l.metrics.cos) + ", RMSE " + fmt("%f", p.metrics.rmse) + " -> " +
               fmt("%f", l.metrics.rmse) + " (after " + label(p) +
               "); precision is lost at this layer";
    }
    if (static_cast<std::size_t>(j) != f) {
      d.text += "; the first layer past a threshold is " + label(fl);
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
             ") from " + label(fl) +
             " on without a clear break: try the training quantizer "
             "(SGS_IPU_Toolchain/Scripts/calibrator/torch_calibrator.py, level Q2) and "
             "compare again";
    return;
  }
  d.what = diagnosis::kind::drift;
  d.text =
      "metrics degrade gradually, without an abrupt change; the first layer past a "
      "threshold is " +
      label(fl) + " (" + suspect_reason(fl, t) + "): look there first";
}

void advise(compare_report& report, const dump_file& sample,
            const std::vector<quant_param>* quant_params) {
  advice& a = report.advice;
  a = {};
  const auto& recs = sample.records();
  // First input of each op, from its "//in 0" record; and the network's first convolution.
  std::unordered_map<std::int64_t, std::string> first_input;
  std::int64_t first_conv_op = -1;
  bool have_first_conv = false;
  for (const record& r : recs) {
    if (r.kind == record_kind::in && r.port == 0 && r.op_index >= 0) {
      first_input.try_emplace(r.op_index, r.name);
    }
    if (!have_first_conv && r.kind == record_kind::out && !r.constant && is_conv(r.op_type)) {
      first_conv_op = r.op_index;
      have_first_conv = true;
    }
  }
  std::set<std::string> wide;
  if (quant_params) {
    for (const quant_param& q : *quant_params) {
      if (q.bit != 8 || q.min.empty() || q.max.empty()) continue;
      const double lo = *std::min_element(q.min.begin(), q.min.end());
      const double hi = *std::max_element(q.max.begin(), q.max.end());
      if (hi - lo > 20 && wide.insert(q.name).second) a.wide_range_8bit.push_back(q.name);
    }
  }
  std::set<std::string> chosen;
  std::string lines;
  for (const layer_result& l : report.layers) {
    if (!l.suspect || !l.error.empty() || !is_conv(l.op)) continue;
    if (l.sample_record >= recs.size()) continue;
    const record& r = recs[l.sample_record];
    if (have_first_conv && r.op_index == first_conv_op) {
      lines += "  skipped " + label(l) +
               ": the network's first convolution (INT16 input has no effect there)\n";
      continue;
    }
    std::string input;
    bool guess = false;
    if (auto it = first_input.find(r.op_index); r.op_index >= 0 && it != first_input.end()) {
      input = it->second;
    } else {
      for (std::uint32_t i = r.index; i-- > 0;) {
        if (recs[i].kind == record_kind::out && !recs[i].constant) {
          input = recs[i].name;
          guess = true;
          break;
        }
      }
    }
    if (input.empty()) {
      lines += "  " + label(l) + ": no input tensor known (no //in 0 record, no earlier layer)\n";
      continue;
    }
    if (!chosen.insert(input).second) continue;
    a.tensor_arrays.push_back(input);
    lines += "  " + input + "  (input of " + label(l) +
             (guess ? "; a guess: previous layer's "
                      "output, no //in 0 record)"
                    : ")");
    if (wide.contains(input)) lines += "  8-bit with a min/max range over 20: a prime candidate";
    lines += '\n';
  }
  if (!a.tensor_arrays.empty()) {
    std::string joined;
    for (const auto& n : a.tensor_arrays) joined += (joined.empty() ? "" : ",") + n;
    a.input_config = "[CONV_CONFIG]\ntensor_arrays='" + joined + "';\n";
    a.text = "quantize the input of each suspect convolution as INT16:\n" + lines +
             "paste into input_config.ini (or use input_format=ALL_INT16; for every "
             "convolution):\n" +
             a.input_config;
  } else if (!lines.empty()) {
    a.text = "no INT16 candidate:\n" + lines;
  }
  if (!a.wide_range_8bit.empty()) {
    std::string joined;
    for (const auto& n : a.wide_range_8bit) joined += (joined.empty() ? "" : ", ") + n;
    a.text += "8-bit tensors with a min/max range over 20 (candidates for INT16): " + joined + "\n";
  }
}

}  // namespace

void summarize(compare_report& report, const dump_file& sample,
               const std::vector<quant_param>* quant_params) {
  const thresholds& t = report.thresholds;
  std::vector<const layer_result*> comparable;
  std::int64_t first = -1;
  for (const layer_result& l : report.layers) {
    // All-zero pairs are identical but carry the vendor's COS 0: they would
    // read as a collapse to the trend rules.
    if (!l.error.empty() || l.metrics.all_zero) continue;
    if (l.suspect && first < 0) first = static_cast<std::int64_t>(comparable.size());
    comparable.push_back(&l);
  }
  report.first_bad.reset();
  if (first >= 0) {
    const layer_result& l = *comparable[static_cast<std::size_t>(first)];
    report.first_bad = first_bad_layer{l.index, l.name, suspect_reason(l, t)};
  } else {
    for (const layer_result& l : report.layers) {
      if (l.error.empty()) continue;
      report.first_bad = first_bad_layer{l.index, l.name, "not comparable: " + l.error};
      break;
    }
  }
  diagnose(report, comparable, first);
  advise(report, sample, quant_params);
}

}  // namespace sigdump
