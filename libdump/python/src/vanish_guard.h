// The mappings Python arrays view, and what happens when their file is cut
// under them. A numpy array over a mapping is read by numpy's own code, where
// no guarded_read can wrap the access: when a truncation takes its pages
// away, the process handler below (which libdump's SIGBUS guard chains to
// for faults outside a guard) maps zero pages over the lost range of that
// mapping, so the access completes instead of killing the process, and asks
// Python to raise sigdump.TruncatedError in the main thread at its next
// bytecode boundary (PyErr_SetInterruptEx). Faults anywhere else go on to
// the previous disposition unchanged.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sigdump/mapping.h"

namespace sigdump::python {

/* One mapping some Python object views, registered with the fault handler
   while it lives. Shared by every array over that mapping and by the dump
   object holding it; the mapping is unmapped after the registration ends. */
class exposed_mapping {
 public:
  /* The registration of `map`, made on first use; errc::io when the table of
     registrations is full. */
  static result<std::shared_ptr<exposed_mapping>> of(std::shared_ptr<const mapping> map);
  exposed_mapping(const exposed_mapping&) = delete;
  exposed_mapping& operator=(const exposed_mapping&) = delete;
  ~exposed_mapping();

  const std::shared_ptr<const mapping>& map() const noexcept { return map_; }
  /* True once the handler replaced some of its pages with zeros. */
  bool vanished() const noexcept;
  /* The first file offset replaced, or no_offset. */
  std::uint64_t vanished_from() const noexcept;

 private:
  exposed_mapping(std::shared_ptr<const mapping> map, std::size_t slot)
      : map_(std::move(map)), slot_(slot) {}
  std::shared_ptr<const mapping> map_;
  std::size_t slot_;
};

/* Remembers the SIGBUS disposition in force now as the one to chain to. Call
   before Python's signal.signal(SIGBUS, ...) replaces it. */
void capture_previous_handler();

/* Installs the handler (chaining to what capture_previous_handler saw) and
   then makes libdump's guard handler the outermost one, so guarded reads
   keep catching their own faults first. With `patch` false (no Python
   handler could be set: imported outside the main thread), faults on
   exposed mappings are not patched and behave as without the module. */
void install_fault_handler(bool patch);

struct vanished_range {
  std::string path;
  std::uint64_t from = 0;  // first file offset lost
};
/* Mappings patched since the last call (each reported once). */
std::vector<vanished_range> take_vanished();

}  // namespace sigdump::python
