// The INT16 advice for suspect convolutions: the input tensor of each one
// (from its "//in 0" record, else a guess: the previous layer's output), as
// a ready-to-paste [CONV_CONFIG] block, and the 8-bit tensors the quant
// params show with a min/max range over 20.
#include "sigdump/advice.h"

#include <algorithm>
#include <set>
#include <string>
#include <unordered_map>

#include "summary_parts.h"

namespace sigdump::detail {

namespace {

bool is_conv(const std::string& op) { return op == "CONV_2D" || op == "DEPTHWISE_CONV_2D"; }

}  // namespace

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
      lines += "  skipped " + layer_label(l) +
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
      lines +=
          "  " + layer_label(l) + ": no input tensor known (no //in 0 record, no earlier layer)\n";
      continue;
    }
    if (!chosen.insert(input).second) continue;
    a.tensor_arrays.push_back(input);
    lines += "  " + input + "  (input of " + layer_label(l) +
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

}  // namespace sigdump::detail
