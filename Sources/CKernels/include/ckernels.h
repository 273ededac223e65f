/* Kernels compiled for several instruction sets in one binary and picked at run time by
   the CPU they run on (x86_64: AVX-512, AVX2 + FMA, or plain C; elsewhere plain C):
   activations and their derivatives (SRRuntime/Kernels/FusedActivation.swift, Unary.swift),
   softmax's exponentials (Layout.swift), the packed-weight matrix product of convolutions
   and linear layers (SRRuntime/Kernels/PackedGEMM.swift, PackedLinear.swift), the forward
   depthwise and 1×1 convolutions (SRRuntime/Kernels/Depthwise.swift, Pointwise.swift), an
   image's first layer at stride 2 (Stem.swift), Winograd's input transforms (Winograd.swift,
   WinogradF4.swift), matrix transposes (the ONNX import's weights, the packing), context-aware saliency's
   patch distances (SRSaliency/ContextAwareSaliency.swift). */
#ifndef SRTOOL_CKERNELS_H
#define SRTOOL_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Instruction-set levels, best last. */
enum { SRK_ISA_SCALAR = 0, SRK_ISA_AVX2 = 1, SRK_ISA_AVX512 = 2 };

/* The best level this CPU runs. */
int srk_isa_supported(void);
/* The level the kernels use: the best supported unless lowered by srk_set_isa (tests run
   every level) or by SRTOOL_ISA=avx2|scalar in the environment, read on first use. */
int srk_isa(void);
/* Uses `level` (at most the supported one); returns the level now in use. */
int srk_set_isa(int level);

/* dst[i] = e^(src[i] + bias) for i < n, as SRRuntime's fastExp; src may equal dst. */
void srk_exp(const float *src, float *dst, size_t n, float bias);

/* dst[i] = v / (1 + e^(−v)), v = src[i] + bias (SiLU), for i < n; src may equal dst.
   e^x by a table of 2^(j/16) and a cubic (relative error below 2.5e-7; activation.c). */
void srk_silu(const float *src, float *dst, size_t n, float bias);

/* dst[i] = ½·v·(1 + erf(v/√2)), v = src[i] + bias (GELU), erf as SRRuntime's fastErf. */
void srk_gelu(const float *src, float *dst, size_t n, float bias);

/* dst[i] = g[i]·f'(x[i]) for SiLU (s·(1 + x·(1 − s)), s the logistic sigmoid) and GELU
   (Φ(x) + x·φ(x)), with srk_silu's e^x and srk_gelu's erf; dst may equal g. */
void srk_silu_backward(const float *x, const float *g, float *dst, size_t n);
void srk_gelu_backward(const float *x, const float *g, float *dst, size_t n);

/* dst[j·ldd + i] = src[i·lds + j] for i < rows, j < cols (a matrix transposed; nothing
   else of dst is written). */
void srk_transpose(const float *src, int rows, int cols, ptrdiff_t lds, float *dst, ptrdiff_t ldd);

/* Rows per panel of a packed weight matrix. */
#define SRK_PANEL_ROWS 32
/* Inputs a sum runs over in one chain of fused multiply-adds: a longer dot product is
   summed in blocks of this many, each from 0, the blocks' sums added in order
   (((b0 + b1) + b2) …). The packed product (gemm.c) and the 1×1 kernel (pointwise.c) sum
   alike, so they give the same bits. */
#define SRK_SUM_BLOCK 256

/* Floats in the packed form of an m×k matrix: its rows in panels of SRK_PANEL_ROWS, the
   last one zero-padded. */
size_t srk_packed_size(int m, int k);
/* Packs W (element (r, kk) at w[r·row_stride + kk·col_stride]: a transposed matrix is
   packed by swapping the strides) into `packed` of srk_packed_size(m, k) floats: panel p
   holds, for each kk, rows 32p..32p+31 of column kk. */
void srk_pack(const float *w, int m, int k, ptrdiff_t row_stride, ptrdiff_t col_stride, float *packed);
/* out[r][j] = Σ_kk W[r][kk]·X[kk][j], X[kk][j] at x[row[kk] + col[j]] (row: k offsets, col:
   one per column; a matrix has row[kk] = kk·ldx, col[j] = j; a convolution the offsets of
   its taps and of its output pixels' windows), out row r at out + r·ldo, for the rows of
   panels p0..<p1 and the columns j0..<j1; W given packed. Every level gives the same bits
   (gemm.c: the order of the sums). */
void srk_sgemm_packed(const float *packed, int m, int k, const float *x, const ptrdiff_t *row, const ptrdiff_t *col,
                      float *out, ptrdiff_t ldo, int p0, int p1, int j0, int j1);
/* The same sums with the product stored transposed: out[j][r] at out + j·ldo + r (a linear
   layer's tokens × features, W its weight [features, in], X[kk][j] token j's input kk). */
void srk_sgemm_packed_rows(const float *packed, int m, int k, const float *x, const ptrdiff_t *row,
                           const ptrdiff_t *col, float *out, ptrdiff_t ldo, int p0, int p1, int j0, int j1);

/* A 1×1 convolution's product on NCHW planes: out[r·ldo + j] = Σ_kk w[r·k + kk]·x[kk·ldx + j]
   for output channels r0..<r1 and pixels j0..<j1 (w row-major, out channels × k). Each
   output one chain of fused multiply-adds over kk in order from 0 at every level: the
   packed product's bits (pointwise.c). */
void srk_pointwise(const float *x, ptrdiff_t ldx, int k, const float *w, float *out, ptrdiff_t ldo, int r0, int r1,
                   int j0, int j1);
/* The activations srk_pointwise_finished applies. */
enum { SRK_FINISH_NONE = 0, SRK_FINISH_RELU = 1, SRK_FINISH_CLIP = 2 };
/* srk_pointwise with each sum finished in its registers before it is stored: + bias[r] (bias
   may be NULL), + the residual at the output's place (laid out as out; may be NULL), then
   ReLU or Clip to [lo, hi] (`act`): the bits of Kernels.finishRow run over srk_pointwise's
   output (pointwise.c: finish_scalar). */
void srk_pointwise_finished(const float *x, ptrdiff_t ldx, int k, const float *w, float *out, ptrdiff_t ldo, int r0,
                            int r1, int j0, int j1, const float *bias, const float *residual, int act, float lo,
                            float hi);

/* An image's first layer at stride 2 (stem.c): out[oc][oy][ox] = Σ over (ch, i, j) of
   x[ch][2·oy + i − top][2·ox + j − left]·w[oc][ch][i][j], zeros outside the image, from 0
   in that order, one fused multiply-add per tap with `fused` (the packed product's steps),
   else a rounded product and an add (the direct loops' under an explanation); no bias;
   output rows oy0 … oy1 − 1 of all o channels. srk_stem_runs tells whether the vector
   kernel runs these sizes (c ≤ 4, k ≤ 7, AVX-512); otherwise plain C loops do. The scratch
   is srk_stem_scratch floats, 64-byte aligned. */
int srk_stem_runs(int c, int k);
size_t srk_stem_scratch(int c, int k, int wo, int o, int rows);
void srk_stem(const float *x, int c, int h, int w, const float *weights, int o, int k, int top, int left, float *out,
              int ho, int wo, int oy0, int oy1, float *scratch, int fused);

/* Winograd's input transform of tiles t0..<t1 (row-major, tw a row) of one plane [h, w]
   padded by pt rows and pl columns, for F(4×4, 3×3) (`size` 4: element ξ = 6i + k of tile t
   at v[ξ·stride + t − t0]) or F(2×2, 3×3) (`size` 2: ξ = 4i + k) (winograd.c). Returns 0,
   writing nothing, below AVX-512 (SRRuntime's Swift transforms, the same bits, run instead)
   or when its line buffer cannot be had; pl ≥ 0. */
int srk_winograd_input(int size, const float *plane, int h, int w, int pt, int pl, int tw, int t0, int t1, float *v,
                       ptrdiff_t stride);

/* Floats of 64-byte-aligned scratch srk_depthwise needs for `rows` output rows. */
size_t srk_depthwise_scratch(int kh, int kw, int stride, int wo, int rows);
/* Floats srk_depthwise_blocks writes for c channels' filters of `taps` taps. */
size_t srk_depthwise_blocks_size(int c, int taps);
/* The filters weights [c, taps] in blocks of 16 channels, block b's tap t at (b·taps + t)·16,
   channel 16b + l in lane l, zeros past channel c − 1: the vectors srk_depthwise's channel
   blocks multiply by, made once per weight tensor by the caller. */
void srk_depthwise_blocks(const float *weights, int c, int taps, float *blocks);
/* One image's depthwise convolution (channel ch of x [C, h, w] with the kh × kw filter
   weights[ch], the same filters as `blocks` from srk_depthwise_blocks; one stride for both
   axes, `top` and `left` padding, zeros past the input's edges, no dilation), no bias, for
   channels c0..<c1 (c0 a multiple of 16) and output rows oy0..<oy1 of out [C, ho, wo]. Every
   level gives the same bits (depthwise.c: the order of the sums); only AVX-512 uses `blocks`
   and `scratch`. */
void srk_depthwise(const float *x, int h, int w, const float *weights, const float *blocks, int kh, int kw, int stride,
                   int top, int left, float *out, int ho, int wo, int c0, int c1, int oy0, int oy1, float *scratch);

/* Context-aware saliency's candidate patches of one scale search (the queries first): per
   patch j its position (ys, xs) and, for the screening, the squared norm and norm of its kept
   coefficients (the low frequencies of an orthonormal transform), the norm of the dropped
   rest (rounded up) and 1e-6·its full squared norm; the dissimilarity's 1/√dim (scale) and
   position weight. d = ‖p − c‖·scale / spread, spread = 1 + weight·√(dy² + dx²). */
typedef struct {
    const float *norms, *lengths, *residuals, *floors, *ys, *xs;
    float scale, weight;
} srk_patch_set;

/* Query patch q's dissimilarity to candidates j0 ≤ j < j1 from float64 dot products of the
   whole patches: the squared distance nq + norms[j] − 2·dots[j] (norms: float64 squared
   norms), clamped at 0 and rounded to float32, the rest in float32. The d_j < bound with
   j ≠ q are written, in order, to `kept` (room for j1 − j0); returns how many. Reads only
   the positions, scale and weight of `set`. Every level gives the same bits. */
size_t srk_patch_distances_below(const srk_patch_set *set, const double *dots, const double *norms, size_t q, float bound,
                                 float *kept, size_t j0, size_t j1);

/* Query patch q's dissimilarity to the candidates j0 ≤ j < j1, screened from the float32
   dot products of their kept coefficients (dots[j]): each d_j lies in [lo, hi] (from the
   kept part of the squared distance, within slack·lengths[j] + floors[q] + floors[j] of
   nq + norms[j] − 2·dots[j], and the dropped part, in [0, (rq + rj)²]; the caller's slack
   bounds the float32 product's error over ‖y_q‖·‖y_j‖), srk_patch_exact's value among
   them. Writes lo, hi and j of candidates j ≠ q, among them every lo < bound (a few with lo
   just above it, from a test without √ or ÷; a bound below 1e-15 is raised to it), to lo,
   hi, index, with their spreads in spread (each with room for j1 − j0); returns how many,
   and in *surely how many of them have hi < bound. Every level gives the same bits. */
size_t srk_patch_screen(const srk_patch_set *set, const float *dots, size_t q, float slack, float bound, float *lo, float *hi,
                        float *spread, int32_t *index, size_t j0, size_t j1, size_t *surely);

/* d[i] = the dissimilarity of patch q to patch index[i] for i < count, the squared colour
   distance summed directly in float64 from `vectors` (one patch of dim values per row).
   Reads only the positions, scale and weight of `set`. Every level gives the same bits. */
void srk_patch_exact(const srk_patch_set *set, const double *vectors, size_t dim, size_t q, const int32_t *index, size_t count,
                     float *d);

#endif
