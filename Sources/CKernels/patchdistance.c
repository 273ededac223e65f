#include "ckernels.h"
#include "targets.h"

#include <math.h>
#include <stdint.h>

/* Context-aware saliency's patch dissimilarity d = ‖p − c‖·scale / spread
   (SRSaliency/NearestPatches.swift), three ways: a row from float64 dot products of whole
   patches (srk_patch_distances_below), a row screened into intervals from float32 products
   of low frequencies (srk_patch_screen), and single pairs summed directly in float64
   (srk_patch_exact). Every level does the same operations in the same order and none fuses
   a multiply into an add, so every level gives the same bits. */
#pragma clang fp contract(off)

/* spread = 1 + weight·√(dy² + dx²), the divisor of d. */
static inline float spread_scalar(const float *ys, const float *xs, float yq, float xq, float weight, size_t j) {
    float dy = yq - ys[j], dx = xq - xs[j];
    return 1.0f + weight * sqrtf(dy * dy + dx * dx);
}

/* From float64 dot products: ‖p‖² + ‖c‖² − 2p·c in float64 (the difference cancels),
   clamped at 0 and rounded to float32. */
static inline float distance_scalar(const srk_patch_set *set, const double *dots, const double *norms, size_t q, size_t j) {
    double z = (norms[q] + norms[j]) - 2.0 * dots[j];
    float d2 = (float)(z < 0 ? 0 : z);
    return sqrtf(d2) * set->scale / spread_scalar(set->ys, set->xs, set->ys[q], set->xs[q], set->weight, j);
}

static size_t below_scalar(const srk_patch_set *set, const double *dots, const double *norms, size_t q, float bound,
                           float *kept, size_t j0, size_t j1) {
    size_t count = 0;
    for (size_t j = j0; j < j1; j++) {
        float d = distance_scalar(set, dots, norms, q, j);
        if (d < bound && j != q) kept[count++] = d;
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
AVX2 static size_t below_avx2(const srk_patch_set *set, const double *dots, const double *norms, size_t q, float bound,
                              float *kept, size_t j0, size_t j1) {
    const __m256d nq4 = _mm256_set1_pd(norms[q]);
    const __m256 yq8 = _mm256_set1_ps(set->ys[q]), xq8 = _mm256_set1_ps(set->xs[q]), bound8 = _mm256_set1_ps(bound);
    const __m256 scale8 = _mm256_set1_ps(set->scale), weight8 = _mm256_set1_ps(set->weight), one = _mm256_set1_ps(1.0f);
    size_t count = 0, j = j0;
    float d[8];
    for (; j + 8 <= j1; j += 8) {
        __m256 d2 = _mm256_set_m128(squared4(dots, norms, nq4, j + 4), squared4(dots, norms, nq4, j));
        __m256 dy = _mm256_sub_ps(yq8, _mm256_loadu_ps(set->ys + j)), dx = _mm256_sub_ps(xq8, _mm256_loadu_ps(set->xs + j));
        __m256 far = _mm256_sqrt_ps(_mm256_add_ps(_mm256_mul_ps(dy, dy), _mm256_mul_ps(dx, dx)));
        __m256 num = _mm256_mul_ps(_mm256_sqrt_ps(d2), scale8);
        __m256 v = _mm256_div_ps(num, _mm256_add_ps(one, _mm256_mul_ps(weight8, far)));
        unsigned mask = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v, bound8, _CMP_LT_OQ));
        if (q - j < 8) mask &= ~(1u << (q - j));
        if (mask == 0) continue;
        _mm256_storeu_ps(d, v);
        while (mask) {
            kept[count++] = d[__builtin_ctz(mask)];
            mask &= mask - 1;
        }
    }
    return count + below_scalar(set, dots, norms, q, bound, kept + count, j, j1);
}
#endif

/* Screening (srk_patch_screen), in float32, from the dot products of the patches' kept
   coefficients (an orthonormal transform of the patch, its low frequencies; set->norms,
   set->lengths their squared norm and norm, set->residuals the norm of the dropped rest):
   z = (nq + norms[j]) − 2·dots[j] is within Δ = slack·lengths[j] + floors[q] + floors[j] of
   the kept part of the squared distance, and the dropped part lies in [0, (rq + rj)²]; so
   the squared distance lies in [z − Δ, z + Δ + (rq + rj)²]. slack (the caller's, c·‖y_q‖)
   bounds the product's error; floors (1e-6·‖c‖², the full patch's) the roundings of z and
   Δ here, of the transform, and of the float64 direct sum. The keep test has no √ or ÷:
   (z − Δ)·scale² < (bound·spread·KEEP_GROW)², the bound at least MIN_BOUND so its square
   stays a normal float; KEEP_GROW covers the roundings, so every lo < bound is kept. lo and
   hi (√ of the two ends, ·scale / spread) of the kept only, widened by LO_SHRINK and
   HI_GROW, eight at a time in a second pass. */
#define LO_SHRINK 0.999999f
#define HI_GROW 1.000001f
#define KEEP_GROW 1.00001f
#define MIN_BOUND 1e-15f

/* Pass 1 keeps a candidate's ends (clamped at 0) and spread; pass 2 (finish) turns them into
   lo and hi. */
static inline void keep_scalar(const srk_patch_set *set, size_t q, float low, float z, float delta, float spread, size_t j,
                               float *los, float *his, float *spreads, int32_t *index, size_t count) {
    float reach = set->residuals[q] + set->residuals[j];
    float high = z + delta + reach * reach;
    los[count] = low;
    his[count] = high < 0 ? 0 : high;
    spreads[count] = spread;
    index[count] = (int32_t)j;
}

static size_t screen_scalar(const srk_patch_set *set, const float *dots, size_t q, float slack, float bound, float *los,
                            float *his, float *spreads, int32_t *index, size_t j0, size_t j1) {
    size_t count = 0;
    const float nq = set->norms[q], fq = set->floors[q], scale2 = set->scale * set->scale;
    for (size_t j = j0; j < j1; j++) {
        float z = (nq + set->norms[j]) - 2.0f * dots[j];
        float delta = slack * set->lengths[j] + (fq + set->floors[j]);
        float low = z - delta;
        low = low < 0 ? 0 : low;
        float spread = spread_scalar(set->ys, set->xs, set->ys[q], set->xs[q], set->weight, j);
        float reach = bound * spread * KEEP_GROW;
        if (low * scale2 < reach * reach && j != q) keep_scalar(set, q, low, z, delta, spread, j, los, his, spreads, index, count++);
    }
    return count;
}

static size_t finish_scalar(float *los, float *his, const float *spreads, size_t t0, size_t count, float scale, float bound) {
    size_t surely = 0;
    for (size_t t = t0; t < count; t++) {
        los[t] = sqrtf(los[t]) * scale / spreads[t] * LO_SHRINK;
        his[t] = sqrtf(his[t]) * scale / spreads[t] * HI_GROW;
        if (his[t] < bound) surely++;
    }
    return surely;
}

/* Σ_t (p[t] − c[t])² in float64: four partial sums (t mod 4) over the first dim − dim mod 4
   terms, added as (s0 + s1) + (s2 + s3), then the rest in order; the AVX2 level keeps the
   four sums in one vector, so both give the same bits. */
static double squared_distance_scalar(const double *p, const double *c, size_t dim) {
    double s[4] = {0, 0, 0, 0};
    size_t t = 0;
    for (; t + 4 <= dim; t += 4)
        for (int l = 0; l < 4; l++) {
            double e = p[t + l] - c[t + l];
            s[l] = s[l] + e * e;
        }
    double sum = (s[0] + s[1]) + (s[2] + s[3]);
    for (; t < dim; t++) {
        double e = p[t] - c[t];
        sum = sum + e * e;
    }
    return sum;
}

static void exact_scalar(const srk_patch_set *set, const double *vectors, size_t dim, size_t q, const int32_t *index,
                         size_t count, float *d) {
    for (size_t i = 0; i < count; i++) {
        size_t j = (size_t)index[i];
        double z = squared_distance_scalar(vectors + q * dim, vectors + j * dim, dim);
        d[i] = sqrtf((float)z) * set->scale / spread_scalar(set->ys, set->xs, set->ys[q], set->xs[q], set->weight, j);
    }
}

#if defined(__x86_64__)
AVX2 static size_t screen_avx2(const srk_patch_set *set, const float *dots, size_t q, float slack, float bound, float *los,
                               float *his, float *spreads, int32_t *index, size_t j0, size_t j1) {
    const __m256 nq8 = _mm256_set1_ps(set->norms[q]), fq8 = _mm256_set1_ps(set->floors[q]);
    const __m256 slack8 = _mm256_set1_ps(slack), two = _mm256_set1_ps(2.0f);
    const __m256 zero = _mm256_setzero_ps(), grow = _mm256_set1_ps(KEEP_GROW);
    const __m256 yq8 = _mm256_set1_ps(set->ys[q]), xq8 = _mm256_set1_ps(set->xs[q]), bound8 = _mm256_set1_ps(bound);
    const __m256 scale2 = _mm256_set1_ps(set->scale * set->scale), weight8 = _mm256_set1_ps(set->weight);
    const __m256 one = _mm256_set1_ps(1.0f);
    size_t count = 0, j = j0;
    float z[8], delta[8], low[8], spread[8];
    for (; j + 8 <= j1; j += 8) {
        __m256 zz = _mm256_sub_ps(_mm256_add_ps(nq8, _mm256_loadu_ps(set->norms + j)), _mm256_mul_ps(two, _mm256_loadu_ps(dots + j)));
        __m256 dd = _mm256_add_ps(_mm256_mul_ps(slack8, _mm256_loadu_ps(set->lengths + j)),
                                  _mm256_add_ps(fq8, _mm256_loadu_ps(set->floors + j)));
        __m256 lw = _mm256_max_ps(zero, _mm256_sub_ps(zz, dd));
        __m256 dy = _mm256_sub_ps(yq8, _mm256_loadu_ps(set->ys + j)), dx = _mm256_sub_ps(xq8, _mm256_loadu_ps(set->xs + j));
        __m256 sp = _mm256_add_ps(one, _mm256_mul_ps(weight8, _mm256_sqrt_ps(_mm256_add_ps(_mm256_mul_ps(dy, dy), _mm256_mul_ps(dx, dx)))));
        __m256 reach = _mm256_mul_ps(_mm256_mul_ps(bound8, sp), grow);
        unsigned mask = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_mul_ps(lw, scale2), _mm256_mul_ps(reach, reach), _CMP_LT_OQ));
        if (q - j < 8) mask &= ~(1u << (q - j));
        if (mask == 0) continue;
        _mm256_storeu_ps(z, zz);
        _mm256_storeu_ps(delta, dd);
        _mm256_storeu_ps(low, lw);
        _mm256_storeu_ps(spread, sp);
        while (mask) {
            int l = __builtin_ctz(mask);
            keep_scalar(set, q, low[l], z[l], delta[l], spread[l], j + (size_t)l, los, his, spreads, index, count++);
            mask &= mask - 1;
        }
    }
    return count + screen_scalar(set, dots, q, slack, bound, los + count, his + count, spreads + count, index + count, j, j1);
}

AVX2 static size_t finish_avx2(float *los, float *his, const float *spreads, size_t count, float scale, float bound) {
    const __m256 scale8 = _mm256_set1_ps(scale), shrink = _mm256_set1_ps(LO_SHRINK), grow = _mm256_set1_ps(HI_GROW);
    const __m256 bound8 = _mm256_set1_ps(bound);
    size_t surely = 0, t = 0;
    for (; t + 8 <= count; t += 8) {
        __m256 sp = _mm256_loadu_ps(spreads + t);
        __m256 lo = _mm256_mul_ps(_mm256_div_ps(_mm256_mul_ps(_mm256_sqrt_ps(_mm256_loadu_ps(los + t)), scale8), sp), shrink);
        __m256 hi = _mm256_mul_ps(_mm256_div_ps(_mm256_mul_ps(_mm256_sqrt_ps(_mm256_loadu_ps(his + t)), scale8), sp), grow);
        _mm256_storeu_ps(los + t, lo);
        _mm256_storeu_ps(his + t, hi);
        surely += (size_t)__builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_cmp_ps(hi, bound8, _CMP_LT_OQ)));
    }
    return surely + finish_scalar(los, his, spreads, t, count, scale, bound);
}

AVX2 static void exact_avx2(const srk_patch_set *set, const double *vectors, size_t dim, size_t q, const int32_t *index,
                            size_t count, float *d) {
    const double *p = vectors + q * dim;
    for (size_t i = 0; i < count; i++) {
        size_t j = (size_t)index[i];
        const double *c = vectors + j * dim;
        __m256d s = _mm256_setzero_pd();
        size_t t = 0;
        for (; t + 4 <= dim; t += 4) {
            __m256d e = _mm256_sub_pd(_mm256_loadu_pd(p + t), _mm256_loadu_pd(c + t));
            s = _mm256_add_pd(s, _mm256_mul_pd(e, e));
        }
        double l[4];
        _mm256_storeu_pd(l, s);
        double sum = (l[0] + l[1]) + (l[2] + l[3]);
        for (; t < dim; t++) {
            double e = p[t] - c[t];
            sum = sum + e * e;
        }
        d[i] = sqrtf((float)sum) * set->scale / spread_scalar(set->ys, set->xs, set->ys[q], set->xs[q], set->weight, j);
    }
}
#endif

size_t srk_patch_screen(const srk_patch_set *set, const float *dots, size_t q, float slack, float bound, float *lo, float *hi,
                        float *spread, int32_t *index, size_t j0, size_t j1, size_t *surely) {
    *surely = 0;
    if (!(bound > 0)) return 0; /* no lo ≥ 0 is below it (and a negative bound·spread would keep some) */
    if (bound < MIN_BOUND) bound = MIN_BOUND;
    size_t count;
#if defined(__x86_64__)
    if (srk_isa() >= SRK_ISA_AVX2) {
        count = screen_avx2(set, dots, q, slack, bound, lo, hi, spread, index, j0, j1);
        *surely = finish_avx2(lo, hi, spread, count, set->scale, bound);
        return count;
    }
#endif
    count = screen_scalar(set, dots, q, slack, bound, lo, hi, spread, index, j0, j1);
    *surely = finish_scalar(lo, hi, spread, 0, count, set->scale, bound);
    return count;
}

void srk_patch_exact(const srk_patch_set *set, const double *vectors, size_t dim, size_t q, const int32_t *index, size_t count,
                     float *d) {
#if defined(__x86_64__)
    if (srk_isa() >= SRK_ISA_AVX2) {
        exact_avx2(set, vectors, dim, q, index, count, d);
        return;
    }
#endif
    exact_scalar(set, vectors, dim, q, index, count, d);
}

size_t srk_patch_distances_below(const srk_patch_set *set, const double *dots, const double *norms, size_t q, float bound,
                                 float *kept, size_t j0, size_t j1) {
#if defined(__x86_64__)
    if (srk_isa() >= SRK_ISA_AVX2) return below_avx2(set, dots, norms, q, bound, kept, j0, j1);
#endif
    return below_scalar(set, dots, norms, q, bound, kept, j0, j1);
}
