#include "ckernels.h"
#include "targets.h"
#include "transpose16.h"

#include <math.h>

/* Packed layout (every level): panel p holds, for kk = 0..<k, the 32 values
   W[32p + c][kk], c = 0..<32, zero past the last row. A tile is 7 output columns × one
   panel: the 7 inputs X[kk][j..j+6] are broadcast against the panel's 32 weights per kk, so
   a panel's 32 rows sit in the vector lanes and 7 × 32 sums stay in registers. X[kk][j] is
   read at x[row[kk] + col[j]]: a matrix (row[kk] = kk·ldx, col[j] = j) or, for a
   convolution, its input unfolded on the fly (row[kk] the tap's channel and offset,
   col[j] the output pixel's window corner), so no im2col matrix is written. Columns
   come in sevens because every map of an ImageNet CNN (224 / 32 = 7: 7², 14², 28², 56²,
   112²) has a multiple of 7 positions; sixteen-wide column vectors would waste a quarter
   of the lanes on a 7×7 map.

   Loops: columns in chunks whose inputs (k × NC floats) stay in cache across panels; per
   panel, the inputs in blocks of KC, so the panel's KC × 32 weights (32 KB) stay in cache
   across the chunk's tiles; the tiles' sums wait in `acc` (NC × 32 floats) between blocks and are
   transposed into the output rows once, at the end of the panel.

   Sums: each output is a chain of fused multiply-adds from 0 over each block of KC
   (SRK_SUM_BLOCK) inputs, the blocks' sums added in order, at every level, so every level
   gives the same bits. One chain over a long k strays further from the exact sum: with
   it, explanations' forward passes had to keep OpenBLAS's products (VGG-16's gradient,
   whose 14×14 layers sum 4,608 products, landed 3.5·10⁻² of its largest value from the
   float64 truth on two of three seeds where OpenBLAS's sums and Captum's stayed within
   2.8·10⁻³ and 1.4·10⁻²). */
#define NR SRK_PANEL_ROWS
#define MR 7
#define KC SRK_SUM_BLOCK
#define NC_MAX (32 * MR)

/* Columns per chunk: a chunk's k × NC inputs (≤ 512 KB) stay in cache across panels. */
static int column_chunk(int k) {
    int nc = 131072 / (k > 0 ? k : 1) / MR * MR;
    return nc < MR ? MR : (nc > NC_MAX ? NC_MAX : nc);
}

size_t srk_packed_size(int m, int k) {
    return (size_t)((m + NR - 1) / NR) * NR * (size_t)k;
}

/* A panel of W (rows r0..r0+31) is W's rows transposed (srk_transpose) when they are
   contiguous, or rows of W's transpose copied, with zeros past row m. */
void srk_pack(const float *w, int m, int k, ptrdiff_t row_stride, ptrdiff_t col_stride, float *packed) {
    for (int r0 = 0; r0 < m; r0 += NR) {
        const int rows = m - r0 < NR ? m - r0 : NR;
        float *panel = packed + (size_t)r0 * k;
        const float *src = w + (ptrdiff_t)r0 * row_stride;
        if (col_stride == 1) {
            srk_transpose(src, rows, k, row_stride, panel, NR);
            for (int kk = 0; kk < k; kk++)
                for (int c = rows; c < NR; c++) panel[(size_t)kk * NR + c] = 0.0f;
            continue;
        }
        for (int kk = 0; kk < k; kk++)
            for (int c = 0; c < NR; c++)
                panel[(size_t)kk * NR + c] = c < rows ? src[(ptrdiff_t)c * row_stride + (ptrdiff_t)kk * col_stride] : 0.0f;
    }
}

/* acc[j][c] (+)= Σ_kk X[kk][j]·w[kk·NR + c] for j < cols over kc inputs, X[kk][j] at
   x[row[kk] + col[j]]: the block's sums from 0, stored when `first`, else added to acc. */
static void tile_scalar(int cols, int kc, const float *x, const ptrdiff_t *row, const ptrdiff_t *col, const float *w,
                        float *acc, int first) {
    for (int j = 0; j < cols; j++) {
        float *a = acc + j * NR, part[NR];
        for (int c = 0; c < NR; c++) part[c] = 0.0f;
        const float *wp = w;
        for (int kk = 0; kk < kc; kk++, wp += NR) {
            const float v = x[row[kk] + col[j]];
            for (int c = 0; c < NR; c++) part[c] = fmaf(v, wp[c], part[c]);
        }
        for (int c = 0; c < NR; c++) a[c] = first ? part[c] : a[c] + part[c];
    }
}

/* out[c][j] = acc[j][c] for c < rows, j < cols. */
static void store_scalar(const float *acc, int cols, int rows, float *out, ptrdiff_t ldo) {
    for (int c = 0; c < rows; c++)
        for (int j = 0; j < cols; j++) out[(ptrdiff_t)c * ldo + j] = acc[j * NR + c];
}

#if defined(__x86_64__)
/* COLS a constant at each call site, so the loops over it unroll and the sums stay in
   registers: 7 × 2 zmm (AVX-512); two passes of 7 × 2 ymm over the panel's halves (AVX2). */
#define TILE_BODY(VEC, OP, LANES, VECS, COLS)                                                  \
    VEC s[MR][VECS];                                                                           \
    ptrdiff_t at[MR];                                                                          \
    for (int j = 0; j < COLS; j++) {                                                           \
        at[j] = col[j];                                                                        \
        for (int v = 0; v < VECS; v++)                                                         \
            s[j][v] = OP(setzero_ps)();                                                        \
    }                                                                                          \
    const float *wp = w;                                                                       \
    for (int kk = 0; kk < kc; kk++, wp += NR) {                                                \
        /* The weights of the next block of inputs (or panel), one block ahead: a layer's    \
           weights come from memory once per run, too slowly for the hardware's prefetch. */   \
        _mm_prefetch((const char *)(wp + KC * NR), _MM_HINT_T0);                               \
        _mm_prefetch((const char *)(wp + KC * NR + 16), _MM_HINT_T0);                          \
        const float *xk = x + row[kk];                                                         \
        VEC b[VECS];                                                                           \
        for (int v = 0; v < VECS; v++) b[v] = OP(loadu_ps)(wp + LANES * v);                    \
        for (int j = 0; j < COLS; j++) {                                                       \
            VEC a = OP(set1_ps)(xk[at[j]]);                                                    \
            for (int v = 0; v < VECS; v++) s[j][v] = OP(fmadd_ps)(a, b[v], s[j][v]);           \
        }                                                                                      \
    }                                                                                          \
    for (int j = 0; j < COLS; j++)                                                             \
        for (int v = 0; v < VECS; v++)                                                         \
            OP(storeu_ps)(acc + j * NR + LANES * v,                                            \
                          first ? s[j][v] : OP(add_ps)(OP(loadu_ps)(acc + j * NR + LANES * v), s[j][v]));

AVX512 static inline __attribute__((always_inline)) void
tile512(const int cols, int kc, const float *x, const ptrdiff_t *row, const ptrdiff_t *col, const float *w,
        float *acc, int first) {
    TILE_BODY(__m512, OP512, 16, 2, cols)
}

AVX2 static inline __attribute__((always_inline)) void
half256(const int cols, int kc, const float *x, const ptrdiff_t *row, const ptrdiff_t *col, const float *w,
        float *acc, int first) {
    TILE_BODY(__m256, OP256, 8, 2, cols)
}

AVX2 static inline __attribute__((always_inline)) void
tile256(const int cols, int kc, const float *x, const ptrdiff_t *row, const ptrdiff_t *col, const float *w,
        float *acc, int first) {
    half256(cols, kc, x, row, col, w, acc, first);
    half256(cols, kc, x, row, col, w + 16, acc + 16, first);
}

/* One call per column count, each with its loops unrolled. */
#define BY_COLS(F, cols, ...)                                                                  \
    switch (cols) {                                                                            \
    case 7: F(7, __VA_ARGS__); break;                                                          \
    case 6: F(6, __VA_ARGS__); break;                                                          \
    case 5: F(5, __VA_ARGS__); break;                                                          \
    case 4: F(4, __VA_ARGS__); break;                                                          \
    case 3: F(3, __VA_ARGS__); break;                                                          \
    case 2: F(2, __VA_ARGS__); break;                                                          \
    default: F(1, __VA_ARGS__); break;                                                         \
    }

AVX512 static void tile_avx512(int cols, int kc, const float *x, const ptrdiff_t *row, const ptrdiff_t *col,
                                const float *w, float *acc, int first) {
    BY_COLS(tile512, cols, kc, x, row, col, w, acc, first)
}

AVX2 static void tile_avx2(int cols, int kc, const float *x, const ptrdiff_t *row, const ptrdiff_t *col,
                                const float *w, float *acc, int first) {
    BY_COLS(tile256, cols, kc, x, row, col, w, acc, first)
}

/* store_scalar by 16 × 16 transposes (transpose16.h): 16 columns × 16 rows of acc become
   16 runs of 16 floats of the output rows, each stored whole under a mask of the columns
   left. Past `cols` the loads read acc's rows up to the next multiple of 16 (never
   stored; NC_MAX is a multiple of 16). */
AVX512 static void store_avx512(const float *acc, int cols, int rows, float *out, ptrdiff_t ldo) {
    for (int j0 = 0; j0 < cols; j0 += 16) {
        const __mmask16 m = first_lanes(cols - j0);
        for (int c0 = 0; c0 < rows; c0 += 16) {
            __m512 r[16];
            for (int t = 0; t < 16; t++) r[t] = _mm512_load_ps(acc + (size_t)(j0 + t) * NR + c0);
            transpose16(r);
            const int n = rows - c0 < 16 ? rows - c0 : 16;
            for (int c = 0; c < n; c++) _mm512_mask_storeu_ps(out + (ptrdiff_t)(c0 + c) * ldo + j0, m, r[c]);
        }
    }
}
#endif

/* The rows of srk_sgemm_packed_rows: out[j][c] = acc[j][c] for j < cols, c < rows. */
static void store_rows_scalar(const float *acc, int cols, int rows, float *out, ptrdiff_t ldo) {
    for (int j = 0; j < cols; j++)
        for (int c = 0; c < rows; c++) out[(ptrdiff_t)j * ldo + c] = acc[j * NR + c];
}

#if defined(__x86_64__)
AVX512 static void store_rows_avx512(const float *acc, int cols, int rows, float *out, ptrdiff_t ldo) {
    const __mmask16 lo = first_lanes(rows), hi = rows <= 16 ? 0 : first_lanes(rows - 16);
    for (int j = 0; j < cols; j++) {
        _mm512_mask_storeu_ps(out + (ptrdiff_t)j * ldo, lo, _mm512_loadu_ps(acc + j * NR));
        _mm512_mask_storeu_ps(out + (ptrdiff_t)j * ldo + 16, hi, _mm512_loadu_ps(acc + j * NR + 16));
    }
}
#endif

typedef void (*tile_fn_t)(int, int, const float *, const ptrdiff_t *, const ptrdiff_t *, const float *, float *, int);
typedef void (*store_fn_t)(const float *, int, int, float *, ptrdiff_t);

/* The loops of both products; `at(p, j)` of the output block of panel p and column j is
   out + p·NR·ldo + j (rows_out = 0) or out + j·ldo + p·NR (rows_out = 1). */
static void product(tile_fn_t tile_fn, store_fn_t store_fn, int rows_out, const float *packed, int m, int k,
                    const float *x, const ptrdiff_t *row, const ptrdiff_t *col, float *out, ptrdiff_t ldo, int p0,
                    int p1, int j0, int j1) {
    float acc[NC_MAX * NR] __attribute__((aligned(64)));
    const int nc = column_chunk(k);
    for (int jc = j0; jc < j1; jc += nc) {
        const int jn = j1 - jc < nc ? j1 - jc : nc;
        for (int p = p0; p < p1; p++) {
            const float *w = packed + (size_t)p * NR * k;
            const int rows = m - p * NR < NR ? m - p * NR : NR;
            const int tiles = (jn + MR - 1) / MR, per_tile = (rows + tiles - 1) / tiles;
            for (int k0 = 0; k0 < k; k0 += KC) {
                const int kc = k - k0 < KC ? k - k0 : KC;
                for (int j = 0; j < jn; j += MR) {
                    const int cols = jn - j < MR ? jn - j : MR;
#if defined(__x86_64__)
                    /* The panel's output rows, a few per tile of the first block, asked for in
                       the write state, so the stores at the panel's end find them in cache
                       (MobileNetV3's 1×1 layers on 14×14 and 7×7 maps about 5 % faster on one
                       thread). Channel-major outputs only; the row-major product's (linear
                       layers') were not tried. */
                    if (k0 == 0 && !rows_out)
                        for (int c = j / MR * per_tile; c < rows && c < (j / MR + 1) * per_tile; c++) {
                            const char *line = (const char *)(out + (ptrdiff_t)(p * NR + c) * ldo + jc);
                            for (int b = 0; b < jn * 4; b += 64) _mm_prefetch(line + b, _MM_HINT_ET0);
                        }
#endif
                    tile_fn(cols, kc, x, row + k0, col + jc + j, w + (size_t)k0 * NR, acc + j * NR, k0 == 0);
                }
            }
            store_fn(acc, jn, rows, rows_out ? out + (ptrdiff_t)jc * ldo + (ptrdiff_t)p * NR
                                             : out + (ptrdiff_t)p * NR * ldo + jc, ldo);
        }
    }
}

static tile_fn_t tile_for_isa(void) {
#if defined(__x86_64__)
    switch (srk_isa()) {
    case SRK_ISA_AVX512: return tile_avx512;
    case SRK_ISA_AVX2: return tile_avx2;
    default: break;
    }
#endif
    return tile_scalar;
}

void srk_sgemm_packed(const float *packed, int m, int k, const float *x, const ptrdiff_t *row, const ptrdiff_t *col,
                      float *out, ptrdiff_t ldo, int p0, int p1, int j0, int j1) {
    store_fn_t store_fn = store_scalar;
#if defined(__x86_64__)
    if (srk_isa() == SRK_ISA_AVX512) store_fn = store_avx512;
#endif
    product(tile_for_isa(), store_fn, 0, packed, m, k, x, row, col, out, ldo, p0, p1, j0, j1);
}

void srk_sgemm_packed_rows(const float *packed, int m, int k, const float *x, const ptrdiff_t *row,
                           const ptrdiff_t *col, float *out, ptrdiff_t ldo, int p0, int p1, int j0, int j1) {
    store_fn_t store_fn = store_rows_scalar;
#if defined(__x86_64__)
    if (srk_isa() == SRK_ISA_AVX512) store_fn = store_rows_avx512;
#endif
    product(tile_for_isa(), store_fn, 1, packed, m, k, x, row, col, out, ldo, p0, p1, j0, j1);
}
