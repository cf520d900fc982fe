// The INT16 advice (rules in docs/diagnosis.md): the input of the
// convolution at, or feeding, the layer where precision breaks comes first
// (followed back through the //in records, else the execution order); then
// the other suspect convolutions, those that lose the most themselves first.
// When the input already differs, what to check instead. Also the 8-bit
// tensors the quant params show with a min/max range over 20, and the
// [CONV_CONFIG] section of an input_config.ini brought up to date.
#include "sigdump/advice.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <string>
#include <unordered_map>

#include "sigdump/trim.h"
#include "summary_parts.h"

namespace sigdump {

const char* advice_kind_name(advice::kind k) noexcept {
  switch (k) {
    case advice::kind::none: return "none";
    case advice::kind::int16: return "int16";
    case advice::kind::preprocessing: return "preprocessing";
  }
  return "none";
}

namespace {

bool is_conv(const std::string& op) { return op == "CONV_2D" || op == "DEPTHWISE_CONV_2D"; }

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// The sample's records read as a graph: an op's inputs are the //in records
// just before its //out record; a tensor's producer is the latest earlier
// //out record of that name.
class graph {
 public:
  explicit graph(const std::vector<record>& recs) : recs_(recs) {
    for (std::uint32_t i = 0; i < recs.size(); ++i) {
      const record& r = recs[i];
      if (r.kind == record_kind::in && r.port == 0 && r.op_index >= 0) {
        first_input_.try_emplace(r.op_index, i);
      }
    }
  }

  // Non-constant input tensors of the op whose output record is i.
  std::vector<std::string> inputs(std::uint32_t i) const {
    std::vector<std::string> out;
    for (std::uint32_t j = i; j-- > 0;) {
      const record& r = recs_[j];
      if (r.kind != record_kind::in || r.op_index != recs_[i].op_index) break;
      if (!r.constant) out.push_back(r.name);
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

  // The first input of the op whose output record is i ("//in 0"), or empty.
  std::string first_input(std::uint32_t i) const {
    for (std::uint32_t j = i; j-- > 0;) {
      const record& r = recs_[j];
      if (r.kind != record_kind::in || r.op_index != recs_[i].op_index) break;
      if (r.port == 0 && !r.constant) return r.name;
    }
    if (auto it = first_input_.find(recs_[i].op_index);
        recs_[i].op_index >= 0 && it != first_input_.end()) {
      return recs_[it->second].name;
    }
    return {};
  }

  std::int64_t producer(const std::string& name, std::uint32_t before) const {
    for (std::uint32_t j = before; j-- > 0;) {
      if (recs_[j].kind == record_kind::out && !recs_[j].constant && recs_[j].name == name) {
        return j;
      }
    }
    return -1;
  }

  std::int64_t previous_output(std::uint32_t before) const {
    for (std::uint32_t j = before; j-- > 0;) {
      if (recs_[j].kind == record_kind::out && !recs_[j].constant) return j;
    }
    return -1;
  }

  std::int64_t previous_conv(std::uint32_t before) const {
    for (std::uint32_t j = before; j-- > 0;) {
      if (recs_[j].kind == record_kind::out && !recs_[j].constant && is_conv(recs_[j].op_type)) {
        return j;
      }
    }
    return -1;
  }

  // The convolutions whose outputs reach record i: i itself when it is one;
  // else through its inputs' producers, or, without //in records, the
  // nearest earlier convolution (`guess` set).
  void convs_feeding(std::uint32_t i, std::vector<std::uint32_t>& out,
                     std::set<std::uint32_t>& seen, bool& guess, int depth = 0) const {
    if (!seen.insert(i).second || depth > 64) return;
    if (is_conv(recs_[i].op_type)) {
      if (std::find(out.begin(), out.end(), i) == out.end()) out.push_back(i);
      return;
    }
    const auto ins = inputs(i);
    if (ins.empty()) {
      if (const std::int64_t p = previous_conv(i); p >= 0) {
        guess = true;
        convs_feeding(static_cast<std::uint32_t>(p), out, seen, guess, depth + 1);
      }
      return;
    }
    for (const std::string& name : ins) {
      if (const std::int64_t p = producer(name, i); p >= 0) {
        convs_feeding(static_cast<std::uint32_t>(p), out, seen, guess, depth + 1);
      }
    }
  }

 private:
  const std::vector<record>& recs_;
  // The //in 0 record of each op (by op_index): its name is read when asked.
  std::unordered_map<std::int64_t, std::uint32_t> first_input_;
};

std::string metrics_text(const layer_result& l) {
  return "COS " + fmt("%f", l.metrics.cos) + ", RMSE " + fmt("%f", l.metrics.rmse);
}

}  // namespace

void limit_advice(advice& a, std::size_t more) {
  std::size_t roots = 0;
  while (roots < a.ranked.size() && a.ranked[roots].root) ++roots;
  a.shown = std::min(a.ranked.size(), roots + std::min(more, a.ranked.size() - roots));
  a.tensor_arrays.clear();
  a.input_config.clear();
  a.text.clear();
  for (std::size_t i = 0; i < a.shown; ++i) a.tensor_arrays.push_back(a.ranked[i].tensor);
  std::string wide;
  for (const auto& n : a.wide_range_8bit) wide += (wide.empty() ? "" : ", ") + n;
  if (!wide.empty()) {
    wide = "8-bit tensors with a min/max range over 20 (candidates for INT16): " + wide + "\n";
  }
  std::string notes;
  for (const auto& n : a.notes) notes += "  " + n + "\n";
  if (a.what == advice::kind::preprocessing) {
    a.text = a.root + "\n" + wide;
    return;
  }
  if (a.ranked.empty()) {
    if (!notes.empty() || !a.root.empty()) {
      a.text =
          "no INT16 candidate" + (a.root.empty() ? std::string(":") : ": " + a.root) + "\n" + notes;
    }
    a.text += wide;
    return;
  }
  std::string joined;
  for (const auto& n : a.tensor_arrays) joined += (joined.empty() ? "" : ",") + n;
  a.input_config = "[CONV_CONFIG]\ntensor_arrays='" + joined + "';\n";
  a.text = a.root + "\n";
  a.text +=
      "quantize these inputs as INT16, the root cause first (the guide: fix the first, "
      "compare again):\n";
  for (std::size_t i = 0; i < a.shown; ++i) {
    const advice_entry& e = a.ranked[i];
    a.text += "  " + std::to_string(i + 1) + ". " + e.tensor + "  (" + e.why + ")\n";
  }
  a.text += notes;
  if (a.more() > 0) {
    a.text += std::to_string(a.more()) +
              " more suspect convolution(s) not listed: '--advice all' lists them\n";
  }
  if (a.all_int16) {
    a.text += "the suspect convolutions are " + std::to_string(a.ranked.size()) + " of the " +
              std::to_string(a.convolutions) +
              " convolutions: input_format=ALL_INT16; (every convolution) is the honest advice\n";
  }
  a.text += wide;
  a.text +=
      "paste into input_config.ini (or let --write-input-config FILE merge it; "
      "input_format=ALL_INT16; does every convolution):\n" +
      a.input_config;
}

namespace detail {

void advise(compare_report& report, const dump_file& sample,
            const std::vector<quant_param>* quant_params) {
  advice& a = report.advice;
  a = {};
  const auto& recs = sample.records();
  const thresholds& t = report.thresholds;
  std::int64_t first_conv = -1;
  for (const record& r : recs) {
    if (r.kind != record_kind::out || r.constant || !is_conv(r.op_type)) continue;
    if (first_conv < 0) first_conv = r.index;
    ++a.convolutions;
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
  std::unordered_map<std::uint32_t, const layer_result*> by_record;
  by_record.reserve(report.layers.size());
  const layer_result* root = nullptr;
  for (const layer_result& l : report.layers) {
    if (l.error.empty()) by_record.try_emplace(l.sample_record, &l);
    if (static_cast<std::int64_t>(l.index) == report.diagnosis.at) root = &l;
  }
  const diagnosis& d = report.diagnosis;
  if (d.what == diagnosis::kind::none || !root) {
    limit_advice(a, advice_more_default);
    return;
  }
  a.root_layer = root->index;
  if (d.preprocessing) {
    a.what = advice::kind::preprocessing;
    a.root =
        "no INT16 advice: the first compared layer " + detail::layer_label(*root) +
        " already differs, so the input is prepared differently for the two models and INT16 "
        "on a convolution will not fix that. Check, in this order:\n"
        "  - mean/std: the float model's normalisation against mean_red, mean_green, mean_blue "
        "and std_value in the [INPUT_CONFIG] section of input_config.ini\n"
        "  - the input format: input_formats and training_input_formats in [INPUT_CONFIG] "
        "(RGB/BGR order, GRAY, YUV), and the layout the benchmark was dumped in\n"
        "  - the picture itself: the same image, size and preprocessing function for both runs";
    limit_advice(a, advice_more_default);
    return;
  }

  // Built only for a run with a root to advise on: the daemon asks at each
  // run's end, and a graph of 30,000 records takes milliseconds.
  const graph g(recs);
  const double margin = 1.0 - t.cos_min;
  std::set<std::string> chosen;
  bool skipped_first = false;
  // One candidate for the convolution whose output record is i.
  auto make_entry = [&](std::uint32_t i, bool is_root, bool walked_guess) -> bool {
    const record& r = recs[i];
    const auto lit = by_record.find(i);
    const layer_result* out = lit == by_record.end() ? nullptr : lit->second;
    const std::string conv = out ? detail::layer_label(*out) : r.name;
    if (static_cast<std::int64_t>(i) == first_conv) {
      if (skipped_first) return false;
      skipped_first = true;
      a.notes.push_back("skipped " + conv +
                        ": the network's first convolution (INT16 input has no effect there)");
      return false;
    }
    advice_entry e;
    e.root = is_root;
    e.conv = r.name;
    e.layer = out ? static_cast<std::int64_t>(out->index) : -1;
    e.tensor = g.first_input(i);
    if (e.tensor.empty()) {
      if (const std::int64_t p = g.previous_output(i); p >= 0) {
        e.tensor = recs[static_cast<std::size_t>(p)].name;
        e.guess = true;
      }
    }
    if (e.tensor.empty()) {
      a.notes.push_back(conv + ": no input tensor known (no //in 0 record, no earlier layer)");
      return false;
    }
    if (!chosen.insert(e.tensor).second) return false;
    const layer_result* in = nullptr;
    if (const std::int64_t p = g.producer(e.tensor, i); p >= 0) {
      if (auto it = by_record.find(static_cast<std::uint32_t>(p)); it != by_record.end()) {
        in = it->second;
      }
    }
    if (is_root) {
      e.why = "root cause: input of " + conv +
              (out && out == root ? ", where precision breaks"
                                  : ", which feeds " + detail::layer_label(*root)) +
              (walked_guess ? " (a guess: the nearest earlier convolution)" : "");
    } else {
      e.why = "input of " + conv + (out ? ", suspect: " + metrics_text(*out) : "");
    }
    if (in && out) {
      e.why += "; across it COS " + fmt("%f", in->metrics.cos) + " -> " +
               fmt("%f", out->metrics.cos) + ", RMSE " + fmt("%f", in->metrics.rmse) + " -> " +
               fmt("%f", out->metrics.rmse);
    }
    if (e.guess) e.why += "; a guess: previous layer's output, no //in 0 record";
    if (wide.contains(e.tensor)) e.why += "; 8-bit with a min/max range over 20: a prime candidate";
    a.ranked.push_back(std::move(e));
    return true;
  };

  // The root cause: the convolution(s) at or feeding the diagnosed layer.
  const std::string kind = diagnosis_kind_name(d.what);
  std::vector<std::uint32_t> feeding;
  bool walked_guess = false;
  if (root->sample_record < recs.size()) {
    std::set<std::uint32_t> seen;
    g.convs_feeding(root->sample_record, feeding, seen, walked_guess);
  }
  // Of several feeding convolutions, the worse output first.
  auto cos_of = [&](std::uint32_t i) {
    auto it = by_record.find(i);
    return it == by_record.end() || !std::isfinite(it->second->metrics.cos)
               ? 2.0
               : it->second->metrics.cos;
  };
  std::stable_sort(feeding.begin(), feeding.end(),
                   [&](std::uint32_t x, std::uint32_t y) { return cos_of(x) < cos_of(y); });
  const bool root_is_conv = is_conv(root->op);
  a.root = "precision breaks at " + detail::layer_label(*root) + " (" + kind + ")";
  if (root_is_conv) {
    a.root += ", a convolution";
  } else if (feeding.empty()) {
    a.root += ", " + (root->op.empty() ? std::string("not a convolution") : "a " + root->op) +
              ", and no convolution feeds it: the guide suggests INT16 on the convolutions "
              "around it";
  } else {
    std::string names;
    for (std::uint32_t i : feeding) {
      auto it = by_record.find(i);
      const std::string n = it == by_record.end() ? recs[i].name
                                                  : detail::layer_label(*it->second) + " (" +
                                                        metrics_text(*it->second) + ")";
      names += (names.empty() ? "" : ", ") + n;
    }
    a.root += ", " + (root->op.empty() ? std::string("not a convolution") : "a " + root->op) +
              ", not a convolution: its input" + (feeding.size() > 1 ? "s come" : " comes") +
              " from the convolution" + (feeding.size() > 1 ? "s " : " ") + names +
              (walked_guess ? " (no //in records: the nearest earlier convolution in execution "
                              "order, a guess)"
                            : " (followed back through the //in records)") +
              "; INT16 on " + (feeding.size() > 1 ? "their inputs" : "its input") + " comes first";
  }
  for (std::uint32_t i : feeding) make_entry(i, true, walked_guess && !root_is_conv);

  // The other suspect convolutions, those that lose the most themselves
  // first: COS fall across it in margins plus RMSE rise in thresholds.
  const std::size_t roots = a.ranked.size();
  std::vector<double> score;
  for (const layer_result& l : report.layers) {
    if (!l.suspect || !l.error.empty() || !is_conv(l.op) || l.sample_record >= recs.size()) {
      continue;
    }
    if (!make_entry(l.sample_record, false, false)) continue;
    const layer_result* in = nullptr;
    if (const std::int64_t p = g.producer(a.ranked.back().tensor, l.sample_record); p >= 0) {
      if (auto it = by_record.find(static_cast<std::uint32_t>(p)); it != by_record.end()) {
        in = it->second;
      }
    }
    double s = 0;
    if (in && std::isfinite(in->metrics.cos) && std::isfinite(l.metrics.cos)) {
      s = (in->metrics.cos - l.metrics.cos) / margin +
          (l.metrics.rmse - in->metrics.rmse) / t.rmse_max;
    } else {
      s = std::numeric_limits<double>::infinity();  // non-finite output, or input unknown
      if (in && std::isfinite(l.metrics.cos)) s = 0;
    }
    if (s <= 0) a.ranked.back().why += "; loses nothing itself: likely inherits the damage";
    if (wide.contains(a.ranked.back().tensor)) s += 1e6;  // the guide's prime candidates
    score.push_back(s);
  }
  std::vector<std::size_t> order(score.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return score[x] > score[y]; });
  std::vector<advice_entry> rest;
  for (std::size_t i : order) rest.push_back(std::move(a.ranked[roots + i]));
  a.ranked.resize(roots);
  for (auto& e : rest) a.ranked.push_back(std::move(e));

  const std::size_t eligible = a.convolutions - (first_conv >= 0 ? 1 : 0);
  a.all_int16 = a.ranked.size() >= 2 && 4 * a.ranked.size() >= 3 * eligible;
  if (!a.ranked.empty()) a.what = advice::kind::int16;
  limit_advice(a, advice_more_default);
}

}  // namespace detail

namespace {

// "tensor_arrays='a,b';" -> {"a", "b"}
std::vector<std::string> split_tensor_arrays(std::string v) {
  v = trim(std::move(v));
  while (!v.empty() && (v.back() == ';' || v.back() == ' ' || v.back() == '\t')) v.pop_back();
  if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"') && v.back() == v.front()) {
    v = v.substr(1, v.size() - 2);
  }
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= v.size()) {
    const std::size_t comma = std::min(v.find(',', pos), v.size());
    std::string n = trim(v.substr(pos, comma - pos));
    if (!n.empty()) out.push_back(std::move(n));
    pos = comma + 1;
  }
  return out;
}

std::string upper(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

}  // namespace

std::string merge_conv_config(std::string_view ini, const std::vector<std::string>& tensors,
                              std::vector<std::string>* added) {
  std::vector<std::string> lines;
  for (std::size_t pos = 0; pos < ini.size();) {
    const std::size_t nl = ini.find('\n', pos);
    const std::size_t end = nl == std::string_view::npos ? ini.size() : nl;
    lines.emplace_back(ini.substr(pos, end - pos));
    pos = end + 1;
  }
  const bool crlf = !lines.empty() && !lines.front().empty() && lines.front().back() == '\r';
  const std::string eol = crlf ? "\r" : "";
  // The [CONV_CONFIG] section: its header line and the line after its last one.
  std::int64_t header = -1, key = -1;
  std::size_t section_end = lines.size();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string l = trim(lines[i]);
    if (l.starts_with("[")) {
      if (header >= 0) {
        section_end = i;
        break;
      }
      if (upper(l) == "[CONV_CONFIG]") header = static_cast<std::int64_t>(i);
      continue;
    }
    if (header >= 0 && key < 0) {
      const std::size_t eq = l.find('=');
      if (eq != std::string::npos && trim(l.substr(0, eq)) == "tensor_arrays") {
        key = static_cast<std::int64_t>(i);
      }
    }
  }
  std::vector<std::string> names;
  if (key >= 0) {
    const std::string& l = lines[static_cast<std::size_t>(key)];
    names = split_tensor_arrays(l.substr(l.find('=') + 1));
  }
  for (const std::string& n : tensors) {
    if (std::find(names.begin(), names.end(), n) != names.end()) continue;
    names.push_back(n);
    if (added) added->push_back(n);
  }
  std::string joined;
  for (const auto& n : names) joined += (joined.empty() ? "" : ",") + n;
  const std::string line = "tensor_arrays='" + joined + "';" + eol;
  if (key >= 0) {
    lines[static_cast<std::size_t>(key)] = line;
  } else if (header >= 0) {
    // After the section's last non-blank line.
    std::size_t at = section_end;
    while (at > static_cast<std::size_t>(header) + 1 && trim(lines[at - 1]).empty()) --at;
    lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(at), line);
  } else {
    while (!lines.empty() && trim(lines.back()).empty()) lines.pop_back();
    if (!lines.empty()) lines.push_back(eol);
    lines.push_back("[CONV_CONFIG]" + eol);
    lines.push_back(line);
  }
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace sigdump
