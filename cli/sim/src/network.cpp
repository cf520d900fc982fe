// Running the network: the float reference, or the fixed-point pipeline
// calibrated on it, turned into the tensors a dump shows; and the INT16
// choice checked against the network's convolutions.
#include "sigdump/sim/network.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fixed_inference.h"
#include "float_inference.h"
#include "graph.h"

namespace sigdump::sim {

using detail::add_q;
using detail::avgpool_q;
using detail::calibrate;
using detail::conv_q;
using detail::fc_q;
using detail::ftensor;
using detail::maxpool_q;
using detail::network;
using detail::op_def;
using detail::op_kind;
using detail::qparams;
using detail::qtensor;
using detail::quantize_value;
using detail::quantize_weights;
using detail::qweights;
using detail::relu_q;
using detail::run_float;
using detail::softmax_q;

namespace {

sim_tensor float_tensor(const std::string& name, const ftensor& t) {
  sim_tensor s;
  s.name = name;
  s.shape = t.shape;
  s.real = t.v;
  return s;
}

sim_tensor fixed_tensor(const std::string& name, std::vector<std::int64_t> shape,
                        std::vector<std::int32_t> q, dtype type, double scale, std::int64_t zero,
                        bool constant) {
  sim_tensor s;
  s.name = name;
  s.shape = std::move(shape);
  s.constant = constant;
  s.type = type;
  s.scale = scale;
  s.zero_point = zero;
  s.real.resize(q.size());
  for (std::size_t i = 0; i < q.size(); ++i)
    s.real[i] = static_cast<float>(static_cast<double>(q[i] - zero) * scale);
  s.q = std::move(q);
  return s;
}

sim_tensor fixed_tensor(const std::string& name, const qtensor& t) {
  return fixed_tensor(name, t.shape, t.q, t.p.type, t.p.scale, t.p.zero, false);
}

std::vector<std::int64_t> bias_shape(const op_def& op) { return {op.out_c}; }

}  // namespace

std::vector<std::string> tensor_names() {
  std::vector<std::string> out;
  for (const auto& op : network()) out.push_back(op.output);
  return out;
}

std::vector<std::string> conv_input_tensors() {
  std::vector<std::string> out;
  for (const auto& op : network())
    if (op.kind == op_kind::conv || op.kind == op_kind::dwconv) out.push_back(op.inputs[0]);
  return out;
}

std::vector<sim_layer> run_network(const sim_config& config) {
  const auto ref = run_float();
  std::vector<sim_layer> layers;
  const auto& net = network();
  layers.reserve(net.size());

  if (!config.fixed) {
    for (std::size_t i = 0; i < net.size(); ++i) {
      const op_def& op = net[i];
      sim_layer l;
      l.op_index = static_cast<std::int64_t>(i);
      l.op_type = op.type;
      for (const auto& in : op.inputs) l.inputs.push_back(float_tensor(in, ref.at(in)));
      if (!op.w.empty()) {
        sim_tensor w = float_tensor(op.layer + "/weights", {op.w_shape, op.w});
        sim_tensor b = float_tensor(op.layer + "/bias", {bias_shape(op), op.b});
        w.constant = b.constant = true;
        l.inputs.push_back(std::move(w));
        l.inputs.push_back(std::move(b));
      }
      l.output = float_tensor(op.output, ref.at(op.output));
      layers.push_back(std::move(l));
    }
    return layers;
  }

  // INT16 applies only to inputs of convolutions after the first.
  const auto conv_inputs = conv_input_tensors();
  std::set<std::string> int16;
  for (std::size_t i = 1; i < conv_inputs.size(); ++i)
    if (config.int16.contains(conv_inputs[i])) int16.insert(conv_inputs[i]);

  std::map<std::string, qtensor> t;
  for (std::size_t i = 0; i < net.size(); ++i) {
    const op_def& op = net[i];
    const qparams op_p = calibrate(ref.at(op.output).v, int16.contains(op.output));
    sim_layer l;
    l.op_index = static_cast<std::int64_t>(i);
    l.op_type = op.type;
    for (const auto& in : op.inputs) l.inputs.push_back(fixed_tensor(in, t.at(in)));
    qtensor out;
    switch (op.kind) {
      case op_kind::input: {
        const auto& v = ref.at(op.output);
        out = {v.shape, std::vector<std::int32_t>(v.v.size()), op_p};
        for (std::size_t k = 0; k < v.v.size(); ++k) out.q[k] = quantize_value(v.v[k], op_p);
        break;
      }
      case op_kind::conv:
      case op_kind::dwconv:
      case op_kind::fc: {
        const qtensor& x = t.at(op.inputs[0]);
        const qweights qw = quantize_weights(op, x.p.scale);
        out = op.kind == op_kind::fc ? fc_q(x, op, qw, op_p) : conv_q(x, op, qw, op_p);
        l.inputs.push_back(
            fixed_tensor(op.layer + "/weights", op.w_shape, qw.w, dtype::s8, qw.w_scale, 0, true));
        l.inputs.push_back(fixed_tensor(op.layer + "/bias", bias_shape(op), qw.b, dtype::s32,
                                        qw.b_scale, 0, true));
        break;
      }
      case op_kind::add: out = add_q(t.at(op.inputs[0]), t.at(op.inputs[1]), op_p); break;
      case op_kind::relu: out = relu_q(t.at(op.inputs[0]), op_p); break;
      case op_kind::maxpool: out = maxpool_q(t.at(op.inputs[0]), op.k, op_p); break;
      case op_kind::avgpool: out = avgpool_q(t.at(op.inputs[0]), op_p); break;
      case op_kind::softmax: out = softmax_q(t.at(op.inputs[0]), op_p); break;
    }
    l.output = fixed_tensor(op.output, out);
    t[op.output] = std::move(out);
    layers.push_back(std::move(l));
  }
  return layers;
}

result<int16_choice> resolve_int16(const std::vector<std::string>& names, bool all_int16) {
  const auto conv_inputs = conv_input_tensors();
  const auto outputs = tensor_names();
  int16_choice choice;
  if (all_int16) choice.applied.insert(conv_inputs.begin() + 1, conv_inputs.end());
  for (const auto& name : names) {
    if (std::find(outputs.begin(), outputs.end(), name) == outputs.end()) {
      std::string known;
      for (std::size_t i = 1; i < conv_inputs.size(); ++i)
        known += (i > 1 ? ", " : "") + conv_inputs[i];
      return make_error(errc::usage, {}, no_record, no_offset,
                        "no tensor named '" + name +
                            "' in the simulated network; convolution inputs are: " + known);
    }
    if (name == conv_inputs.front()) {
      choice.warnings.push_back(
          "'" + name + "' is the input of the first convolution: INT16 has no effect there");
    } else if (std::find(conv_inputs.begin(), conv_inputs.end(), name) == conv_inputs.end()) {
      choice.warnings.push_back("'" + name +
                                "' is not the input of a convolution: INT16 has no effect there");
    } else {
      choice.applied.insert(name);
    }
  }
  return choice;
}

}  // namespace sigdump::sim
