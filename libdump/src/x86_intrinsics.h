// Private: <immintrin.h> for the hand-written kernels (metric_kernels_*.cpp,
// channel_kernels.cpp), and SIGDUMP_X86 wherever they are compiled for
// x86-64 by GCC or Clang (elsewhere only their portable code is built).
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SIGDUMP_X86 1
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_pd
// initialises a variable with itself, on purpose).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif
