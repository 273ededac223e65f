#include "ckernels.h"
#include "targets.h"

#include <math.h>

/* Packed layout (every level): panel p holds, for kk = 0..<k, the 32 values
   W[32p + c][kk], c = 0..<32, zero past the last row. A tile is 7 output columns × one
   panel: 7 inputs x[kk][j..j+6] are broadcast against the panel's 32 weights per kk, so
   a panel's 32 rows sit in the vector lanes and 7 × 32 sums stay in registers. Columns
   come in sevens because every map of an ImageNet CNN (224 / 32 = 7: 7², 14², 28², 56²,
   112²) has a multiple of 7 positions; sixteen-wide column vectors would waste a quarter
   of the lanes on a 7×7 map.

   Sums: each output is Σ over blocks of at most KC inputs, each block summed in kk order
   by fused multiply-adds from 0 and added to the blocks before it. KC depends on k only,
   so every level computes the same operations in the same order and gives the same bits. */
#define NR SRK_PANEL_ROWS
#define MR 7

static int depth_block(int k) {
    int blocks = (k + 1023) / 1024;
    return (k + blocks - 1) / blocks;
}

/* Columns per chunk: a chunk's KC × NC inputs (≤ 384 KB) stay in cache across panels. */
static int column_chunk(int kc) {
    int nc = 98304 / (kc > 0 ? kc : 1) / MR * MR;
    return nc < MR ? MR : (nc > 64 * MR ? 64 * MR : nc);
}

size_t srk_packed_size(int m, int k) {
    return (size_t)((m + NR - 1) / NR) * NR * (size_t)k;
}

void srk_pack(const float *w, int m, int k, ptrdiff_t row_stride, ptrdiff_t col_stride, float *packed) {
    for (int r0 = 0; r0 < m; r0 += NR)
        for (int kk = 0; kk < k; kk++)
            for (int c = 0; c < NR; c++)
                *packed++ = r0 + c < m ? w[(ptrdiff_t)(r0 + c) * row_stride + (ptrdiff_t)kk * col_stride] : 0.0f;
}

/* tile[j][c] = Σ_kk x[kk·ldx + j]·w[kk·NR + c] for j < cols, over kc inputs. */
static void tile_scalar(int cols, int kc, const float *x, ptrdiff_t ldx, const float *w, float *tile) {
    for (int j = 0; j < cols; j++) {
        float acc[NR] = {0};
        const float *xp = x + j, *wp = w;
        for (int kk = 0; kk < kc; kk++, xp += ldx, wp += NR)
            for (int c = 0; c < NR; c++) acc[c] = fmaf(*xp, wp[c], acc[c]);
        for (int c = 0; c < NR; c++) tile[j * NR + c] = acc[c];
    }
}

#if defined(__x86_64__)
/* COLS a constant at each call site, so the loops over it unroll and the sums stay in
   registers: 7 × 2 zmm (AVX-512); two passes of 7 × 2 ymm over the panel's halves (AVX2). */
#define TILE_BODY(VEC, OP, LANES, VECS, COLS, x, ldx, w, tile)                                 \
    VEC acc[MR][VECS];                                                                         \
    for (int j = 0; j < COLS; j++)                                                             \
        for (int v = 0; v < VECS; v++) acc[j][v] = OP(setzero_ps)();                           \
    const float *xp = x, *wp = w;                                                              \
    for (int kk = 0; kk < kc; kk++, xp += ldx, wp += NR) {                                     \
        VEC b[VECS];                                                                           \
        for (int v = 0; v < VECS; v++) b[v] = OP(loadu_ps)(wp + LANES * v);                    \
        for (int j = 0; j < COLS; j++) {                                                       \
            VEC a = OP(set1_ps)(xp[j]);                                                        \
            for (int v = 0; v < VECS; v++) acc[j][v] = OP(fmadd_ps)(a, b[v], acc[j][v]);       \
        }                                                                                      \
    }                                                                                          \
    for (int j = 0; j < COLS; j++)                                                             \
        for (int v = 0; v < VECS; v++) OP(storeu_ps)(tile + j * NR + LANES * v, acc[j][v]);

AVX512 static inline __attribute__((always_inline)) void
tile512(const int cols, int kc, const float *x, ptrdiff_t ldx, const float *w, float *tile) {
    TILE_BODY(__m512, OP512, 16, 2, cols, x, ldx, w, tile)
}

AVX2 static inline __attribute__((always_inline)) void
half256(const int cols, int kc, const float *x, ptrdiff_t ldx, const float *w, float *tile) {
    TILE_BODY(__m256, OP256, 8, 2, cols, x, ldx, w, tile)
}

AVX2 static inline __attribute__((always_inline)) void
tile256(const int cols, int kc, const float *x, ptrdiff_t ldx, const float *w, float *tile) {
    half256(cols, kc, x, ldx, w, tile);
    half256(cols, kc, x, ldx, w + 16, tile + 16);
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

AVX512 static void tile_avx512(int cols, int kc, const float *x, ptrdiff_t ldx, const float *w, float *tile) {
    BY_COLS(tile512, cols, kc, x, ldx, w, tile)
}

AVX2 static void tile_avx2(int cols, int kc, const float *x, ptrdiff_t ldx, const float *w, float *tile) {
    BY_COLS(tile256, cols, kc, x, ldx, w, tile)
}
#endif

void srk_sgemm_packed(const float *packed, int m, int k, const float *x, ptrdiff_t ldx, float *out, ptrdiff_t ldo,
                      int p0, int p1, int j0, int j1) {
    void (*tile_fn)(int, int, const float *, ptrdiff_t, const float *, float *) = tile_scalar;
#if defined(__x86_64__)
    switch (srk_isa()) {
    case SRK_ISA_AVX512: tile_fn = tile_avx512; break;
    case SRK_ISA_AVX2: tile_fn = tile_avx2; break;
    default: break;
    }
#endif
    float tile[MR * NR] __attribute__((aligned(64)));
    const int kc_max = depth_block(k), nc = column_chunk(kc_max);
    for (int jc = j0; jc < j1; jc += nc) {
        const int jn = j1 - jc < nc ? j1 - jc : nc;
        for (int k0 = 0; k0 < k; k0 += kc_max) {
            const int kc = k - k0 < kc_max ? k - k0 : kc_max;
            for (int p = p0; p < p1; p++) {
                const float *w = packed + (size_t)p * NR * k + (size_t)k0 * NR;
                const int rows = m - p * NR < NR ? m - p * NR : NR;
                float *o = out + (ptrdiff_t)p * NR * ldo;
                for (int j = jc; j < jc + jn; j += MR) {
                    const int cols = jc + jn - j < MR ? jc + jn - j : MR;
                    tile_fn(cols, kc, x + (ptrdiff_t)k0 * ldx + j, ldx, w, tile);
                    /* The tile's column j is output row c's element j: a transpose. */
                    for (int c = 0; c < rows; c++) {
                        float *dst = o + (ptrdiff_t)c * ldo + j;
                        if (k0 == 0) for (int jj = 0; jj < cols; jj++) dst[jj] = tile[jj * NR + c];
                        else for (int jj = 0; jj < cols; jj++) dst[jj] = dst[jj] + tile[jj * NR + c];
                    }
                }
            }
        }
    }
}
