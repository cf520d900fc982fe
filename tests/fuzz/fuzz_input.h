// Shared by the fuzz targets that read a file: the input bytes as a
// temporary file, removed when the holder goes.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace sigdump::fuzz {

class input_file {
 public:
  input_file(const std::uint8_t* data, std::size_t size) {
    char name[] = "/tmp/sigdump-fuzz-XXXXXX";
    const int fd = ::mkstemp(name);
    if (fd < 0) return;
    path_ = name;
    for (std::size_t done = 0; done < size;) {
      const ssize_t n = ::write(fd, data + done, size - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
  }
  ~input_file() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  input_file(const input_file&) = delete;
  input_file& operator=(const input_file&) = delete;
  /* Empty when no temporary file could be made. */
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

}  // namespace sigdump::fuzz
