// The archive's copier thread: the descriptors and flags a copy shares
// with it (copy_channel), what one copy job reports back (copy_outcome), and
// the jobs themselves: a range of verified bytes copied in the kernel, and a
// run's last job (the rest, its trailer when it is only one, fdatasync).
// The copier thread runs these, and a metric worker fill_copy when the
// copier lags behind what it compared; the loop reads the channel's atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "sigdump/ipc/unique_fd.h"
#include "sigdump/mapping.h"

namespace sigdump::daemon {

struct copy_channel {
  // The run's own file: src, opened by path when it still named the inode
  // the run reads; else (the path was renamed over before the run's copy
  // began) the tracker's mapping of that inode, read under the SIGBUS
  // guard. The mapping is replaced (under m) by a larger one of the same
  // inode as the run grows, before the target is raised past it; it costs
  // no descriptor.
  ipc::unique_fd src, dst;
  std::shared_ptr<const mapping> map;
  // The copy is opened (dst, under m) by the first copy of bytes to it, on
  // the copier thread or a metric worker filling it, never on the loop (the
  // archive folder may be a slow disk): dst_path with dst_flags (O_CREAT,
  // O_TRUNC for a new copy), unless the copy was cancelled first.
  std::string dst_path;
  int dst_flags = 0;
  // Held while bytes are written to dst and `copied` moves: by the copier,
  // one slice at a time, and by a metric worker filling the copy.
  std::mutex m;
  std::atomic<bool> cancel{false};
  std::atomic<bool> abandon{false};      // dropped or stopped: do not even sync
  std::atomic<std::uint64_t> copied{0};  // bytes of dst, kept by the copier
  // Verified bytes of the source, raised by the loop as the parser goes on:
  // a running copy job goes on to it without a trip through the loop.
  std::atomic<std::uint64_t> target{0};
  std::atomic<bool> synced{false};  // the last job's fdatasync succeeded
  bool use_sendfile = false;        // under m
};

struct copy_outcome {
  std::uint64_t reached = 0;  // copy size afterwards
  int error = 0;              // errno of a failed copy or sync (source or archive side)
  bool shrank = false;        // the source was cut below what was verified
  bool final = false;         // the job run at the run's end (rest, trailer, sync)
  bool synced = false;        // final: fdatasync succeeded after the last byte
};

/* Copies source bytes [from, to) to the same offsets of the copy; stops at
   the cancel flag, an error, or a source cut below `to` (shrank). Bytes
   the copy holds already (`copied`: a worker filled them) are not copied
   again. */
copy_outcome copy_range(copy_channel& ch, std::uint64_t from, std::uint64_t to);
/* copy_range from `from` to ch.target, again while the loop raises the
   target meanwhile. */
copy_outcome copy_to_target(copy_channel& ch, std::uint64_t from);
/* The last copy of a run: copy_range, then the trailer when `tail` (the
   parser saw no cut record); o.final is set. */
copy_outcome finish_copy(copy_channel& ch, std::uint64_t from, std::uint64_t to, bool tail);
/* Metric worker, after a comparison read source bytes up to `to` that the
   copy does not hold yet (the copier lags behind): copies them now, so the
   copy holds what was compared even when the file is cut before the copier
   gets there. Returns where the copy ended before (== `to`: nothing was
   copied). */
std::uint64_t fill_copy(copy_channel& ch, std::uint64_t to);
/* The comparison found the file no longer holding what it read: the bytes
   fill_copy copied from `from` to `to` may be another run's, and are cut
   off again unless the copy has gone on past them meanwhile. */
void unfill_copy(copy_channel& ch, std::uint64_t from, std::uint64_t to);

/* One side of a comparison and its run's copy, for the metric worker: the
   copy is filled up to the end of the record compared, and cut back when
   the comparison finds the file started over under it. */
struct copy_fill {
  std::shared_ptr<copy_channel> ch;  // null: no copy that may still grow
  std::uint64_t to = 0;              // end of the record compared
  std::uint64_t from = 0;            // where the copy ended before fill()
  void fill() {
    if (ch) from = fill_copy(*ch, to);
  }
  void undo() {
    if (ch) unfill_copy(*ch, from, to);
  }
};
/* Copier thread, before each job: for tests (docs/protocol.md, "Test
   hooks"), waits while the file `path` exists (unless empty), as a copier
   that lags far behind would, until the copy is cancelled. */
void test_hold(const std::string& path, const copy_channel& ch);
/* Copier thread: deletes a dropped copy's file, under ch->m (when it has a
   channel, already abandoned) so that no copy job opens it again after. */
void remove_copy(copy_channel* ch, const std::string& path);
/* After finish_copy succeeded (on the syncer thread, so the copier goes on
   with other runs' copies): fdatasync unless abandoned. */
void sync_copy(copy_channel& ch, copy_outcome& o);

}  // namespace sigdump::daemon
