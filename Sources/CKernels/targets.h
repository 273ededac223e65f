/* Function attributes that compile one function for an instruction set (picked at run
   time by srk_isa), and the intrinsic `name` at 256 and 512 bits, so one body serves both
   widths. */
#ifndef SRTOOL_CKERNELS_TARGETS_H
#define SRTOOL_CKERNELS_TARGETS_H

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))
#define OP256(name) _mm256_##name
#define OP512(name) _mm512_##name
#endif

#endif
