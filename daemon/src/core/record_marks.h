// A record's mark: a hash of its header bytes and of the first and last 64
// bytes of its payload, taken on the loop thread right after a look parsed
// it. A complete record's bytes never change within a run (a writer appends),
// so a mark that no longer holds means the file was written again over it:
// in place (opened without O_TRUNC and written from offset 0, the tail
// overwritten last) or truncated and written again. A look checks the first
// record's mark (a rewrite from offset 0 changes it first); a worker checks,
// after each comparison, the marks of the records it read and of their
// files' first records, so numbers read from another write are not
// published in the run. A writer that writes the same bytes again leaves
// every mark as it was: identical bytes give identical numbers, and are no
// evidence of a new run (docs/configuration.md, "Runs").
#pragma once

#include <cstddef>
#include <cstdint>

#include "state/daemon_state.h"

namespace sigdump::daemon {

/* The mark of records()[rec] of f; 0 when its bytes cannot be read (cut
   off). Reads mapped bytes under the SIGBUS guard: safe on a worker that
   holds a lease on f. */
std::uint64_t record_mark(const dump_file& f, std::size_t rec) noexcept;

/* Marks tf's records from `first` on (all of them when first is 0), after
   a look parsed them, then checks that its first record still holds its
   mark: false when it does not (the file was written again from its start
   since the first record was marked, maybe after the records just marked
   were read: they may be the next write's). Loop thread. */
bool mark_records(tracked_file& tf, std::size_t first);

/* What a worker checks after reading record `rec` of a file: that record's
   mark and the file's first record's, as the loop noted them. */
struct record_check {
  std::size_t rec = 0;
  std::uint64_t mark = 0, head = 0;  // 0: not noted
};
record_check check_of(const tracked_file& tf, std::size_t rec);
/* Whether f still holds both marks (when noted) and record c.rec's bytes
   can still be read: false once they were cut off, noted or not. */
bool still_holds(const dump_file& f, const record_check& c) noexcept;

/* A worker found the bytes of f changed under the run it read them for:
   its tracked file (in state) is written over, and starts over
   ("rewritten") once a look finds the rewrite settled, whatever its first
   and last bytes say (file_runs::hold_rewritten). Loop thread. */
void note_written_again(daemon_state& state, const dump_file* f);

}  // namespace sigdump::daemon
