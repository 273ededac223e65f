#include "ckernels.h"
#include "targets.h"

#include <math.h>

/* Context-aware saliency's patch dissimilarity (SRSaliency/ContextAwareSaliency.swift):
   the squared colour distance ‖p‖² + ‖c‖² − 2p·c in float64 (the difference cancels),
   clamped at 0 and rounded to float32; from there float32:
   d = √d²·scale / (1 + weight·√(dy² + dx²)). Every level does the same operations in the
   same order and none fuses a multiply into an add, so every level gives the same bits. */
#pragma clang fp contract(off)

static inline float distance_scalar(const double *dots, const double *norms, double nq, const float *ys, const float *xs,
                                    float yq, float xq, float scale, float weight, size_t j) {
    double z = (nq + norms[j]) - 2.0 * dots[j];
    float d2 = (float)(z < 0 ? 0 : z);
    float dy = yq - ys[j], dx = xq - xs[j];
    return sqrtf(d2) * scale / (1.0f + weight * sqrtf(dy * dy + dx * dx));
}

static size_t below_scalar(const double *dots, const double *norms, double nq, const float *ys, const float *xs, float yq,
                           float xq, float scale, float weight, float bound, size_t skip, float *kept, size_t j0, size_t j1) {
    size_t count = 0;
    for (size_t j = j0; j < j1; j++) {
        float d = distance_scalar(dots, norms, nq, ys, xs, yq, xq, scale, weight, j);
        if (d < bound && j != skip) kept[count++] = d;
    }
    return count;
}

#if defined(__x86_64__)
/* Four float64 squared distances, clamped at 0 (max(0, z) passes a NaN on, as the scalar
   loop does) and rounded to four float32. */
AVX2 static inline __m128 squared4(const double *dots, const double *norms, __m256d nq, size_t j) {
    __m256d z = _mm256_sub_pd(_mm256_add_pd(nq, _mm256_loadu_pd(norms + j)),
                              _mm256_mul_pd(_mm256_set1_pd(2.0), _mm256_loadu_pd(dots + j)));
    return _mm256_cvtpd_ps(_mm256_max_pd(_mm256_setzero_pd(), z));
}

/* Eight at a time; a block with no value below the bound costs one compare and one test. */
AVX2 static size_t below_avx2(const double *dots, const double *norms, double nq, const float *ys, const float *xs,
                              float yq, float xq, float scale, float weight, float bound, size_t skip, float *kept,
                              size_t j0, size_t j1) {
    const __m256d nq4 = _mm256_set1_pd(nq);
    const __m256 yq8 = _mm256_set1_ps(yq), xq8 = _mm256_set1_ps(xq), bound8 = _mm256_set1_ps(bound);
    const __m256 scale8 = _mm256_set1_ps(scale), weight8 = _mm256_set1_ps(weight), one = _mm256_set1_ps(1.0f);
    size_t count = 0, j = j0;
    float d[8];
    for (; j + 8 <= j1; j += 8) {
        __m256 d2 = _mm256_set_m128(squared4(dots, norms, nq4, j + 4), squared4(dots, norms, nq4, j));
        __m256 dy = _mm256_sub_ps(yq8, _mm256_loadu_ps(ys + j)), dx = _mm256_sub_ps(xq8, _mm256_loadu_ps(xs + j));
        __m256 far = _mm256_sqrt_ps(_mm256_add_ps(_mm256_mul_ps(dy, dy), _mm256_mul_ps(dx, dx)));
        __m256 num = _mm256_mul_ps(_mm256_sqrt_ps(d2), scale8);
        __m256 v = _mm256_div_ps(num, _mm256_add_ps(one, _mm256_mul_ps(weight8, far)));
        unsigned mask = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v, bound8, _CMP_LT_OQ));
        if (skip - j < 8) mask &= ~(1u << (skip - j));
        if (mask == 0) continue;
        _mm256_storeu_ps(d, v);
        while (mask) {
            kept[count++] = d[__builtin_ctz(mask)];
            mask &= mask - 1;
        }
    }
    return count + below_scalar(dots, norms, nq, ys, xs, yq, xq, scale, weight, bound, skip, kept + count, j, j1);
}
#endif

size_t srk_patch_distances_below(const double *dots, const double *norms, double nq, const float *ys, const float *xs,
                                 float yq, float xq, float scale, float weight, float bound, size_t skip, float *kept,
                                 size_t j0, size_t j1) {
#if defined(__x86_64__)
    if (srk_isa() >= SRK_ISA_AVX2)
        return below_avx2(dots, norms, nq, ys, xs, yq, xq, scale, weight, bound, skip, kept, j0, j1);
#endif
    return below_scalar(dots, norms, nq, ys, xs, yq, xq, scale, weight, bound, skip, kept, j0, j1);
}
