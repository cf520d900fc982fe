// The yardstick for whole-process timings of `sigdump compare`: maps each
// file read-only (as sigdump does), reads every byte once on one thread,
// summing 64-bit words, and prints the sum, the bytes and the time.
//   read_and_sum FILE...
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace {

std::uint64_t sum_words(const unsigned char* p, std::size_t n) {
  std::uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    std::uint64_t w[4];
    std::memcpy(w, p + i, sizeof w);
    s0 += w[0], s1 += w[1], s2 += w[2], s3 += w[3];
  }
  for (; i < n; ++i) s0 += p[i];
  return s0 + s1 + s2 + s3;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: read_and_sum FILE...\n");
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t sum = 0, bytes = 0;
  for (int k = 1; k < argc; ++k) {
    const int fd = ::open(argv[k], O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0) {
      std::perror(argv[k]);
      return 2;
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    if (size == 0) {
      ::close(fd);
      continue;
    }
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) {
      std::perror(argv[k]);
      return 2;
    }
    sum += sum_words(static_cast<const unsigned char*>(p), size);
    bytes += size;
    ::munmap(p, size);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%llu bytes in %.3f s (%.2f GB/s), sum %016llx\n",
              static_cast<unsigned long long>(bytes), secs, static_cast<double>(bytes) / secs / 1e9,
              static_cast<unsigned long long>(sum));
  return 0;
}
