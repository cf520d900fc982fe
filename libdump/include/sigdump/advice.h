// The advice for the layer where precision breaks: which convolution
// inputs to quantize as INT16 (the vendor's [CONV_CONFIG] tensor_arrays),
// the root cause first, or what to check when the input already differs;
// and which 8-bit tensors the quant params show with a wide range.
// summarize() (compare.h) fills it; the rules are in docs/diagnosis.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace sigdump {

/* One INT16 candidate: a convolution's first input tensor. */
struct advice_entry {
  std::string tensor;       // what tensor_arrays lists
  std::int64_t layer = -1;  // report index of the convolution's output, -1: not compared
  std::string conv;         // the convolution's output tensor
  std::string why;          // one line
  bool root = false;        // the convolution at, or feeding, the layer where precision breaks
  bool guess = false;       // no //in 0 record: the previous layer's output was taken
};

/* How many candidates after the root cause the advice shows by default,
   and the value that shows them all. */
inline constexpr std::size_t advice_more_default = 4;
inline constexpr std::size_t advice_more_all = std::numeric_limits<std::size_t>::max();

struct advice {
  enum class kind : std::uint8_t { none, int16, preprocessing } what = kind::none;
  std::vector<std::string> tensor_arrays;    // the tensors shown: ranked[0, shown)
  std::string input_config;                  // ready-to-paste [CONV_CONFIG] block of them
  std::string text;                          // explanation, marks guesses
  std::vector<std::string> wide_range_8bit;  // from quant params: 8-bit, max-min > 20

  std::vector<advice_entry> ranked;  // every candidate, the root cause first
  std::size_t shown = 0;             // how many of `ranked` tensor_arrays holds
  std::string root;                  // what happened at the layer where precision breaks
  std::int64_t root_layer = -1;      // that layer (report index)
  std::size_t convolutions = 0;      // convolution outputs in the sample
  bool all_int16 = false;            // candidates are (nearly) every convolution
  std::vector<std::string> notes;    // skipped convolutions, unknown inputs

  std::size_t more() const noexcept { return ranked.size() - shown; }
};
const char* advice_kind_name(advice::kind k) noexcept;

/* Shows the root cause and up to `more` further candidates (advice_more_all:
   every one): sets shown, tensor_arrays, input_config and text. summarize()
   uses advice_more_default. */
void limit_advice(advice& a, std::size_t more);

/* The text of an input_config.ini with `tensors` added to the
   tensor_arrays of its [CONV_CONFIG] section: names already there stay
   first and in place (an earlier round of advice), new ones follow; the
   section and the key are created when missing; every other line and
   section is kept as it is. `added` (optional) receives the new names. */
std::string merge_conv_config(std::string_view ini, const std::vector<std::string>& tensors,
                              std::vector<std::string>* added = nullptr);

}  // namespace sigdump
