/* One Adam step of a weight W (out, in) whose gradient is left as two thin factors, dW = dy^T x
   (textgan/training/fused_step.py, the highway layer of textgan/models/deferred_linear.py).

   A register tile of ROWS rows x VECS vectors of W's columns sums its gradient over the B rows of the factors,
   then steps those parameters and Adam's moments, so dW is never written to memory nor read back, and W, m and
   v are each read and written once. Run after a tile's multiply-adds, Adam's two divisions per vector wait on the
   divider with nothing to overlap them (the next tile's multiply-adds do not fit in the reorder window behind
   them), so a full tile's sums wait in L1 and its Adam runs spread over the next tile's sums, one vector every
   CHUNK terms (its W, m and v prefetched when its own sums start); tiles on the edges step at once. The
   arithmetic is the same either way (docs/benchmarks.md has the measurements).

   Adam takes the operations of torch's fused CPU kernel (ATen/native/cpu/FusedAdamKernel.cpp) in its order,
   plain Adam only (no amsgrad, maximize or decoupled decay: fused_step.fusable):
     with weight decay, g += decay * w (one fused multiply-add);
     m = lerp(m, g, 1 - beta1) as torch's vectorised lerp (one fused multiply-add);
     v = ((1 - beta2) g) g + v beta2 (one fused multiply-add);
     w += (-lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps);
   no other multiply-add is contracted. On the same gradient the results equal those of torch's vectorised loop
   bit for bit (tested; its scalar loop for a tensor's last few elements rounds otherwise). Each
   sum of the gradient runs over b = 0..B-1 in order with a fused multiply-add per term, whatever the lane width or
   the tile, so the numbers do not depend on either (they differ from a BLAS product's by round-off).

   Layouts (row-major, float32): dyt (rows_padded, B), the scaled dy transposed, its rows past `out` zero; x
   (B, in_padded), its columns past `in` zero, in_padded a multiple of VECS x LANES; w, m, v (out, in). The
   caller splits rows over threads. */
#include "vectors.h"

#if LANES == 16
#define VECS 4  /* 16 sums + 4 columns + 1 factor in AVX-512's 32 registers */
#else
#define VECS 2  /* 8 sums + 2 columns + 1 factor in AVX2's 16 registers */
#endif
#define ROWS 4
#define CHUNK 2  /* terms of the sums per spread Adam vector */
#define SPAN (VECS * LANES)  /* columns a tile covers */

typedef struct {
    float lerp, beta2, rest2, root2, eps, step, decay;  /* 1 - beta1, beta2, 1 - beta2, sqrt(1 - beta2^t), eps,
                                                           -lr / (1 - beta1^t), weight decay */
    float coeff;  /* torch's lerp(a, b, t) is a + t (b - a) for |t| < 0.5, else b + (t - 1) (b - a) */
} Settings;

/* Adam on LANES parameters at w, m, v with gradient g */
static inline __attribute__((always_inline)) void adam(float *w, float *m, float *v, vf g, const Settings *s) {
    vf wv = loadv(w), mv = loadv(m), vv = loadv(v);
    if (s->decay != 0.0f) g = fmav(s->decay, wv, g);
    mv = fmav(s->coeff, g - mv, fabsf(s->lerp) < 0.5f ? mv : g);
    vv = fmaw(s->rest2 * g, g, vv * s->beta2);
    wv = wv + (s->step * mv) / (sqrtv(vv) / s->root2 + s->eps);
    storev(w, wv);
    storev(m, mv);
    storev(v, vv);
}

/* Adam on the first `count` (< LANES) parameters at w, m, v, through copies padded to a vector (a row's last
   columns: not inlined) */
static __attribute__((noinline)) void adam_part(float *w, float *m, float *v, vf g, int64_t count, const Settings *s) {
    float wl[LANES] = {0}, ml[LANES] = {0}, vl[LANES] = {0};
    memcpy(wl, w, count * 4);
    memcpy(ml, m, count * 4);
    memcpy(vl, v, count * 4);
    adam(wl, ml, vl, g, s);
    memcpy(w, wl, count * 4);
    memcpy(m, ml, count * 4);
    memcpy(v, vl, count * 4);
}

/* Adam on vector k of the pending full tile: its sums in stash, its parameters at offset prev of w, m, v */
static inline __attribute__((always_inline)) void stashed_adam(float *w, float *m, float *v, const vf *stash,
                                                               int64_t prev, int k, int64_t in, const Settings *s) {
    const int64_t o = prev + (k / VECS) * in + (k % VECS) * LANES;
    adam(w + o, m + o, v + o, stash[k], s);
}

/* the tile's sums plus term b: row b of x (columns from xb) times the tile's rows of dy^T (from d) */
static inline __attribute__((always_inline)) void add_term(vf sum[ROWS][VECS], const float *d, const float *xb,
                                                           int64_t b, int64_t batch, int64_t in_padded) {
    vf col[VECS];
#pragma GCC unroll 4
    for (int q = 0; q < VECS; q++) col[q] = held(loadv(xb + b * in_padded + q * LANES));  /* loaded once a term */
#pragma GCC unroll 4
    for (int r = 0; r < ROWS; r++) {
        const float f = d[r * batch + b];
#pragma GCC unroll 4
        for (int q = 0; q < VECS; q++) sum[r][q] = fmav(f, col[q], sum[r][q]);
    }
}

/* the sums of one register tile over b = 0..batch-1 (d and xb as in add_term), with the Adam of the pending full
   tile (none when prev < 0) spread over the loop, one vector every CHUNK terms, so its divisions overlap the
   multiply-adds */
static inline __attribute__((always_inline)) void tile_sums(vf sum[ROWS][VECS], const float *d, const float *xb,
        int64_t batch, int64_t in, int64_t in_padded, float *w, float *m, float *v, const vf *stash, int64_t prev,
        const Settings *s) {
#pragma GCC unroll 4
    for (int r = 0; r < ROWS; r++)
#pragma GCC unroll 4
        for (int q = 0; q < VECS; q++) sum[r][q] = (vf){0};
    int k = prev >= 0 ? 0 : ROWS * VECS;  /* the pending tile's next vector */
    int64_t b = 0;
    for (; b + CHUNK <= batch; b += CHUNK) {
#pragma GCC unroll 8
        for (int u = 0; u < CHUNK; u++) add_term(sum, d, xb, b + u, batch, in_padded);
        if (k < ROWS * VECS) stashed_adam(w, m, v, stash, prev, k++, in, s);
    }
    for (; b < batch; b++) add_term(sum, d, xb, b, batch, in_padded);
    for (; k < ROWS * VECS; k++) stashed_adam(w, m, v, stash, prev, k, in, s);
}

/* rows start..stop-1 of w, m, v stepped on dW = dyt^T x (layouts above) */
void factored_adam(float *w, float *m, float *v, const float *dyt, const float *x, int64_t batch, int64_t in,
                   int64_t in_padded, int64_t start, int64_t stop, float lerp, float beta2, float rest2, float root2,
                   float eps, float step, float decay) {
    const Settings s = {lerp, beta2, rest2, root2, eps, step, decay, fabsf(lerp) < 0.5f ? lerp : lerp - 1.0f};
    vf stash[ROWS * VECS];
    int64_t prev = -1;  /* the offset of the full tile whose Adam is pending, its sums in stash */
    for (int64_t j = start; j < stop; j += ROWS) {
        const float *d = dyt + j * batch;
        for (int64_t c = 0; c < in; c += SPAN) {
            vf sum[ROWS][VECS];
            const int full = j + ROWS <= stop && c + SPAN <= in;
            if (full)
#pragma GCC unroll 4
                for (int r = 0; r < ROWS; r++)
#pragma GCC unroll 4
                    for (int q = 0; q < VECS; q++) {
                        const int64_t o = (j + r) * in + c + q * LANES;
                        __builtin_prefetch(w + o, 1, 3);
                        __builtin_prefetch(m + o, 1, 3);
                        __builtin_prefetch(v + o, 1, 3);
                    }
            tile_sums(sum, d, x + c, batch, in, in_padded, w, m, v, stash, prev, &s);
            prev = -1;
            if (full) {
#pragma GCC unroll 4
                for (int r = 0; r < ROWS; r++)
#pragma GCC unroll 4
                    for (int q = 0; q < VECS; q++) stash[r * VECS + q] = sum[r][q];
                prev = j * in + c;
                continue;
            }
#pragma GCC unroll 4
            for (int r = 0; r < ROWS; r++)  /* constant bounds, unrolled: the sums stay in registers */
#pragma GCC unroll 4
                for (int q = 0; q < VECS; q++) {
                    const int64_t first = c + q * LANES, o = (j + r) * in + first;
                    if (j + r >= stop || first >= in) continue;
                    if (first + LANES <= in)
                        adam(w + o, m + o, v + o, sum[r][q], &s);
                    else
                        adam_part(w + o, m + o, v + o, sum[r][q], in - first, &s);
                }
        }
    }
    for (int k = 0; prev >= 0 && k < ROWS * VECS; k++) stashed_adam(w, m, v, stash, prev, k, in, &s);
}

/* columns a register tile covers: the caller pads x's columns to a multiple of it */
int64_t factored_adam_span(void) { return SPAN; }

/* rows a register tile covers: the caller pads dyt's rows to a multiple of it and starts each call on one */
int64_t factored_adam_rows(void) { return ROWS; }
