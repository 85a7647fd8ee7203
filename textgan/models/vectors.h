/* The vector type and arithmetic the compiled kernels share (pooled_conv.c, factored_adam.c, thin_linear.c,
   sample_head.c).

   GCC/clang vector extension: LANES floats, lowered to the machine's SIMD or to scalars. 16 where AVX-512 has
   16-lane registers (at 8 lanes, half of each register, the convolutions' forward took ~1.4x as long on such a
   machine), else 8 (AVX2, NEON, scalars). Each kernel's sums are the same sequence of operations at either width,
   so its numbers do not depend on it. */
#ifndef TEXTGAN_VECTORS_H
#define TEXTGAN_VECTORS_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__)
#define LANES 16
#else
#define LANES 8
#endif
typedef float vf __attribute__((vector_size(LANES * 4)));
static inline vf loadv(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline void storev(float *p, vf v) { memcpy(p, &v, sizeof v); }
typedef int32_t vi __attribute__((vector_size(LANES * 4)));  /* a lane mask, as a comparison of vf gives it */
/* yes where the mask is set, else no, lane by lane */
static inline vf selectv(vi mask, vf yes, vf no) { return (vf)(((vi)yes & mask) | ((vi)no & ~mask)); }

/* c + a * b alike in every inlined shape (the compiler contracts a * b + c in some and not in others): an explicit
   fused multiply-add where the machine has one, else a multiply and an add, which it then cannot contract. fmav
   for a scalar a, fmaw for a vector a, fmas for floats; sqrtv a square root per lane; held keeps a vector in a
   register (it does nothing without AVX-512). */
#if defined(__AVX512F__)
#include <immintrin.h>
static inline vf fmav(float a, vf b, vf c) { return (vf)_mm512_fmadd_ps(_mm512_set1_ps(a), (__m512)b, (__m512)c); }
static inline vf fmaw(vf a, vf b, vf c) { return (vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c); }
static inline float fmas(float a, float b, float c) { return fmaf(a, b, c); }
static inline vf sqrtv(vf a) { return (vf)_mm512_sqrt_ps((__m512)a); }
/* a, kept in a register: the compiler cannot fold its load into each multiply-add that reads it. Zen 4 loads one
   512-bit vector a cycle, so a register tile whose multiply-adds each reload the same vector from L1 waits on loads
   (factored_adam.c: held columns took its step ~14% less time alone, docs/benchmarks.md) */
static inline vf held(vf a) { __asm__("" : "+v"(a)); return a; }
#elif defined(__FMA__) && defined(__AVX__)
#include <immintrin.h>
static inline vf fmav(float a, vf b, vf c) { return (vf)_mm256_fmadd_ps(_mm256_set1_ps(a), (__m256)b, (__m256)c); }
static inline vf fmaw(vf a, vf b, vf c) { return (vf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c); }
static inline float fmas(float a, float b, float c) { return fmaf(a, b, c); }
static inline vf sqrtv(vf a) { return (vf)_mm256_sqrt_ps((__m256)a); }
#else
#if defined(__ARM_FEATURE_FMA)
static inline float fmas(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
#else
static inline float fmas(float a, float b, float c) { return a * b + c; }
#endif
static inline vf fmaw(vf a, vf b, vf c) {
    vf r;
    for (int i = 0; i < LANES; i++) r[i] = fmas(a[i], b[i], c[i]);
    return r;
}
static inline vf fmav(float a, vf b, vf c) {
    vf r;
    for (int i = 0; i < LANES; i++) r[i] = fmas(a, b[i], c[i]);
    return r;
}
static inline vf sqrtv(vf a) {
    vf r;
    for (int i = 0; i < LANES; i++) r[i] = sqrtf(a[i]);
    return r;
}
#endif
#if !defined(__AVX512F__)
static inline vf held(vf a) { return a; }
#endif
#endif
