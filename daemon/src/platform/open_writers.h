// Whether a process still has a file open for writing, as the kernel counts
// it (a writable shared mapping counts too): what tells the close of a
// dump's last writer from the close of one writer while another writes on.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>

namespace sigdump::daemon {

enum class open_writers : std::uint8_t {
  none,     // nobody has it open for writing
  some,     // some process has it open for writing
  unknown,  // the kernel would not say (see writers_of)
};

/* Asks whether any process has `path` open for writing, while path is still
   the file dev/ino. The kernel grants a read lease (fcntl F_SETLEASE,
   F_RDLCK) only on a file nobody has open for writing; one is taken on a
   descriptor of our own and given back at once. unknown: the file is not
   the daemon user's (leases need its uid, or CAP_LEASE), its file system
   has no leases (NFS, FUSE), leases are disabled (fs.leases-enable), someone
   holds a write lease, or path names another file now.

   A writer opening the file during the few microseconds the lease is held
   waits for it to be given back (with O_NONBLOCK its open fails with
   EWOULDBLOCK); the kernel then signals the holder with SIGURG, which is
   ignored unless handled (not the default SIGIO, which would end the
   process).

   held (when not null) receives, on none, the file's fstat taken while the
   lease was held: no writer could change the file in between, so it is what
   every writer left (a writer that wrote and closed after the caller looked
   at the file shows as a size or an mtime the caller did not see). */
open_writers writers_of(const std::string& path, dev_t dev, ino_t ino, struct stat* held = nullptr);

}  // namespace sigdump::daemon
