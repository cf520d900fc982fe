#include "server/ipc_methods.h"

#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <vector>

#include "server/methods/methods.h"

namespace sigdump::daemon {

namespace {

// Every method, explicitly: a handler named here is linked from the static
// library whatever the linker keeps of the rest.
const std::map<std::string, method_handler, std::less<>>& registry() {
  static const std::map<std::string, method_handler, std::less<>> methods = {
      {"compare", method_compare},     {"hello", method_hello},
      {"runs", method_runs},           {"status", method_status},
      {"subscribe", method_subscribe}, {"tensor", method_tensor},
      {"tensors", method_tensors},     {"unsubscribe", method_unsubscribe},
  };
  return methods;
}

}  // namespace

bool owner_peer(const method_context& ctx) noexcept { return ctx.peer.uid == ::geteuid(); }

bool peer_could_read(const std::string& path, const ipc::peer_credentials& peer) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  if (st.st_uid == peer.uid) return (st.st_mode & S_IRUSR) != 0;
  if (st.st_gid == peer.gid) return (st.st_mode & S_IRGRP) != 0;
  return (st.st_mode & S_IROTH) != 0;
}

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

}  // namespace sigdump::daemon
