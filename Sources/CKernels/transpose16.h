/* The 16 × 16 transpose of sixteen AVX-512 registers, shared by the kernels that move
   data between a plane-per-channel layout and a channel-per-lane one (depthwise.c,
   transpose.c). */
#ifndef SRTOOL_CKERNELS_TRANSPOSE16_H
#define SRTOOL_CKERNELS_TRANSPOSE16_H

#include "targets.h"

#if defined(__x86_64__)
/* The second and third steps of a 16 × 16 transpose, from the first step's unpacked pairs
   t (t[2i], t[2i + 1]: rows 2i and 2i + 1 interleaved, low and high halves of each 128-bit
   lane) into r (r[k] = column k). */
AVX512 static inline __attribute__((always_inline)) void transpose_rest(const __m512 t[16], __m512 r[16]) {
    __m512 u[16];
    /* u[4i + k], 128-bit lane L: column 4L + k of rows 4i … 4i + 3. */
    for (int i = 0; i < 16; i += 4) {
        u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int k = 0; k < 4; k++) {
        const __m512 p0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x44), p1 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xEE);
        const __m512 q0 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x44), q1 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xEE);
        r[k] = _mm512_shuffle_f32x4(p0, q0, 0x88);
        r[4 + k] = _mm512_shuffle_f32x4(p0, q0, 0xDD);
        r[8 + k] = _mm512_shuffle_f32x4(p1, q1, 0x88);
        r[12 + k] = _mm512_shuffle_f32x4(p1, q1, 0xDD);
    }
}

/* r[k] (row k, 16 floats) becomes column k. */
AVX512 static inline __attribute__((always_inline)) void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    transpose_rest(t, r);
}
#endif

#endif
