#include "ckernels.h"
#include "targets.h"

#include <stdlib.h>
#include <string.h>

/* Winograd's input transforms V = Bᵀ d B of one plane's tiles on AVX-512, sixteen tiles of a
   tile row per vector, each with the bits of SRRuntime's Swift transform (eight tiles a
   vector): every product and sum is its own rounded operation in the Swift code's order, no
   fused multiply-add (intrinsics are never contracted).

   Per tile row the input rows it reads are copied once into zero-padded lines (column 0 =
   input column −pl), so border tiles need no case of their own, and the patch columns of
   sixteen neighbouring tiles come from the lines by permutes.

   F(4×4, 3×3) (WinogradF4.swift, `transformInputF4`): Bᵀ = [[4, 0, −5, 0, 1, 0],
   [0, −4, −4, 1, 1, 0], [0, 4, −4, −1, 1, 0], [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0],
   [0, 4, 0, −5, 0, 1]]; six lines; column k of the patches is every fourth float from
   4·tx + k: the 64 floats from 4·tx split by two rounds of even/odd permutes into columns
   0–3, columns 4 and 5 those of 0 and 1 moved on by one tile. Bᵀ over each row's six
   columns, then over the six rows.

   F(2×2, 3×3) (Winograd.swift, `transformInput`): Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0],
   [0, −1, 1, 0], [0, 1, 0, −1]]; four lines; columns 0 and 1 are the even and odd floats of
   the 32 from 2·tx, columns 2 and 3 those of the 32 from 2·tx + 2. Bᵀ over the rows, then
   over the columns. */
#define GROUP 16

/* Floats in one zero-padded line for tw tiles a row of `size` (4 or 2) outputs: the group at
   tile column tx < tw reads floats up to size·(tx + 16) + 1. */
static size_t line_floats(int size, int tw) { return (size_t)size * (tw + GROUP) + 8; }

/* `count` lines of `width` floats from input row first_row − pt on: input columns 0..<w at
   pl..<pl + w (as far as the line reaches), zeros elsewhere and for rows outside the plane. */
static void load_lines(const float *plane, int h, int w, int pt, int pl, int first_row, int count, int width,
                       float *lines) {
    for (int r = 0; r < count; r++) {
        float *line = lines + (size_t)r * width;
        const int y = first_row - pt + r;
        const int n = y < 0 || y >= h ? 0 : (w < width - pl ? w : width - pl);
        memset(line, 0, (size_t)pl * sizeof(float));
        if (n > 0) memcpy(line + pl, plane + (size_t)y * w, (size_t)n * sizeof(float));
        memset(line + pl + n, 0, (size_t)(width - pl - n) * sizeof(float));
    }
}

#if defined(__x86_64__)
/* y0..y5 = Bᵀ (x0..x5), lane by lane: (4x0 − 5x2) + x4, t1 ± t2, t3 ± t4 with t1 = x4 − 4x2,
   t2 = x3 − 4x1, t3 = x4 − x2, t4 = 2(x3 − x1), and (4x1 − 5x3) + x5. */
AVX512 static inline __attribute__((always_inline)) void bt16(const __m512 x[6], __m512 y[6]) {
    const __m512 c2 = _mm512_set1_ps(2), c4 = _mm512_set1_ps(4), c5 = _mm512_set1_ps(5);
    const __m512 t1 = _mm512_sub_ps(x[4], _mm512_mul_ps(c4, x[2])), t2 = _mm512_sub_ps(x[3], _mm512_mul_ps(c4, x[1]));
    const __m512 t3 = _mm512_sub_ps(x[4], x[2]), t4 = _mm512_mul_ps(c2, _mm512_sub_ps(x[3], x[1]));
    y[0] = _mm512_add_ps(_mm512_sub_ps(_mm512_mul_ps(c4, x[0]), _mm512_mul_ps(c5, x[2])), x[4]);
    y[1] = _mm512_add_ps(t1, t2);
    y[2] = _mm512_sub_ps(t1, t2);
    y[3] = _mm512_add_ps(t3, t4);
    y[4] = _mm512_sub_ps(t3, t4);
    y[5] = _mm512_add_ps(_mm512_sub_ps(_mm512_mul_ps(c4, x[1]), _mm512_mul_ps(c5, x[3])), x[5]);
}

/* Lanes 2i and 2i + 1 of a pair of vectors: the even and the odd floats of 32. */
#define EVEN _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0)
#define ODD _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1)

/* F(4×4) of the sixteen tiles from tile column tx of the six loaded lines, the lanes under
   m stored at dst + ξ·stride. */
AVX512 static inline __attribute__((always_inline)) void f4_group(const float *lines, int width, int tx, __mmask16 m,
                                                                    float *dst, ptrdiff_t stride) {
    const __m512i even = EVEN, odd = ODD;
    __m512 rows[6][6];
    for (int r = 0; r < 6; r++) {
        const float *p = lines + (size_t)r * width + 4 * tx;
        const __m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
        const __m512 c = _mm512_loadu_ps(p + 32), d = _mm512_loadu_ps(p + 48);
        const __m512 e01 = _mm512_permutex2var_ps(a, even, b), o01 = _mm512_permutex2var_ps(a, odd, b);
        const __m512 e23 = _mm512_permutex2var_ps(c, even, d), o23 = _mm512_permutex2var_ps(c, odd, d);
        __m512 x[6];
        x[0] = _mm512_permutex2var_ps(e01, even, e23);
        x[2] = _mm512_permutex2var_ps(e01, odd, e23);
        x[1] = _mm512_permutex2var_ps(o01, even, o23);
        x[3] = _mm512_permutex2var_ps(o01, odd, o23);
        /* Columns 4 and 5: columns 0 and 1 of the next sixteen tiles, the last lane's from
           past the group (4·tx + 64 and 65). */
        x[4] = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(_mm512_set1_ps(p[64])),
                                                       _mm512_castps_si512(x[0]), 1));
        x[5] = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(_mm512_set1_ps(p[65])),
                                                       _mm512_castps_si512(x[1]), 1));
        bt16(x, rows[r]);
    }
    for (int k = 0; k < 6; k++) {
        const __m512 x[6] = {rows[0][k], rows[1][k], rows[2][k], rows[3][k], rows[4][k], rows[5][k]};
        __m512 y[6];
        bt16(x, y);
        for (int i = 0; i < 6; i++) _mm512_mask_storeu_ps(dst + (ptrdiff_t)(i * 6 + k) * stride, m, y[i]);
    }
}

/* F(2×2) of the sixteen tiles from tile column tx of the four loaded lines. */
AVX512 static inline __attribute__((always_inline)) void f2_group(const float *lines, int width, int tx, __mmask16 m,
                                                                    float *dst, ptrdiff_t stride) {
    const __m512i even = EVEN, odd = ODD;
    /* d[r][k]: column k of row r of the sixteen patches. */
    __m512 d[4][4];
    for (int r = 0; r < 4; r++) {
        const float *p = lines + (size_t)r * width + 2 * tx;
        const __m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
        const __m512 c = _mm512_loadu_ps(p + 2), e = _mm512_loadu_ps(p + 18);
        d[r][0] = _mm512_permutex2var_ps(a, even, b);
        d[r][1] = _mm512_permutex2var_ps(a, odd, b);
        d[r][2] = _mm512_permutex2var_ps(c, even, e);
        d[r][3] = _mm512_permutex2var_ps(c, odd, e);
    }
    for (int k = 0; k < 4; k++) {
        /* Bᵀ over the rows of column k ... */
        const __m512 r0 = _mm512_sub_ps(d[0][k], d[2][k]), r1 = _mm512_add_ps(d[1][k], d[2][k]);
        const __m512 r2 = _mm512_sub_ps(d[2][k], d[1][k]), r3 = _mm512_sub_ps(d[1][k], d[3][k]);
        d[0][k] = r0; d[1][k] = r1; d[2][k] = r2; d[3][k] = r3;
    }
    for (int i = 0; i < 4; i++) {
        /* ... then over the columns of row i: element 4i + k. */
        const __m512 *q = d[i];
        _mm512_mask_storeu_ps(dst + (ptrdiff_t)(4 * i) * stride, m, _mm512_sub_ps(q[0], q[2]));
        _mm512_mask_storeu_ps(dst + (ptrdiff_t)(4 * i + 1) * stride, m, _mm512_add_ps(q[1], q[2]));
        _mm512_mask_storeu_ps(dst + (ptrdiff_t)(4 * i + 2) * stride, m, _mm512_sub_ps(q[2], q[1]));
        _mm512_mask_storeu_ps(dst + (ptrdiff_t)(4 * i + 3) * stride, m, _mm512_sub_ps(q[1], q[3]));
    }
}

/* Tiles t0..<t1 in groups of up to sixteen within a tile row, the tile row's size + 2 input
   lines loaded when it changes. */
AVX512 static void input_avx512(int size, const float *plane, int h, int w, int pt, int pl, int tw, int t0, int t1,
                                float *v, ptrdiff_t stride, float *lines) {
    const int width = (int)line_floats(size, tw);
    int loaded = -1;
    for (int t = t0; t < t1;) {
        const int ty = t / tw, tx = t % tw;
        int group = t1 - t < tw - tx ? t1 - t : tw - tx;
        if (group > GROUP) group = GROUP;
        if (ty != loaded) {
            loaded = ty;
            load_lines(plane, h, w, pt, pl, size * ty, size + 2, width, lines);
        }
        if (size == 4) f4_group(lines, width, tx, first_lanes(group), v + (t - t0), stride);
        else f2_group(lines, width, tx, first_lanes(group), v + (t - t0), stride);
        t += group;
    }
}
#endif

int srk_winograd_input(int size, const float *plane, int h, int w, int pt, int pl, int tw, int t0, int t1, float *v,
                       ptrdiff_t stride) {
#if defined(__x86_64__)
    if (srk_isa() != SRK_ISA_AVX512 || pl < 0 || (size != 4 && size != 2)) return 0;
    /* The lines on the stack up to 48 KB (F(4×4) on maps up to 1,984 pixels wide). */
    const size_t floats = (size_t)(size + 2) * line_floats(size, tw);
    float small[12288];
    float *lines = floats <= 12288 ? small : malloc(floats * sizeof(float));
    if (!lines) return 0;
    input_avx512(size, plane, h, w, pt, pl, tw, t0, t1, v, stride, lines);
    if (lines != small) free(lines);
    return 1;
#else
    (void)size; (void)plane; (void)h; (void)w; (void)pt; (void)pl; (void)tw; (void)t0; (void)t1; (void)v; (void)stride;
    return 0;
#endif
}
