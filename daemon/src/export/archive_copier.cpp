// The archive's copier thread: a range of verified bytes copied in the
// kernel, a run's trailer checked and copied at its end, and the fdatasync
// that lets the index call a copy synced (archive_copier.h).
#include "export/archive_copier.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "platform/log.h"

namespace sigdump::daemon {

namespace {

// One copy_file_range/sendfile call at most: the copier looks at the cancel
// flag and at the source's size between slices.
constexpr std::uint64_t slice_bytes = 8u << 20;
// A run's bytes after its last record copied at its end: a trailer and
// blank lines are a few bytes; more than this is not a trailer.
constexpr std::uint64_t max_tail_bytes = 64u << 10;

bool only_chars(std::string_view s, std::string_view allowed) noexcept {
  return s.find_first_not_of(allowed) == std::string_view::npos;
}

// Whether bytes after a run's last record are what the parser skips
// between records: blank lines, "};" trailers and lone "//buffer data
// size: N" lines, the last one possibly cut, but never anything that is or
// could still become a record header ("//out ", "//in ").
bool plausible_tail(std::string_view s) noexcept {
  constexpr std::string_view size_prefix = "//buffer data size:";
  constexpr std::string_view trailer_chars = " \t\r};";
  auto size_line = [&](std::string_view line) {
    return line.starts_with(size_prefix) &&
           only_chars(line.substr(size_prefix.size()), " \t\r0123456789");
  };
  auto could_become = [](std::string_view cut, std::string_view literal) {
    return cut.size() <= literal.size() ? literal.starts_with(cut) : cut.starts_with(literal);
  };
  std::size_t pos = 0;
  while (pos < s.size()) {
    const std::size_t nl = s.find('\n', pos);
    if (nl == std::string_view::npos) {
      std::string_view cut = s.substr(pos);
      if (only_chars(cut, trailer_chars)) return true;
      if (could_become(cut, "//out ") || could_become(cut, "//in ")) return false;
      if (cut.size() <= size_prefix.size()) return size_prefix.starts_with(cut);
      return size_line(cut);
    }
    std::string_view line = s.substr(pos, nl - pos);
    if (!only_chars(line, trailer_chars) && !size_line(line)) return false;
    pos = nl + 1;
  }
  return true;
}

// Writes n bytes at offset `at` of fd: 0, or the errno of the failed write.
int write_all(int fd, const char* from, std::size_t n, std::uint64_t at) {
  std::size_t put = 0;
  while (put < n) {
    ssize_t w = ::pwrite(fd, from + put, n - put, static_cast<off_t>(at + put));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return errno;
    put += static_cast<std::size_t>(w);
  }
  return 0;
}

// Reads n bytes at `at` of the run's file (ch.src, or else `map`): false
// when the file ends before them (cut meanwhile).
bool read_source(const copy_channel& ch, const mapping* map, std::uint64_t at, char* to,
                 std::size_t n) {
  if (map != nullptr) {
    return at <= map->size() && n <= map->size() - at &&
           guarded_copy(map->bytes().data() + at, n, to);
  }
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(ch.src.get(), to + got, n - got, static_cast<off_t>(at + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

// One slice of a copy from the mapping of the run's file (copy_range, ch.m
// held): up to n bytes at `at` copied to the same offset of the copy, under
// the SIGBUS guard. The count, 0 when the mapping ends there or a page of
// it vanished (the file was cut), or -1 with errno when the write failed.
ssize_t copy_mapped_slice(copy_channel& ch, std::uint64_t at, std::size_t n) {
  constexpr std::size_t buffer_bytes = 1u << 20;
  const mapping& map = *ch.map;
  if (at >= map.size()) return 0;
  n = static_cast<std::size_t>(std::min<std::uint64_t>({n, map.size() - at, buffer_bytes}));
  std::string buf(n, '\0');
  if (!read_source(ch, &map, at, buf.data(), n)) return 0;
  if (const int err = write_all(ch.dst.get(), buf.data(), n, at); err != 0) {
    errno = err;
    return -1;
  }
  return static_cast<ssize_t>(n);
}

// Copier thread, at a run's end: the bytes from o.reached to the source's
// size seen through the descriptor (or its mapping), when they are only a
// trailer. The checked bytes themselves are written, so a writer changing
// them meanwhile cannot slip anything else in.
void copy_tail(copy_channel& ch, copy_outcome& o) {
  std::shared_ptr<const mapping> map;
  {
    const std::lock_guard lock(ch.m);
    map = ch.map;
  }
  std::uint64_t size = 0;
  if (map) {
    size = map->size();
  } else {
    struct stat st {};
    if (::fstat(ch.src.get(), &st) != 0) return;
    size = static_cast<std::uint64_t>(st.st_size);
  }
  if (size <= o.reached || size - o.reached > max_tail_bytes) return;
  std::string buf(static_cast<std::size_t>(size - o.reached), '\0');
  if (!read_source(ch, map.get(), o.reached, buf.data(), buf.size())) return;
  if (!plausible_tail(buf)) return;
  const std::lock_guard lock(ch.m);
  if (ch.copied.load(std::memory_order_acquire) != o.reached) return;
  if (const int err = write_all(ch.dst.get(), buf.data(), buf.size(), o.reached); err != 0) {
    o.error = err;
    return;
  }
  o.reached = size;
  ch.copied.store(o.reached, std::memory_order_release);
}

// Opens the copy if it is not open yet (ch.m held): 0, or the errno of a
// failed open. An abandoned copy is not opened (a dropped one is deleted
// on the copier thread under ch.m, remove_copy: it must not come back).
int open_copy_file(copy_channel& ch) {
  if (ch.dst || ch.abandon.load(std::memory_order_acquire)) return 0;
  ch.dst.reset(::open(ch.dst_path.c_str(), ch.dst_flags | O_CLOEXEC | O_NOFOLLOW, 0600));
  return ch.dst ? 0 : errno;
}

}  // namespace

// Copier thread: copies source bytes [from, to) to the same offsets of the
// copy, in the kernel (from a mapping, through a buffer). copy_file_range (a reflink or a
// server-side copy where the filesystem can) refuses a copy between two filesystems (EXDEV);
// sendfile then does the same in-kernel copy through the page cache.
copy_outcome copy_range(copy_channel& ch, std::uint64_t from, std::uint64_t to) {
  copy_outcome o;
  o.reached = std::max(from, ch.copied.load(std::memory_order_acquire));
  {
    const std::lock_guard lock(ch.m);
    o.error = open_copy_file(ch);
    if (o.error != 0) return o;
  }
  while (!ch.cancel.load(std::memory_order_acquire)) {
    const std::lock_guard lock(ch.m);
    // Where the copy ends: a metric worker may have copied ahead
    // (fill_copy), or cut its bytes off again (unfill_copy).
    const std::uint64_t start = ch.copied.load(std::memory_order_acquire);
    o.reached = start;
    if (start >= to) break;
    const auto n = static_cast<std::size_t>(std::min(to - start, slice_bytes));
    ssize_t r = 0;
    if (ch.map) {
      r = copy_mapped_slice(ch, start, n);
    } else if (!ch.use_sendfile) {
      auto in = static_cast<loff_t>(start), out = static_cast<loff_t>(start);
      r = ::copy_file_range(ch.src.get(), &in, ch.dst.get(), &out, n, 0);
      if (r < 0 && (errno == EXDEV || errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)) {
        log(log_level::debug, std::string("archive: copy_file_range: ") + std::strerror(errno) +
                                  "; copying with sendfile");
        ch.use_sendfile = true;
        continue;
      }
    } else {
      if (::lseek(ch.dst.get(), static_cast<off_t>(start), SEEK_SET) < 0) {
        o.error = errno;
        break;
      }
      auto in = static_cast<off_t>(start);
      r = ::sendfile(ch.dst.get(), ch.src.get(), &in, n);
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      o.error = errno;
      break;
    }
    if (r == 0) {  // end of the source below what was verified: it was cut
      o.shrank = true;
      break;
    }
    o.reached = start + static_cast<std::uint64_t>(r);
    // A writer that truncated while this slice was copied may have put
    // another run's bytes into it: keep only what came before the slice.
    struct stat st {};
    const bool cut = ch.map ? !ch.map->probe(start, o.reached - start)
                            : ::fstat(ch.src.get(), &st) == 0 &&
                                  static_cast<std::uint64_t>(st.st_size) < o.reached;
    if (cut) {
      if (::ftruncate(ch.dst.get(), static_cast<off_t>(start)) == 0) o.reached = start;
      o.shrank = true;
    }
    ch.copied.store(o.reached, std::memory_order_release);
    if (o.shrank) break;
  }
  return o;
}

void test_hold(const std::string& path, const copy_channel& ch) {
  while (!path.empty() && ::access(path.c_str(), F_OK) == 0 &&
         !ch.cancel.load(std::memory_order_acquire)) {
    ::usleep(1000);
  }
}

std::uint64_t fill_copy(copy_channel& ch, std::uint64_t to) {
  const std::uint64_t had = ch.copied.load(std::memory_order_acquire);
  if (had >= to) return to;
  const copy_outcome o = copy_range(ch, had, to);
  return o.reached > had ? had : to;
}

void unfill_copy(copy_channel& ch, std::uint64_t from, std::uint64_t to) {
  if (from >= to) return;
  const std::lock_guard lock(ch.m);
  const std::uint64_t now = ch.copied.load(std::memory_order_acquire);
  if (now <= from || now > to) return;
  if (::ftruncate(ch.dst.get(), static_cast<off_t>(from)) == 0) {
    ch.copied.store(from, std::memory_order_release);
  }
}

// Copier thread: the copier lags behind the parser as little as it can (a
// file truncated the moment its writer closed it keeps only what was copied
// by then), so it follows the target the loop raises while it copies.
copy_outcome copy_to_target(copy_channel& ch, std::uint64_t from) {
  copy_outcome o;
  o.reached = from;
  for (;;) {
    const std::uint64_t to = ch.target.load(std::memory_order_acquire);
    if (to <= o.reached || ch.cancel.load(std::memory_order_acquire)) return o;
    o = copy_range(ch, o.reached, to);
    if (o.error != 0 || o.shrank) return o;
  }
}

// Copier thread, the last job of a run: the rest of what was verified and
// the trailer (tail: the parser saw no cut record).
copy_outcome finish_copy(copy_channel& ch, std::uint64_t from, std::uint64_t to, bool tail) {
  copy_outcome o = copy_range(ch, from, to);
  o.final = true;
  if (o.error != 0) return o;
  if (tail && !o.shrank && o.reached >= to && !ch.cancel.load(std::memory_order_acquire)) {
    copy_tail(ch, o);
  }
  return o;
}

void remove_copy(copy_channel* ch, const std::string& path) {
  std::unique_lock<std::mutex> lock;
  if (ch != nullptr) lock = std::unique_lock(ch->m);
  ::unlink(path.c_str());
}

// Syncer thread, after finish_copy: fdatasync, so an index that says
// "synced" never points at a copy with pages still in memory.
void sync_copy(copy_channel& ch, copy_outcome& o) {
  if (o.error != 0 || ch.abandon.load(std::memory_order_acquire) || !ch.dst) return;
  if (::fdatasync(ch.dst.get()) != 0) {
    o.error = errno;
    return;
  }
  o.synced = true;
  ch.synced.store(true, std::memory_order_release);
}

}  // namespace sigdump::daemon
