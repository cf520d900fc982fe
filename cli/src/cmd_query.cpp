// `sigdump query`: one tensor from the live daemon: header, statistics,
// metrics against the benchmark, where its bytes lie, a slice of values.
#include <charconv>
#include <cstdio>
#include <iostream>

#include "command.h"
#include "live_common.h"
#include "sigdump/json_util.h"

namespace sigdump::cli {
namespace {

constexpr const char* query_help =
    R"(usage: sigdump query NAME [--run R] [--pair P] [--path FILE] [--values A:B]
                    [--occurrence K] [--channels] [--json] [--socket PATH]

Asks sigdumpd for one tensor of a dump it watches, by name (exact, then the
vendor's sanitized form with '/' -> '_'): its record header (type, shape,
scale, zero point), statistics (min, max, mean, std, zeros, NaN, Inf), its
metrics against the benchmark when it belongs to a pair (MSE, COS, RMSE as
the vendor computes them), a locator (file, byte offset, bytes, dtype,
shape) to map the bytes yourself, and optionally a slice of its values.
By default the current sample run of a pair whose sample holds NAME (the
pair with the newest run first), else the newest run that holds it, and the
last output record of NAME; the answer names the run, pair and file.

options:
  --run R          the tensor in run R (see 'sigdump runs')
  --pair P         the tensor in pair P's current sample run
  --path FILE      the tensor in the newest run of this dump file
  --values A:B     also print elements A up to (not including) B, at most
                   65536 of them (A: alone means A..A+16)
  --occurrence K   the K-th record of that name (0-based) instead of the last
  --channels       also compare it with its benchmark per channel (C of NHWC,
                   else the last axis): the worst channels (COS, RMSE, max
                   |a-b|), outlier channels, the elements with the largest
                   |a-b| (n,h,w,c, both values) and every channel's metrics
  --json           print the daemon's reply (docs/protocol.md, `tensor`)
  --socket PATH    daemon socket (default: $SIGDUMP_SOCKET, else
                   $XDG_RUNTIME_DIR/sigdump/sock, else /tmp/sigdump-$UID/sock)
  -h, --help       show this help

exit status: 0 found, 1 found and its metrics are suspect, 2 bad usage,
unknown tensor (the message lists the closest names), or no daemon.

examples:
  sigdump query conv3_1/linear/bn_xx
  sigdump query conv3_1/linear/bn_xx --pair mobilenet --values 0:32
  sigdump query data --path /dumps/float.bin --json
  sigdump query conv3_1/linear/bn_xx --pair mobilenet --channels
)";

bool parse_u64(std::string_view s, std::uint64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

void print_stats(simdjson::dom::element st) {
  std::printf("stats:\n");
  std::printf(
      "  count %lld  min %s  max %s  mean %s  std %s\n",
      static_cast<long long>(live::integer(st, "count").value_or(0)),
      live::general(live::num(st, "min")).c_str(), live::general(live::num(st, "max")).c_str(),
      live::general(live::num(st, "mean")).c_str(), live::general(live::num(st, "std")).c_str());
  std::printf("  zeros %lld  nan %lld  inf %lld\n",
              static_cast<long long>(live::integer(st, "zeros").value_or(0)),
              static_cast<long long>(live::integer(st, "nan").value_or(0)),
              static_cast<long long>(live::integer(st, "inf").value_or(0)));
}

bool print_metrics(simdjson::dom::element m, bool color) {
  const bool suspect = live::boolean(m, "suspect").value_or(false);
  const char* on = color && suspect ? "\033[31m" : "";
  const char* off = color && suspect ? "\033[0m" : "";
  std::printf("metrics:%s\n", suspect ? " (suspect)" : "");
  std::printf("  %sMSE: %s COS: %s RMSE: %s%s\n", on, live::fixed6(live::num(m, "mse")).c_str(),
              live::fixed6(live::num(m, "cos")).c_str(), live::fixed6(live::num(m, "rmse")).c_str(),
              off);
  const std::string bench = live::str(m, "benchmark_name");
  if (!bench.empty()) std::printf("  benchmark tensor: %s\n", bench.c_str());
  if (auto extra = live::num(m, "max_abs")) {
    std::printf("  max_abs %s  sqnr_db %s  rel_l2 %s\n", live::general(extra).c_str(),
                live::general(live::num(m, "sqnr_db")).c_str(),
                live::general(live::num(m, "rel_l2")).c_str());
  }
  const std::string err = live::str(m, "error");
  if (!err.empty()) std::printf("  not comparable: %s\n", err.c_str());
  return suspect;
}

std::string channel_line(simdjson::dom::element c) {
  return "c" + std::to_string(live::integer(c, "c").value_or(0)) + " COS " +
         live::fixed6(live::num(c, "cos")) + " RMSE " + live::fixed6(live::num(c, "rmse")) +
         " max|a-b| " + live::general(live::num(c, "max_abs"));
}

void print_channels(simdjson::dom::element ch) {
  std::printf("channels: C=%lld (axis %lld)\n",
              static_cast<long long>(live::integer(ch, "count").value_or(0)),
              static_cast<long long>(live::integer(ch, "axis").value_or(-1)));
  simdjson::dom::array arr;
  if (auto w = live::member(ch, "worst"); w && !w->get_array().get(arr)) {
    std::printf("  worst:");
    std::size_t i = 0;
    for (auto c : arr) std::printf("%s %s", i++ ? "," : "", channel_line(c).c_str());
    std::printf("\n");
  }
  if (auto o = live::member(ch, "outliers"); o && !o->get_array().get(arr) && arr.size() > 0) {
    std::printf("  outlier channels (peak > 10x the median channel's):");
    for (auto c : arr) {
      std::int64_t k = 0;
      if (!c.get_int64().get(k)) std::printf(" c%lld", static_cast<long long>(k));
    }
    std::printf("\n");
  }
  if (auto t = live::member(ch, "top"); t && !t->get_array().get(arr)) {
    std::printf("  largest |a-b| at %s:\n", live::str(ch, "order", "n,h,w,c").c_str());
    for (auto e : arr) {
      std::string at = "[";
      simdjson::dom::array xs;
      if (auto a = live::member(e, "at"); a && !a->get_array().get(xs)) {
        for (auto x : xs) {
          std::int64_t v = 0;
          if (!x.get_int64().get(v)) at += (at.size() > 1 ? "," : "") + std::to_string(v);
        }
      }
      at += "]";
      std::printf("    %-16s |a-b| %s  sample %s  benchmark %s\n", at.c_str(),
                  live::general(live::num(e, "abs_diff")).c_str(),
                  live::general(live::num(e, "sample")).c_str(),
                  live::general(live::num(e, "benchmark")).c_str());
    }
  }
  if (auto p = live::member(ch, "per_channel"); p && !p->get_array().get(arr) && arr.size() > 0) {
    std::printf("  %6s %10s %10s %12s %12s\n", "c", "COS", "RMSE", "max|a-b|", "peak");
    for (auto c : arr) {
      std::printf("  %6lld %10s %10s %12s %12s\n",
                  static_cast<long long>(live::integer(c, "c").value_or(0)),
                  live::fixed6(live::num(c, "cos")).c_str(),
                  live::fixed6(live::num(c, "rmse")).c_str(),
                  live::general(live::num(c, "max_abs")).c_str(),
                  live::general(live::num(c, "peak")).c_str());
    }
  }
}

void print_locator(simdjson::dom::element l) {
  std::printf("locator:\n");
  std::printf("  path %s\n", live::str(l, "path").c_str());
  std::printf("  offset %lld  bytes %lld  dtype %s  shape %s\n",
              static_cast<long long>(live::integer(l, "offset").value_or(0)),
              static_cast<long long>(live::integer(l, "bytes").value_or(0)),
              live::str(l, "dtype", "?").c_str(), live::str(l, "shape", "[]").c_str());
  std::printf("  scale %s  zero_point %lld  dequantize %s  inner %lld  inner_stride %lld\n",
              live::general(live::num(l, "scale")).c_str(),
              static_cast<long long>(live::integer(l, "zero_point").value_or(0)),
              live::boolean(l, "dequantize").value_or(false) ? "yes" : "no",
              static_cast<long long>(live::integer(l, "inner").value_or(0)),
              static_cast<long long>(live::integer(l, "inner_stride").value_or(0)));
}

void print_values(simdjson::dom::element v) {
  const auto first = live::integer(v, "first").value_or(0);
  simdjson::dom::array data;
  auto d = live::member(v, "data");
  if (!d || d->get_array().get(data)) return;
  std::printf("values [%lld, %lld):\n", static_cast<long long>(first),
              static_cast<long long>(first + static_cast<std::int64_t>(data.size())));
  std::size_t i = 0;
  for (auto e : data) {
    if (i % 8 == 0)
      std::printf("  %8lld:", static_cast<long long>(first + static_cast<std::int64_t>(i)));
    double x = 0;
    std::int64_t n = 0;
    if (!e.get_double().get(x)) {
      std::printf(" %12g", x);
    } else if (!e.get_int64().get(n)) {
      std::printf(" %12lld", static_cast<long long>(n));
    } else {
      std::printf(" %12s", e.is_null() ? "nan" : "?");
    }
    if (++i % 8 == 0) std::printf("\n");
  }
  if (i % 8 != 0) std::printf("\n");
}

int run_query(const std::vector<std::string>& args) {
  auto a = live::parse_args("query", args,
                            {{"json", false},
                             {"run", true},
                             {"pair", true},
                             {"path", true},
                             {"values", true},
                             {"occurrence", true},
                             {"channels", false}},
                            1);
  if (!a) return exit_error;
  if (a->positional.empty()) return fail("query needs a tensor NAME; see 'sigdump query --help'");
  json_writer params;
  params.begin_object();
  params.field("name", a->positional[0]);
  if (auto v = a->get("run")) params.field("run", *v);
  if (auto v = a->get("pair")) params.field("pair", *v);
  if (auto v = a->get("path")) params.field("path", *v);
  if (auto v = a->get("occurrence")) {
    std::uint64_t k = 0;
    if (!parse_u64(*v, k)) return fail("--occurrence wants a number, not '" + *v + "'");
    params.field("occurrence", k);
  }
  if (auto v = a->get("values")) {
    auto colon = v->find(':');
    std::uint64_t from = 0, to = 0;
    const std::string lo = v->substr(0, colon);
    const std::string hi = colon == std::string::npos ? "" : v->substr(colon + 1);
    if (colon == std::string::npos || !parse_u64(lo, from) || (!hi.empty() && !parse_u64(hi, to))) {
      return fail("--values wants A:B (element range), not '" + *v + "'");
    }
    if (hi.empty()) to = from + 16;
    if (to < from) return fail("--values " + *v + ": B is before A");
    if (to - from > 65536) return fail("--values " + *v + ": at most 65536 values per query");
    params.key("values").begin_array().value(from).value(to).end_array();
  }
  if (a->has("channels")) params.field("channels", true);
  params.end_object();

  auto result = live::ask(live::socket_path_of(*a), "tensor", params.str());
  if (!result) return exit_error;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(*result).get(doc)) return fail("sigdumpd sent a tensor reply that is not JSON");
  auto metrics = live::member(doc, "metrics");
  const bool suspect = metrics && live::boolean(*metrics, "suspect").value_or(false);
  if (a->has("json")) {
    std::cout << *result << '\n';
    return suspect ? exit_findings : exit_ok;
  }
  const bool color = live::color_wanted();
  auto rec = live::member(doc, "record");
  std::printf("%s\n",
              rec ? live::str(*rec, "name", a->positional[0]).c_str() : a->positional[0].c_str());
  const std::string pair = live::str(doc, "pair");
  std::printf("  run %s%s  file %s%s\n", live::str(doc, "run", "-").c_str(),
              pair.empty() ? "" : (" (sample of pair " + pair + ")").c_str(),
              live::str(doc, "path").c_str(),
              live::str(doc, "source") == "archive"
                  ? "  (archived copy: the run's file was overwritten)"
                  : "");
  if (rec) {
    const std::string kind = live::str(*rec, "kind", "out");
    const auto port = live::integer(*rec, kind == "in" ? "input" : "output");
    std::printf("  record %lld  %s %lld  op %s  type %s  shape %s%s\n",
                static_cast<long long>(live::integer(*rec, "index").value_or(0)), kind.c_str(),
                static_cast<long long>(port.value_or(0)), live::str(*rec, "op", "-").c_str(),
                live::str(*rec, "type", "?").c_str(), live::str(*rec, "shape", "[]").c_str(),
                live::boolean(*rec, "constant").value_or(false) ? "  constant" : "");
    if (auto scale = live::num(*rec, "scale")) {
      std::printf("  scale %s  zero_point %lld\n", live::general(scale).c_str(),
                  static_cast<long long>(live::integer(*rec, "zero_point").value_or(0)));
    }
    const std::string problem = live::str(*rec, "problem");
    if (!problem.empty()) std::printf("  problem: %s\n", problem.c_str());
  }
  if (auto st = live::member(doc, "stats")) print_stats(*st);
  if (metrics) {
    print_metrics(*metrics, color);
  } else {
    std::printf("metrics: none (the tensor is not part of a compared pair)\n");
  }
  if (a->has("channels")) {
    if (auto ch = live::member(doc, "channels")) {
      print_channels(*ch);
    } else {
      std::printf("channels: none (no compared benchmark record to read)\n");
    }
  }
  if (auto l = live::member(doc, "locator")) print_locator(*l);
  if (auto v = live::member(doc, "values")) print_values(*v);
  return suspect ? exit_findings : exit_ok;
}

command_registrar reg{command{"query", "one tensor from sigdumpd: stats, metrics, locator, values",
                              query_help, run_query}};

}  // namespace
}  // namespace sigdump::cli
