#include "ckernels.h"
#include "targets.h"

#include <math.h>

/* An image's first layer: few input channels (RGB), square K × K filters at stride 2
   (MobileNet's, EfficientNet's, ShuffleNet's 3 × 3 stem; ResNet's 7 × 7), on NCHW planes.

   AVX-512: the band's input rows are split once into their even and odd columns, E[m] =
   row[2m] and O[m] = row[2m + 1], each line with P zeros in front and zeros past the row, so
   tap j of output column ox (input column 2·ox − left + j = 2(ox + s) + parity, s = ⌊(j −
   left)/2⌋) is one unaligned load of 16 outputs' inputs from E or O, no masks. Each load
   feeds 16 output channels (their weights broadcast from a table of 16 per tap), so a block
   is 16 output pixels of a row × 16 channels, 16 sums in registers, stored straight into
   the channels' planes.

   Sums: each output is Σ over the taps (c, i, j) in that order from 0, a tap in the padding
   adding 0·w; with `fused` one fused multiply-add per tap — the order and steps of the packed
   product over the same taps (gemm.c, up to SRK_SUM_BLOCK taps) — else a rounded product
   and an add per tap, the steps of SRRuntime's direct loops under an explanation
   (Kernels.directConv2d), so the same bits as each. No bias: the caller adds it after, as
   both do. */
#define LANES 16
/* Zeros in front of each split line: s ≥ −P for left ≤ 2P. */
#define P 4

/* Floats of one split line (E or O) for wo output columns, a multiple of 16 (its zeroing
   stores whole vectors). */
static size_t line_floats(int wo, int k) { return ((size_t)P + (size_t)wo + LANES + (size_t)k + LANES - 1) / LANES * LANES; }

size_t srk_stem_scratch(int c, int k, int wo, int o, int rows) {
    const size_t rows_in = (size_t)(rows - 1) * 2 + (size_t)k, oc = ((size_t)o + LANES - 1) / LANES * LANES;
    return (size_t)c * rows_in * 2 * line_floats(wo, k) + (size_t)c * k * k * oc;
}

static void stem_scalar(const float *x, int c, int h, int w, const float *weights, int o, int k, int top,
                        int left, float *out, int ho, int wo, int oy0, int oy1, int fused) {
    for (int oc = 0; oc < o; oc++)
        for (int oy = oy0; oy < oy1; oy++)
            for (int ox = 0; ox < wo; ox++) {
                float acc = 0.0f;
                for (int ch = 0; ch < c; ch++)
                    for (int i = 0; i < k; i++)
                        for (int j = 0; j < k; j++) {
                            const int iy = oy * 2 + i - top, ix = ox * 2 + j - left;
                            const float v = iy >= 0 && iy < h && ix >= 0 && ix < w ? x[((size_t)ch * h + iy) * w + ix] : 0.0f;
                            const float wt = weights[(((size_t)oc * c + ch) * k + i) * k + j];
                            if (fused) {
                                acc = fmaf(v, wt, acc);
                            } else {
                                /* Two statements: the product is rounded before the add. */
                                const float product = v * wt;
                                acc += product;
                            }
                        }
                out[((size_t)oc * ho + oy) * wo + ox] = acc;
            }
}

#if defined(__x86_64__)
/* Splits `row` (NULL: a row of padding, all zeros) into the lines E at `e` and O at `od`. */
AVX512 static void split_row(const float *row, int w, int wo, int k, float *e, float *od) {
    const size_t n = line_floats(wo, k);
    const __m512 zero = _mm512_setzero_ps();
    for (size_t m = 0; m < n; m += LANES) {
        _mm512_storeu_ps(e + m, zero);
        _mm512_storeu_ps(od + m, zero);
    }
    if (!row) return;
    const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odds = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    /* Input columns 32q … 32q + 31 give E and O entries 16q … 16q + 15, stored at P on. */
    for (int x0 = 0; x0 < w; x0 += 2 * LANES) {
        const int left = w - x0;
        const __m512 a = _mm512_maskz_loadu_ps(first_lanes(left), row + x0);
        const __m512 b = _mm512_maskz_loadu_ps(left > LANES ? first_lanes(left - LANES) : 0, row + x0 + LANES);
        const int m = x0 / 2, keep = (left + 1) / 2, keep_odd = left / 2;
        _mm512_mask_storeu_ps(e + P + m, first_lanes(keep), _mm512_permutex2var_ps(a, evens, b));
        _mm512_mask_storeu_ps(od + P + m, first_lanes(keep_odd), _mm512_permutex2var_ps(a, odds, b));
    }
}

AVX512 static inline __attribute__((always_inline)) void stem_body(const float *x, int c, int h, int w,
                                                                    const float *weights, int o, int k, int top,
                                                                    int left, float *out, int ho, int wo, int oy0,
                                                                    int oy1, float *scratch, const int fused) {
    const int rows = oy1 - oy0, rows_in = (rows - 1) * 2 + k, taps = c * k * k;
    const int oc = (o + LANES - 1) / LANES * LANES;
    const size_t lf = line_floats(wo, k);
    float *lines = scratch;
    /* Weights by tap, 16 channels a block: wt[tap·oc + channel], 0 past o, after the lines. */
    float *wt = scratch + (size_t)c * rows_in * 2 * lf;
    for (int t = 0; t < taps; t++)
        for (int ch = 0; ch < oc; ch++) wt[(size_t)t * oc + ch] = ch < o ? weights[(size_t)ch * taps + t] : 0.0f;
    for (int ch = 0; ch < c; ch++)
        for (int r = 0; r < rows_in; r++) {
            const int iy = oy0 * 2 - top + r;
            float *e = lines + ((size_t)ch * rows_in + r) * 2 * lf;
            split_row(iy >= 0 && iy < h ? x + ((size_t)ch * h + iy) * w : NULL, w, wo, k, e, e + lf);
        }
    /* Each tap's offset into its channel's first split line of the output row: the row
       (i), E or O (parity) and s. */
    int offset[7 * 7 * 4];
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) {
                const int t = j - left, s = t >= 0 ? t / 2 : -((1 - t) / 2), parity = t - 2 * s;
                offset[(ch * k + i) * k + j] = (int)(((size_t)ch * rows_in + i) * 2 * lf + parity * lf) + P + s;
            }
    for (int oy = oy0; oy < oy1; oy++) {
        const float *base = lines + (size_t)(oy - oy0) * 2 * 2 * lf;
        for (int ox = 0; ox < wo; ox += LANES) {
            const __mmask16 keep = first_lanes(wo - ox);
            for (int cb = 0; cb < o; cb += LANES) {
                __m512 acc[LANES];
#pragma clang loop unroll(full)
                for (int l = 0; l < LANES; l++) acc[l] = _mm512_setzero_ps();
                const float *wp = wt + cb;
                for (int t = 0; t < taps; t++, wp += oc) {
                    const __m512 v = _mm512_loadu_ps(base + offset[t] + ox);
#pragma clang loop unroll(full)
                    for (int l = 0; l < LANES; l++)
                        acc[l] = fused ? _mm512_fmadd_ps(v, _mm512_set1_ps(wp[l]), acc[l])
                                       : _mm512_add_ps(acc[l], _mm512_mul_ps(v, _mm512_set1_ps(wp[l])));
                }
                const int n = o - cb < LANES ? o - cb : LANES;
                float *dst = out + ((size_t)cb * ho + oy) * wo + ox;
#pragma clang loop unroll(full)
                for (int l = 0; l < LANES; l++)
                    if (l < n) _mm512_mask_storeu_ps(dst + (size_t)l * ho * wo, keep, acc[l]);
            }
        }
    }
}

AVX512 static void stem_fused(const float *x, int c, int h, int w, const float *weights, int o, int k, int top,
                              int left, float *out, int ho, int wo, int oy0, int oy1, float *scratch) {
    stem_body(x, c, h, w, weights, o, k, top, left, out, ho, wo, oy0, oy1, scratch, 1);
}

AVX512 static void stem_unfused(const float *x, int c, int h, int w, const float *weights, int o, int k, int top,
                                int left, float *out, int ho, int wo, int oy0, int oy1, float *scratch) {
    stem_body(x, c, h, w, weights, o, k, top, left, out, ho, wo, oy0, oy1, scratch, 0);
}
#endif

int srk_stem_runs(int c, int k) { return srk_isa() == SRK_ISA_AVX512 && c >= 1 && c <= 4 && k >= 1 && k <= 7; }

void srk_stem(const float *x, int c, int h, int w, const float *weights, int o, int k, int top, int left, float *out,
              int ho, int wo, int oy0, int oy1, float *scratch, int fused) {
#if defined(__x86_64__)
    /* A left pad past 2P would reach in front of the split lines' zeros. */
    if (srk_stem_runs(c, k) && left >= 0 && left < 2 * P) {
        if (fused) stem_fused(x, c, h, w, weights, o, k, top, left, out, ho, wo, oy0, oy1, scratch);
        else stem_unfused(x, c, h, w, weights, o, k, top, left, out, ho, wo, oy0, oy1, scratch);
        return;
    }
#endif
    (void)scratch;
    stem_scalar(x, c, h, w, weights, o, k, top, left, out, ho, wo, oy0, oy1, fused);
}
