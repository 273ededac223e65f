#include "ckernels.h"
#include "targets.h"

#include <math.h>

/* A 1×1 convolution's product out[r][j] = Σ_kk w[r·k + kk]·x[kk·ldx + j] on NCHW planes:
   the pixels in the vector lanes, the weights broadcast. AVX-512: tiles of 8 output
   channels × 32 pixels, 16 sums in registers; per input channel two loads of pixels and
   eight broadcasts feed sixteen fused multiply-adds. Eight output channels are swept along
   all the pixels before the next eight: the outputs are written as eight long runs at a
   time. Sweeping all channels for each 32 pixels instead (the inputs then stay in L1) wrote
   96 runs at once, and to memory that had left the cache that took MobileNetV2's 112×112
   expansion 0.94 ms instead of 0.45 (the caller's bands keep the inputs in L2). The last
   tile of a row takes its pixels under a mask, the last channels a smaller tile.

   Sums: each output is a chain of fused multiply-adds over kk from 0 for each block of
   SRK_SUM_BLOCK inputs, the blocks' sums added in order, at every level, so every level gives
   the same bits — and the bits of the packed product (gemm.c), which sums in the same
   order. */
#define PW_ROWS 8
#define PW_COLS 32

/* A finished sum v of a row whose bias is b (0 without one), as FusedActivation.apply and
   Kernels.finishRow (no residual) treat it: ReLU `s > 0 ? s : 0` and Clip `min(max(s, lo),
   hi)` of s = v + b, Swift's max(x, y) being `y >= x ? y : x` and min(x, y) `y < x ? y : x`;
   with no activation v + b only where b ≠ 0. The vector form below takes the same steps
   lane by lane, NaN and signed zeros included. */
static inline float finish_scalar(float v, float b, int act, float lo, float hi) {
    const float s = v + b;
    switch (act) {
    case SRK_FINISH_RELU: return s > 0.0f ? s : 0.0f;
    case SRK_FINISH_CLIP: {
        const float m = lo >= s ? lo : s;
        return hi < m ? hi : m;
    }
    default: return b != 0.0f ? s : v;
    }
}

static void pointwise_scalar(const float *x, ptrdiff_t ldx, int k, const float *w, float *out, ptrdiff_t ldo,
                             int r0, int r1, int j0, int j1, const float *bias, const float *residual, int act, float lo,
                             float hi) {
    for (int r = r0; r < r1; r++)
        for (int j = j0; j < j1; j++) {
            float total = 0.0f;
            for (int k0 = 0; k0 < k; k0 += SRK_SUM_BLOCK) {
                const int k1 = k - k0 < SRK_SUM_BLOCK ? k : k0 + SRK_SUM_BLOCK;
                float part = 0.0f;
                for (int kk = k0; kk < k1; kk++) part = fmaf(w[(size_t)r * k + kk], x[(ptrdiff_t)kk * ldx + j], part);
                total = k0 == 0 ? part : total + part;
            }
            const float b = bias ? bias[r] : 0.0f;
            out[(ptrdiff_t)r * ldo + j] = residual ? finish_scalar((total + b) + residual[(ptrdiff_t)r * ldo + j], 0.0f, act, lo, hi)
                                                   : finish_scalar(total, b, act, lo, hi);
        }
}

#if defined(__x86_64__)
/* finish_scalar on 16 lanes. _mm512_max_ps(s, 0) returns its second operand for NaN and for
   two zeros, so it is `s > 0 ? s : 0`; the blends pick lo where lo ≥ s and hi where hi < m,
   both false for NaN. */
AVX512 static inline __attribute__((always_inline)) __m512 finish16(__m512 v, float b, int act, __m512 lo, __m512 hi) {
    const __m512 s = _mm512_add_ps(v, _mm512_set1_ps(b));
    switch (act) {
    case SRK_FINISH_RELU: return _mm512_max_ps(s, _mm512_setzero_ps());
    case SRK_FINISH_CLIP: {
        const __m512 m = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(lo, s, _CMP_GE_OQ), s, lo);
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(hi, m, _CMP_LT_OQ), m, hi);
    }
    default: return b != 0.0f ? s : v;
    }
}

/* Rows r < R (a constant at each call site) of the tile at w (row stride ldw) and x over
   kc inputs, its first 16 pixels under m0 and the next 16 under m1 (0: none); the sums
   stored when `first`, else added to the tile's outputs (the next block of inputs); after
   the `last` block finished (finish16) with row r's bias at bias[r], or, with a residual
   (laid out as out), as (sum + bias) + residual under the activation. */
AVX512 static inline __attribute__((always_inline)) void pw_tile(int R, const float *x, ptrdiff_t ldx, int kc,
                                                                   const float *w, int ldw, float *out, ptrdiff_t ldo,
                                                                   __mmask16 m0, __mmask16 m1, int full, int first,
                                                                   int last, const float *bias, const float *res,
                                                                   int act, __m512 lo, __m512 hi) {
    __m512 a0[PW_ROWS], a1[PW_ROWS];
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++) a0[r] = a1[r] = _mm512_setzero_ps();
    for (int kk = 0; kk < kc; kk++) {
        const float *xk = x + (ptrdiff_t)kk * ldx;
        const __m512 u = full ? _mm512_loadu_ps(xk) : _mm512_maskz_loadu_ps(m0, xk);
        const __m512 v = full ? _mm512_loadu_ps(xk + 16) : _mm512_maskz_loadu_ps(m1, xk + 16);
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) {
            const __m512 b = _mm512_set1_ps(w[(size_t)r * ldw + kk]);
            a0[r] = _mm512_fmadd_ps(u, b, a0[r]);
            a1[r] = _mm512_fmadd_ps(v, b, a1[r]);
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++) {
        float *o = out + (ptrdiff_t)r * ldo;
        __m512 s0, s1;
        if (full) {
            s0 = first ? a0[r] : _mm512_add_ps(_mm512_loadu_ps(o), a0[r]);
            s1 = first ? a1[r] : _mm512_add_ps(_mm512_loadu_ps(o + 16), a1[r]);
        } else {
            s0 = first ? a0[r] : _mm512_add_ps(_mm512_maskz_loadu_ps(m0, o), a0[r]);
            s1 = first ? a1[r] : _mm512_add_ps(_mm512_maskz_loadu_ps(m1, o + 16), a1[r]);
        }
        if (last && res) {
            const __m512 b = _mm512_set1_ps(bias ? bias[r] : 0.0f);
            const float *q = res + (ptrdiff_t)r * ldo;
            const __m512 q0 = full ? _mm512_loadu_ps(q) : _mm512_maskz_loadu_ps(m0, q);
            const __m512 q1 = full ? _mm512_loadu_ps(q + 16) : _mm512_maskz_loadu_ps(m1, q + 16);
            s0 = finish16(_mm512_add_ps(_mm512_add_ps(s0, b), q0), 0.0f, act, lo, hi);
            s1 = finish16(_mm512_add_ps(_mm512_add_ps(s1, b), q1), 0.0f, act, lo, hi);
        } else if (last) {
            const float b = bias ? bias[r] : 0.0f;
            s0 = finish16(s0, b, act, lo, hi);
            s1 = finish16(s1, b, act, lo, hi);
        }
        if (full) {
            _mm512_storeu_ps(o, s0);
            _mm512_storeu_ps(o + 16, s1);
        } else {
            _mm512_mask_storeu_ps(o, m0, s0);
            _mm512_mask_storeu_ps(o + 16, m1, s1);
        }
    }
}

/* Rows r0..<r0 + R (R a constant at each call site) over every column block: each output
   row written as one run, few streams at a time; a tile's blocks of inputs one after another. */
AVX512 static inline __attribute__((always_inline)) void pw_rows(int R, const float *x, ptrdiff_t ldx, int k,
                                                                   const float *w, float *out, ptrdiff_t ldo, int j0,
                                                                   int j1, const float *bias, const float *res,
                                                                   int act, __m512 lo, __m512 hi) {
    for (int j = j0; j < j1; j += PW_COLS) {
        const int n = j1 - j;
        const __mmask16 m0 = first_lanes(n), m1 = n > 16 ? first_lanes(n - 16) : 0;
        /* The next tile's output lines, asked for in the write state while this one sums: a
           layer's output has usually left the cache, and a store to such a line waited for
           it (MobileNetV3's two 112×112 layers on this kernel 0.69 → 0.56 ms on one thread in
           a whole pass). A prefetch never faults, so the last tile's may point past the row. */
        if (j + PW_COLS < j1)
#pragma clang loop unroll(full)
            for (int r = 0; r < R; r++) {
                _mm_prefetch((const char *)(out + (ptrdiff_t)r * ldo + j + PW_COLS), _MM_HINT_ET0);
                _mm_prefetch((const char *)(out + (ptrdiff_t)r * ldo + j + PW_COLS + 16), _MM_HINT_ET0);
            }
        for (int k0 = 0; k0 < k; k0 += SRK_SUM_BLOCK) {
            const int kc = k - k0 < SRK_SUM_BLOCK ? k - k0 : SRK_SUM_BLOCK;
            const float *xb = x + (ptrdiff_t)k0 * ldx + j;
            const int last = k0 + kc == k;
            if (n >= PW_COLS)
                pw_tile(R, xb, ldx, kc, w + k0, k, out + j, ldo, 0xFFFF, 0xFFFF, 1, k0 == 0, last, bias, res ? res + j : 0,
                        act, lo, hi);
            else pw_tile(R, xb, ldx, kc, w + k0, k, out + j, ldo, m0, m1, 0, k0 == 0, last, bias, res ? res + j : 0, act, lo,
                         hi);
        }
    }
}

AVX512 static void pointwise_avx512(const float *x, ptrdiff_t ldx, int k, const float *w, float *out, ptrdiff_t ldo,
                                    int r0, int r1, int j0, int j1, const float *bias, const float *residual, int act,
                                    float lo, float hi) {
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    int r = r0;
#define ROWS(R) pw_rows(R, x, ldx, k, w + (size_t)r * k, out + (ptrdiff_t)r * ldo, ldo, j0, j1, bias ? bias + r : 0, \
                        residual ? residual + (ptrdiff_t)r * ldo : 0, act, vlo, vhi)
    for (; r + PW_ROWS <= r1; r += PW_ROWS) ROWS(PW_ROWS);
    switch (r1 - r) {
    case 7: ROWS(7); break;
    case 6: ROWS(6); break;
    case 5: ROWS(5); break;
    case 4: ROWS(4); break;
    case 3: ROWS(3); break;
    case 2: ROWS(2); break;
    case 1: ROWS(1); break;
    default: break;
    }
#undef ROWS
}
#endif

void srk_pointwise_finished(const float *x, ptrdiff_t ldx, int k, const float *w, float *out, ptrdiff_t ldo, int r0,
                            int r1, int j0, int j1, const float *bias, const float *residual, int act, float lo,
                            float hi) {
#if defined(__x86_64__)
    if (srk_isa() == SRK_ISA_AVX512) {
        pointwise_avx512(x, ldx, k, w, out, ldo, r0, r1, j0, j1, bias, residual, act, lo, hi);
        return;
    }
#endif
    pointwise_scalar(x, ldx, k, w, out, ldo, r0, r1, j0, j1, bias, residual, act, lo, hi);
}

void srk_pointwise(const float *x, ptrdiff_t ldx, int k, const float *w, float *out, ptrdiff_t ldo, int r0, int r1,
                   int j0, int j1) {
    srk_pointwise_finished(x, ldx, k, w, out, ldo, r0, r1, j0, j1, 0, 0, SRK_FINISH_NONE, 0.0f, 0.0f);
}
