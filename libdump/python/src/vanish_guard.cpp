#include "vanish_guard.h"

#include <Python.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <mutex>
#include <unordered_map>

namespace sigdump::python {
namespace {

enum slot_state : int { free_slot = 0, live = 1, vanished_new = 2, vanished_told = 3 };

// Read by the signal handler: only lock-free atomics, written by ordinary
// code under `registry_mutex`.
struct slot {
  std::atomic<std::uintptr_t> begin{0};
  std::atomic<std::uintptr_t> size{0};
  std::atomic<int> state{free_slot};
  std::atomic<std::uint64_t> from{no_offset};
};
static_assert(std::atomic<std::uintptr_t>::is_always_lock_free);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

constexpr std::size_t slot_count = 4096;
std::array<slot, slot_count> slots;
std::mutex registry_mutex;
// Which registration a mapping has; its path is read from the mapping.
std::unordered_map<const mapping*, std::weak_ptr<exposed_mapping>>& registered() {
  static auto* m = new std::unordered_map<const mapping*, std::weak_ptr<exposed_mapping>>;
  return *m;
}
std::unordered_map<std::size_t, const mapping*>& slot_owner() {
  static auto* m = new std::unordered_map<std::size_t, const mapping*>;
  return *m;
}

struct sigaction previous_action;
std::atomic<bool> patching{false};
std::uintptr_t page_size = 4096;

// Replaces the lost pages of the mapping holding `a` with zero pages.
bool patch(std::uintptr_t a) noexcept {
  for (slot& s : slots) {
    const int st = s.state.load(std::memory_order_acquire);
    if (st == free_slot) continue;
    const std::uintptr_t b = s.begin.load(std::memory_order_acquire);
    const std::uintptr_t n = s.size.load(std::memory_order_acquire);
    if (b == 0 || a < b || a - b >= n) continue;
    const std::uintptr_t page = a & ~(page_size - 1);
    const std::uintptr_t end = (b + n + page_size - 1) & ~(page_size - 1);
    void* r = ::mmap(reinterpret_cast<void*>(page), end - page, PROT_READ,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (r == MAP_FAILED) return false;
    std::uint64_t off = page > b ? page - b : 0;
    std::uint64_t cur = s.from.load(std::memory_order_relaxed);
    while (off < cur && !s.from.compare_exchange_weak(cur, off)) {
    }
    int expected = live;
    s.state.compare_exchange_strong(expected, vanished_new);
    if (expected == vanished_told) s.state.store(vanished_new);
    return true;
  }
  return false;
}

void on_sigbus(int sig, siginfo_t* info, void* uctx) {
  const int saved_errno = errno;
  if (info != nullptr && info->si_code > 0 && patching.load(std::memory_order_relaxed) &&
      patch(reinterpret_cast<std::uintptr_t>(info->si_addr))) {
    PyErr_SetInterruptEx(SIGBUS);
    errno = saved_errno;
    return;  // the access runs again and reads zeros
  }
  errno = saved_errno;
  chain_sigbus(previous_action, sig, info, uctx);
}

void noop(void*) {}

}  // namespace

result<std::shared_ptr<exposed_mapping>> exposed_mapping::of(std::shared_ptr<const mapping> map) {
  std::lock_guard lock(registry_mutex);
  auto& reg = registered();
  if (auto it = reg.find(map.get()); it != reg.end()) {
    if (auto e = it->second.lock()) return e;
  }
  for (std::size_t i = 0; i < slot_count; ++i) {
    slot& s = slots[i];
    if (s.state.load() != free_slot) continue;
    s.from.store(no_offset);
    s.begin.store(reinterpret_cast<std::uintptr_t>(map->bytes().data()));
    s.size.store(map->size());
    s.state.store(live, std::memory_order_release);
    slot_owner()[i] = map.get();
    const mapping* key = map.get();
    std::shared_ptr<exposed_mapping> e(new exposed_mapping(std::move(map), i));
    reg[key] = e;
    return e;
  }
  return make_error(errc::io, map->path(), no_record, no_offset,
                    "too many mappings viewed from Python at once (" + std::to_string(slot_count) +
                        "); drop some arrays");
}

exposed_mapping::~exposed_mapping() {
  std::lock_guard lock(registry_mutex);
  slot& s = slots[slot_];
  s.begin.store(0);
  s.size.store(0);
  s.state.store(free_slot, std::memory_order_release);
  slot_owner().erase(slot_);
  auto& reg = registered();
  if (auto it = reg.find(map_.get()); it != reg.end() && it->second.expired()) reg.erase(it);
}

bool exposed_mapping::vanished() const noexcept {
  return slots[slot_].state.load(std::memory_order_acquire) >= vanished_new;
}

std::uint64_t exposed_mapping::vanished_from() const noexcept { return slots[slot_].from.load(); }

void capture_previous_handler() { ::sigaction(SIGBUS, nullptr, &previous_action); }

void install_fault_handler(bool patch_faults) {
  static std::once_flag once;
  std::call_once(once, [] {
    page_size = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, nullptr);
    // libdump installs its guard handler on first use, chaining to the one
    // in force then: use it now, so it chains to ours.
    guarded_read({}, noop, nullptr);
  });
  patching.store(patch_faults);
}

std::vector<vanished_range> take_vanished() {
  std::lock_guard lock(registry_mutex);
  std::vector<vanished_range> out;
  for (std::size_t i = 0; i < slot_count; ++i) {
    int expected = vanished_new;
    if (!slots[i].state.compare_exchange_strong(expected, vanished_told)) continue;
    auto it = slot_owner().find(i);
    if (it == slot_owner().end()) continue;
    out.push_back({it->second->path(), slots[i].from.load()});
  }
  return out;
}

}  // namespace sigdump::python
