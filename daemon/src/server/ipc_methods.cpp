#include "server/ipc_methods.h"

#include <map>
#include <vector>

namespace sigdump::daemon {

namespace {

// Function-local so registrars in other translation units may run first.
std::map<std::string, method_handler, std::less<>>& registry() {
  static std::map<std::string, method_handler, std::less<>> methods;
  return methods;
}

}  // namespace

const method_handler* find_method(std::string_view name) {
  auto& r = registry();
  auto it = r.find(name);
  return it == r.end() ? nullptr : &it->second;
}

std::vector<std::string> method_names() {
  std::vector<std::string> out;
  for (const auto& [name, handler] : registry()) out.push_back(name);
  return out;
}

method_registrar::method_registrar(const char* name, method_handler handler) {
  registry().emplace(name, std::move(handler));
}

}  // namespace sigdump::daemon
