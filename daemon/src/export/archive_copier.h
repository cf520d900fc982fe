// The archive's copier thread: the descriptors and flags a copy shares
// with it (copy_channel), what one copy job reports back (copy_outcome), and
// the jobs themselves: a range of verified bytes copied in the kernel, and a
// run's last job (the rest, its trailer when it is only one, fdatasync).
// Only the copier thread runs these; the loop reads the channel's atomics.
#pragma once

#include <atomic>
#include <cstdint>

#include "sigdump/ipc/unique_fd.h"

namespace sigdump::daemon {

struct copy_channel {
  ipc::unique_fd src, dst;
  std::atomic<bool> cancel{false};
  std::atomic<bool> abandon{false};      // dropped or stopped: do not even sync
  std::atomic<std::uint64_t> copied{0};  // bytes of dst, kept by the copier
  // Verified bytes of the source, raised by the loop as the parser goes on:
  // a running copy job goes on to it without a trip through the loop.
  std::atomic<std::uint64_t> target{0};
  std::atomic<bool> synced{false};  // the last job's fdatasync succeeded
  bool use_sendfile = false;        // copier thread only
};

struct copy_outcome {
  std::uint64_t reached = 0;  // copy size afterwards
  int error = 0;              // errno of a failed copy or sync (source or archive side)
  bool shrank = false;        // the source was cut below what was verified
  bool final = false;         // the job run at the run's end (rest, trailer, sync)
  bool synced = false;        // final: fdatasync succeeded after the last byte
};

/* Copies source bytes [from, to) to the same offsets of the copy; stops at
   the cancel flag, an error, or a source cut below `to` (shrank). */
copy_outcome copy_range(copy_channel& ch, std::uint64_t from, std::uint64_t to);
/* copy_range from `from` to ch.target, again while the loop raises the
   target meanwhile. */
copy_outcome copy_to_target(copy_channel& ch, std::uint64_t from);
/* The last copy of a run: copy_range, then the trailer when `tail` (the
   parser saw no cut record); o.final is set. */
copy_outcome finish_copy(copy_channel& ch, std::uint64_t from, std::uint64_t to, bool tail);
/* After finish_copy succeeded (on the syncer thread, so the copier goes on
   with other runs' copies): fdatasync unless abandoned. */
void sync_copy(copy_channel& ch, copy_outcome& o);

}  // namespace sigdump::daemon
