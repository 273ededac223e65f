/* Element-wise kernels compiled for several instruction sets in one binary and picked at
   run time by the CPU they run on (x86_64: AVX-512, AVX2 + FMA, or plain C; elsewhere
   plain C). SRRuntime/Kernels/FusedActivation.swift is the one user. */
#ifndef SRTOOL_CKERNELS_H
#define SRTOOL_CKERNELS_H

#include <stddef.h>

/* Instruction-set levels, best last. */
enum { SRK_ISA_SCALAR = 0, SRK_ISA_AVX2 = 1, SRK_ISA_AVX512 = 2 };

/* The best level this CPU runs. */
int srk_isa_supported(void);
/* The level the kernels use: the best supported unless lowered by srk_set_isa (tests run
   every level) or by SRTOOL_ISA=avx2|scalar in the environment, read on first use. */
int srk_isa(void);
/* Uses `level` (at most the supported one); returns the level now in use. */
int srk_set_isa(int level);

/* dst[i] = v / (1 + e^(−v)), v = src[i] + bias (SiLU), for i < n; src may equal dst.
   e^x as SRRuntime's fastExp (Cephes' expf scheme, relative error below 3e-7). */
void srk_silu(const float *src, float *dst, size_t n, float bias);

/* dst[i] = ½·v·(1 + erf(v/√2)), v = src[i] + bias (GELU), erf as SRRuntime's fastErf. */
void srk_gelu(const float *src, float *dst, size_t n, float bias);

#endif
