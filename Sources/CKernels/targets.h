/* Function attributes that compile one function for an instruction set (picked at run
   time by srk_isa), the intrinsic `name` at 256 and 512 bits, so one body serves both
   widths, and the mask of a partial 16-lane vector. */
#ifndef SRTOOL_CKERNELS_TARGETS_H
#define SRTOOL_CKERNELS_TARGETS_H

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))
#define OP256(name) _mm256_##name
#define OP512(name) _mm512_##name

/* The first n lanes of a 16-float vector (all of them from 16 on; n ≥ 0). */
static inline __mmask16 first_lanes(int n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }
#endif

#endif
