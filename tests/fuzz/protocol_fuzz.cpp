// Fuzz target for the socket protocol's request side: each line of the
// input is parsed as a request, and every typed getter is tried on its
// params. Invariants: no crash, no exception; a parsed request has a
// method and params that are a JSON object; every error has a message.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "sigdump/ipc/protocol.h"

namespace {

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "protocol_fuzz: invariant broken: %s\n", what);
  std::abort();
}

template <class Field>
void check_field(const Field& f) {
  if (!f && f.error().message.empty()) broken("a params error without a message");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  sigdump::ipc::request_parser parser;
  while (!input.empty()) {
    const auto nl = input.find('\n');
    const std::string_view line = input.substr(0, nl);
    input.remove_prefix(nl == std::string_view::npos ? input.size() : nl + 1);
    auto req = parser.parse(line);
    if (!req) {
      if (req.error().error.message.empty()) broken("a bad request without a message");
      continue;
    }
    if (req->method.empty()) broken("a request without a method");
    if (req->params.empty() || req->params.front() != '{') broken("params not an object");
    sigdump::ipc::params_reader params(req->params);
    for (std::string_view key : {"pair", "path", "run", "since", "limit", "values", "name",
                                 "suspect_only", "cos_min", "id", "only", ""}) {
      (void)params.has(key);
      check_field(params.get_string(key));
      check_field(params.get_int(key));
      check_field(params.get_int(key, 1, 1000000));
      check_field(params.get_double(key));
      check_field(params.get_bool(key));
      check_field(params.get_range(key));
      check_field(params.get_id(key));
    }
  }
  return 0;
}
