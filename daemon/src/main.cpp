#include <cstdio>
#include <cstring>

#include "sigdump/version.h"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--version") == 0) {
      std::printf("sigdumpd %s (protocol %d)\n", sigdump::version_string, sigdump::protocol_version);
      return 0;
    }
  }
  std::fprintf(stderr, "sigdumpd: not implemented yet; only --version works\n");
  return 2;
}
