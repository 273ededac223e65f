#include "ckernels.h"
#include "targets.h"
#include "transpose16.h"

/* dst[j][i] = src[i][j] in tiles of 16 × 16. Element by element, a large matrix whose row
   length is a multiple of 1024 floats writes each column to lines 4 KB apart, which share
   one set of the L1 cache: ViT-B/16's weights took 3 ns a value that way. A tile reads 16
   whole source lines and writes 16 whole destination lines, at every level. */
static void transpose_scalar(const float *src, int rows, int cols, ptrdiff_t lds, float *dst, ptrdiff_t ldd) {
    for (int i0 = 0; i0 < rows; i0 += 16)
        for (int j0 = 0; j0 < cols; j0 += 16) {
            const int i1 = rows - i0 < 16 ? rows : i0 + 16, j1 = cols - j0 < 16 ? cols : j0 + 16;
            for (int j = j0; j < j1; j++)
                for (int i = i0; i < i1; i++) dst[(ptrdiff_t)j * ldd + i] = src[(ptrdiff_t)i * lds + j];
        }
}

#if defined(__x86_64__)
AVX512 static void transpose_avx512(const float *src, int rows, int cols, ptrdiff_t lds, float *dst, ptrdiff_t ldd) {
    for (int i0 = 0; i0 < rows; i0 += 16)
        for (int j0 = 0; j0 < cols; j0 += 16) {
            const int ni = rows - i0 < 16 ? rows - i0 : 16, nj = cols - j0 < 16 ? cols - j0 : 16;
            const __mmask16 in = first_lanes(nj), out = first_lanes(ni);
            __m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = i < ni ? _mm512_maskz_loadu_ps(in, src + (ptrdiff_t)(i0 + i) * lds + j0) : _mm512_setzero_ps();
            transpose16(r);
            for (int j = 0; j < nj; j++) _mm512_mask_storeu_ps(dst + (ptrdiff_t)(j0 + j) * ldd + i0, out, r[j]);
        }
}
#endif

void srk_transpose(const float *src, int rows, int cols, ptrdiff_t lds, float *dst, ptrdiff_t ldd) {
#if defined(__x86_64__)
    if (srk_isa() == SRK_ISA_AVX512) {
        transpose_avx512(src, rows, cols, lds, dst, ldd);
        return;
    }
#endif
    transpose_scalar(src, rows, cols, lds, dst, ldd);
}
