#include "ckernels.h"
#include "targets.h"
#include "transpose16.h"

#include <math.h>
#include <string.h>

/* Depthwise convolution (one filter per channel) on NCHW planes, channels in blocks of 16
   (below; 3 × 3 and 5 × 5 filters at stride 1 run on the planes themselves, further down).

   AVX-512: a block's input rows are interleaved into `buf` (row r, padded column q at
   (r·pw + q)·16, channel in the lane), by 16 × 16 transposes, with the padding as zeros;
   each output pixel of the block is then one vector whose 16 lanes are the 16 channels, so
   no lane is wasted on a 7 × 7 map and no tap needs an edge case. The sums go to `obuf`
   (pixel p of the band at p·16) and are transposed back into the channels' planes.

   Sums: each output is Σ over the taps (i, j) in row-major order, one fused multiply-add
   per tap from 0, a tap in the padding adding 0·w: the steps of the scalar loops and of
   SRRuntime's fused row loops (Kernels.directConv2d), so all give the same bits. The bias
   is the caller's, added afterwards as those row loops add it. */
#define LANES 16
/* Output columns per register block. */
#define COLS 8

size_t srk_depthwise_scratch(int kh, int kw, int stride, int wo, int rows) {
    const size_t pw = (size_t)(wo - 1) * stride + kw, rows_in = (size_t)(rows - 1) * stride + kh;
    /* buf, with COLS·stride columns of slack for a register block past the row's end; obuf,
       with 16 pixels of slack for the last transpose. */
    return (rows_in * pw + (size_t)COLS * stride + 1) * LANES + ((size_t)rows * wo + 16) * LANES;
}

size_t srk_depthwise_blocks_size(int c, int taps) { return (size_t)((c + LANES - 1) / LANES) * taps * LANES; }

/* Each block is its channels' rows of weights transposed (srk_transpose), in lanes of zeros. */
void srk_depthwise_blocks(const float *weights, int c, int taps, float *blocks) {
    for (int c0 = 0; c0 < c; c0 += LANES) {
        float *block = blocks + (size_t)(c0 / LANES) * taps * LANES;
        memset(block, 0, (size_t)taps * LANES * sizeof(float));
        srk_transpose(weights + (size_t)c0 * taps, c - c0 < LANES ? c - c0 : LANES, taps, taps, block, LANES);
    }
}

static void depthwise_scalar(const float *x, int h, int w, const float *weights, int kh, int kw,
                             int stride, int top, int left, float *out, int ho, int wo, int c0, int c1, int oy0,
                             int oy1) {
    for (int ch = c0; ch < c1; ch++) {
        const float *plane = x + (size_t)ch * h * w, *wt = weights + (size_t)ch * kh * kw;
        for (int oy = oy0; oy < oy1; oy++)
            for (int ox = 0; ox < wo; ox++) {
                float acc = 0.0f;
                for (int i = 0; i < kh; i++)
                    for (int j = 0; j < kw; j++) {
                        const int iy = oy * stride + i - top, ix = ox * stride + j - left;
                        const float v = iy >= 0 && iy < h && ix >= 0 && ix < w ? plane[(size_t)iy * w + ix] : 0.0f;
                        acc = fmaf(v, wt[i * kw + j], acc);
                    }
                out[((size_t)ch * ho + oy) * wo + ox] = acc;
            }
    }
}

#if defined(__x86_64__)
/* The 16 rows of 16 floats at p (64-byte aligned, one after another) transposed into r. The
   loads feed the first step directly: loading them into an array first became a memcpy
   call. */
AVX512 static inline __attribute__((always_inline)) void load_transposed(const float *p, __m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        const __m512 a = _mm512_load_ps(p + i * LANES), b = _mm512_load_ps(p + (i + 1) * LANES);
        t[i] = _mm512_unpacklo_ps(a, b);
        t[i + 1] = _mm512_unpackhi_ps(a, b);
    }
    transpose_rest(t, r);
}

/* no_builtin: the compiler otherwise turns the padding's few zero stores per row and the
   copies of a transposed block into memset and memcpy calls, one per row and block. */
AVX512 __attribute__((no_builtin("memset", "memcpy"))) static void depthwise_avx512(const float *x, int h, int w, const float *blocks, int kh, int kw, int stride,
                                    int top, int left, float *out, int ho, int wo, int c0, int c1,
                                    int oy0, int oy1, float *scratch) {
    const int rows = oy1 - oy0, taps = kh * kw, nch = c1 - c0;
    const int pw = (wo - 1) * stride + kw, rows_in = (rows - 1) * stride + kh;
    float *buf = scratch;
    float *obuf = buf + ((size_t)rows_in * pw + (size_t)COLS * stride + 1) * LANES;
    /* The block's filters, tap t's 16 lanes at t·16 (srk_depthwise_blocks). */
    const float *wv = blocks + (size_t)(c0 / LANES) * taps * LANES;
    const __mmask16 chans = first_lanes(nch);

    /* Interleave: buf row r is input row oy0·stride − top + r. */
    const __m512 zero = _mm512_setzero_ps();
    for (int r = 0; r < rows_in; r++) {
        float *line = buf + (size_t)r * pw * LANES;
        const int iy = oy0 * stride - top + r;
        if (iy < 0 || iy >= h) {
            for (int q = 0; q < pw; q++) _mm512_store_ps(line + (size_t)q * LANES, zero);
            continue;
        }
        /* Columns q < left and q ≥ left + w are padding. */
        const int last = left + w < pw ? left + w : pw;
        for (int q = 0; q < left && q < pw; q++) _mm512_store_ps(line + (size_t)q * LANES, zero);
        for (int q = last; q < pw; q++) _mm512_store_ps(line + (size_t)q * LANES, zero);
        /* The lanes of channels past c1 repeat channel c1 − 1; their weights are 0 and their
           sums are never stored. Unconditional loads keep v in registers. */
        const float *src[16];
        for (int l = 0; l < 16; l++) src[l] = x + ((size_t)(l < nch ? c0 + l : c1 - 1) * h + iy) * w;
        for (int x0 = 0; x0 < last - left; x0 += 16) {
            const int n = last - left - x0 < 16 ? last - left - x0 : 16;
            const __mmask16 m = first_lanes(n);
            __m512 v[16];
            for (int l = 0; l < 16; l++) v[l] = _mm512_maskz_loadu_ps(m, src[l] + x0);
            transpose16(v);
            for (int k = 0; k < n; k++) _mm512_store_ps(line + (size_t)(left + x0 + k) * LANES, v[k]);
        }
    }
    /* Sums, COLS output columns at a time; a block past the row's end reads the slack and
       its extra sums are not stored. */
    for (int oy = 0; oy < rows; oy++) {
        const float *in = buf + (size_t)oy * stride * pw * LANES;
        float *o = obuf + (size_t)oy * wo * LANES;
        for (int ox = 0; ox < wo; ox += COLS) {
            /* Eight named sums, so the compiler keeps them in registers and each tap's eight
               multiply-adds are independent. */
            __m512 a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero;
            const ptrdiff_t step = (ptrdiff_t)stride * LANES;
            const float *wt = wv;
            for (int i = 0; i < kh; i++) {
                const float *p = in + ((size_t)i * pw + (size_t)ox * stride) * LANES;
                for (int jj = 0; jj < kw; jj++, p += LANES, wt += LANES) {
                    const __m512 v = _mm512_load_ps(wt);
                    a0 = _mm512_fmadd_ps(_mm512_load_ps(p), v, a0);
                    a1 = _mm512_fmadd_ps(_mm512_load_ps(p + step), v, a1);
                    a2 = _mm512_fmadd_ps(_mm512_load_ps(p + 2 * step), v, a2);
                    a3 = _mm512_fmadd_ps(_mm512_load_ps(p + 3 * step), v, a3);
                    a4 = _mm512_fmadd_ps(_mm512_load_ps(p + 4 * step), v, a4);
                    a5 = _mm512_fmadd_ps(_mm512_load_ps(p + 5 * step), v, a5);
                    a6 = _mm512_fmadd_ps(_mm512_load_ps(p + 6 * step), v, a6);
                    a7 = _mm512_fmadd_ps(_mm512_load_ps(p + 7 * step), v, a7);
                }
            }
            /* One store per sum (no array, which the compiler turned into a memmove call per
               block), the last block's extra sums skipped. */
            const int n = wo - ox;
            float *d = o + (size_t)ox * LANES;
            _mm512_store_ps(d, a0);
            if (n > 1) _mm512_store_ps(d + LANES, a1);
            if (n > 2) _mm512_store_ps(d + 2 * LANES, a2);
            if (n > 3) _mm512_store_ps(d + 3 * LANES, a3);
            if (n > 4) _mm512_store_ps(d + 4 * LANES, a4);
            if (n > 5) _mm512_store_ps(d + 5 * LANES, a5);
            if (n > 6) _mm512_store_ps(d + 6 * LANES, a6);
            if (n > 7) _mm512_store_ps(d + 7 * LANES, a7);
        }
    }
    /* Back to the planes: the band's rows oy0 … oy1 − 1 are one run of each channel's plane. */
    const int pixels = rows * wo;
    for (int p0 = 0; p0 < pixels; p0 += 16) {
        const int n = pixels - p0 < 16 ? pixels - p0 : 16;
        /* Past the band's last pixel the loads read obuf's slack, stored nowhere. */
        __m512 v[16];
        load_transposed(obuf + (size_t)p0 * LANES, v);
        const __mmask16 m = first_lanes(n);
        for (int l = 0; l < 16; l++)
            if ((chans >> l) & 1) _mm512_mask_storeu_ps(out + ((size_t)(c0 + l) * ho + oy0) * wo + p0, m, v[l]);
    }
}

/* Stride 1, square 3 × 3 or 5 × 5 filters, AVX-512: straight on the planes, no
   interleaving. A block is nr ≤ PR = 4 output rows × 16 columns of one channel; each of
   its nr + K − 1 input rows is loaded once per column shift j and multiplied into every
   output row it reaches (tap i = y − r), so a load feeds up to K sums. Each sum still takes
   its taps in row-major order, one fused multiply-add each from 0. Rows past the input's
   top and bottom read a line of zeros; the columns of a block touching the left or right
   edge load with masks, zeros outside, as the padded planes hold. */
#define PR 4

/* Lanes l with 0 ≤ c + l < w. */
static inline __mmask16 inside_lanes(int c, int w) {
    const int lo = c < 0 ? -c : 0, hi = w - c < 16 ? w - c : 16;
    return hi <= lo ? 0 : (__mmask16)(first_lanes(hi) & ~first_lanes(lo));
}

/* Output rows r < nr of the block at column ix0 + left; lines[y] is input row y of the
   block (or the zero line); masks[j] the lanes of shift j inside the input, when `masked`. */
AVX512 static inline __attribute__((always_inline)) void plane_block(const float *const *lines, const __m512 *wt,
                                                                       int K, int nr, int ix0, const __mmask16 *masks,
                                                                       int masked, float *o, int wo, __mmask16 keep) {
    __m512 acc[PR];
#pragma clang loop unroll(full)
    for (int r = 0; r < PR; r++) acc[r] = _mm512_setzero_ps();
#pragma clang loop unroll(full)
    for (int y = 0; y < nr + K - 1; y++) {
#pragma clang loop unroll(full)
        for (int j = 0; j < K; j++) {
            const float *p = lines[y] + ix0 + j;
            const __m512 v = masked ? _mm512_maskz_loadu_ps(masks[j], p) : _mm512_loadu_ps(p);
#pragma clang loop unroll(full)
            for (int r = 0; r < nr; r++) {
                const int i = y - r;
                if (i >= 0 && i < K) acc[r] = _mm512_fmadd_ps(v, wt[i * K + j], acc[r]);
            }
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < nr; r++) _mm512_mask_storeu_ps(o + (size_t)r * wo, keep, acc[r]);
}

/* One row block of nr output rows, every column block. */
AVX512 static inline __attribute__((always_inline)) void plane_rows(const float *const *lines, const __m512 *wt, int K,
                                                                      int nr, int w, int left, float *o, int wo) {
    __mmask16 masks[5];
    for (int ox = 0; ox < wo; ox += 16) {
        const int ix0 = ox - left, n = wo - ox < 16 ? wo - ox : 16;
        if (ix0 >= 0 && ix0 + 15 + K <= w) {
            plane_block(lines, wt, K, nr, ix0, masks, 0, o + ox, wo, first_lanes(n));
        } else {
            for (int j = 0; j < K; j++) masks[j] = inside_lanes(ix0 + j, w);
            plane_block(lines, wt, K, nr, ix0, masks, 1, o + ox, wo, first_lanes(n));
        }
    }
}

/* `zeros`: w + 2·16 + 2K floats of 0, the zero line starting 16 + K in. */
AVX512 static inline __attribute__((always_inline)) void planes_body(const float *x, int h, int w,
                                                                      const float *weights, int K, int top, int left,
                                                                      float *out, int ho, int wo, int c0, int c1,
                                                                      int oy0, int oy1, const float *zeros) {
    __m512 wt[25];
    const float *lines[PR + 4];
    for (int ch = c0; ch < c1; ch++) {
        const float *plane = x + (size_t)ch * h * w;
        for (int t = 0; t < K * K; t++) wt[t] = _mm512_set1_ps(weights[(size_t)ch * K * K + t]);
        for (int oy = oy0; oy < oy1; oy += PR) {
            const int nr = oy1 - oy < PR ? oy1 - oy : PR;
            /* Scalar stores: a vector store of the pointers stalled the loads that read them
               back (a quarter of the kernel's time). */
#pragma clang loop vectorize(disable)
            for (int y = 0; y < nr + K - 1; y++) {
                const int iy = oy - top + y;
                lines[y] = iy >= 0 && iy < h ? plane + (size_t)iy * w : zeros + 16 + K;
            }
            float *o = out + ((size_t)ch * ho + oy) * wo;
            switch (nr) {
            case 4: plane_rows(lines, wt, K, 4, w, left, o, wo); break;
            case 3: plane_rows(lines, wt, K, 3, w, left, o, wo); break;
            case 2: plane_rows(lines, wt, K, 2, w, left, o, wo); break;
            default: plane_rows(lines, wt, K, 1, w, left, o, wo); break;
            }
        }
    }
}

#define PLANES(K)                                                                                              \
    AVX512 static void planes_##K(const float *x, int h, int w, const float *weights, int top, int left,        \
                                  float *out, int ho, int wo, int c0, int c1, int oy0, int oy1, const float *zeros) { \
        planes_body(x, h, w, weights, K, top, left, out, ho, wo, c0, c1, oy0, oy1, zeros);                     \
    }
PLANES(3)
PLANES(5)
#endif

void srk_depthwise(const float *x, int h, int w, const float *weights, const float *blocks, int kh, int kw, int stride,
                   int top, int left, float *out, int ho, int wo, int c0, int c1, int oy0, int oy1, float *scratch) {
#if defined(__x86_64__)
    if (srk_isa() == SRK_ISA_AVX512) {
        /* The planes for 3 × 3 filters on every map (MobileNetV2's 112-pixel layers took half
           the time, its 7-pixel ones the same) and 5 × 5 on maps of 28 pixels or more
           (EfficientNet-B0's 28-pixel layer 13 % less, its 14-pixel ones the same, 7-pixel
           ones twice as long); 7 × 7 filters (ConvNeXt) ran 8–170 % longer on the planes. */
        if (stride == 1 && kh == kw && (kh == 3 || (kh == 5 && wo >= 28))) {
            /* The zero line, at most 16·pw floats in (srk_depthwise_scratch). */
            memset(scratch, 0, ((size_t)w + 32 + 2 * (size_t)kh) * sizeof(float));
            if (kh == 3) planes_3(x, h, w, weights, top, left, out, ho, wo, c0, c1, oy0, oy1, scratch);
            else planes_5(x, h, w, weights, top, left, out, ho, wo, c0, c1, oy0, oy1, scratch);
            return;
        }
        for (int c = c0; c < c1; c += LANES)
            depthwise_avx512(x, h, w, blocks, kh, kw, stride, top, left, out, ho, wo, c,
                             c1 - c < LANES ? c1 : c + LANES, oy0, oy1, scratch);
        return;
    }
#endif
    (void)scratch;
    (void)blocks;
    depthwise_scalar(x, h, w, weights, kh, kw, stride, top, left, out, ho, wo, c0, c1, oy0, oy1);
}
