/* The forward product of a linear layer at a thin batch, y = x W^T + b, for B of about 64 rows against a large W
   (textgan/models/thin_linear.py; SeqGAN's highway in D training, 3,440 x 1,720, textgan/models/deferred_linear.py),
   and its input gradient dx = dy W (thin_linear_input_grad, at the end).

   torch's GEMM first packs W into its own panels, a second pass over W's memory as long as the product's: at 64
   rows the product ran at 76% of a square GEMM's rate alone and at about 50% inside D's training step
   (docs/benchmarks.md). Here W is read where it lies: a register tile of ROWS rows of W x BV vectors of the batch
   is summed over the input dimension, each term loading BV vectors of x^T's row and broadcasting one element of
   each of the ROWS rows of W, which are read front to back; each element of W is read once per BV x LANES batch
   rows.

   y[b, o] = sum over k = 0..in-1 in order of x[b, k] w[o, k], a fused multiply-add per term from 0, then bias[o]
   added (none without a bias): the same numbers whatever the tile, the lane width or the split over threads.
   Layouts (row-major, float32): w (out, in); xt (in, bp) = x transposed, bp a multiple of LANES, its columns from
   `batch` on zero; y (batch, ldy). The caller splits W's rows over threads. */
#include "vectors.h"

#if LANES == 16
#define ROWS 6  /* 24 sums + 4 batch vectors + a broadcast in AVX-512's 32 registers */
#else
#define ROWS 3  /* 12 sums + 4 batch vectors in AVX2's 16 registers, the broadcast from memory */
#endif
#define BV 4

/* rows o .. o + nr - 1 of y's columns for the batch rows of nv vectors from b0; inlined with constant nr, nv */
static inline __attribute__((always_inline)) void tile(const float *w, int64_t in, const float *xt, int64_t bp,
        int64_t batch, int64_t o, int64_t b0, const int nr, const int nv, const float *bias, float *y, int64_t ldy) {
    vf sum[ROWS][BV];
    for (int r = 0; r < nr; r++)
        for (int v = 0; v < nv; v++) sum[r][v] = (vf){0};
    const float *row = w + o * in;
    for (int64_t k = 0; k < in; k++) {
        vf col[BV];
        for (int v = 0; v < nv; v++) col[v] = loadv(xt + k * bp + b0 + v * LANES);
        for (int r = 0; r < nr; r++) {
            const float weight = row[r * in + k];
            for (int v = 0; v < nv; v++) sum[r][v] = fmav(weight, col[v], sum[r][v]);
        }
    }
    for (int r = 0; r < nr; r++)
        for (int v = 0; v < nv; v++)
            for (int lane = 0; lane < LANES; lane++) {
                const int64_t b = b0 + v * LANES + lane;
                if (b < batch) y[b * ldy + o + r] = bias != 0 ? sum[r][v][lane] + bias[o + r] : sum[r][v][lane];
            }
}

/* rows o0 .. o1 - 1 of W for the batch rows of nv vectors from b0 */
static inline __attribute__((always_inline)) void tiles(const float *w, int64_t in, const float *xt, int64_t bp,
        int64_t batch, int64_t o0, int64_t o1, int64_t b0, const int nv, const float *bias, float *y, int64_t ldy) {
    int64_t o = o0;
    for (; o + ROWS <= o1; o += ROWS) tile(w, in, xt, bp, batch, o, b0, ROWS, nv, bias, y, ldy);
    for (; o < o1; o++) tile(w, in, xt, bp, batch, o, b0, 1, nv, bias, y, ldy);
}

/* y[b, o] for the rows o0 .. o1 - 1 of W and every b < batch (layouts above); bias may be 0 */
void thin_linear(const float *w, int64_t in, const float *xt, int64_t bp, int64_t batch, int64_t o0, int64_t o1,
                 const float *bias, float *y, int64_t ldy) {
    for (int64_t b0 = 0; b0 < bp; b0 += BV * LANES) {
        const int64_t left = (bp - b0) / LANES;  /* vectors of batch rows from b0 */
        if (left >= 4) tiles(w, in, xt, bp, batch, o0, o1, b0, 4, bias, y, ldy);
        else if (left == 3) tiles(w, in, xt, bp, batch, o0, o1, b0, 3, bias, y, ldy);
        else if (left == 2) tiles(w, in, xt, bp, batch, o0, o1, b0, 2, bias, y, ldy);
        else tiles(w, in, xt, bp, batch, o0, o1, b0, 1, bias, y, ldy);
    }
}

/* rows of W a register tile covers: the caller splits W's rows over threads in multiples of it */
int64_t thin_linear_rows(void) { return ROWS; }

/* The input gradient dx = dy W: dxt (in, bp) = dx transposed, each element the sum over o = 0..out-1 in order of
   w[o, k] dyt[o, b], a fused multiply-add per term from 0, so the numbers do not depend on the blocks, the tile,
   the lane width or the split over threads (they differ from torch's product by round-off). torch's product on
   SeqGAN's highway at 64 rows ran at ~70% of the machine's multiply-add peak on Zen 4 (docs/benchmarks.md).

   A register tile of ROWS columns of W x BV vectors of the batch: each term loads BV vectors of dy^T's row o and
   broadcasts ROWS consecutive elements of W's row o. The output dimension runs in blocks of OUT_BLOCK rows of W,
   which come from memory once, in order, each block's tiles walking along its rows (a prefetch a few tiles
   ahead); a tile's sums start from the last block's, kept in dxt. Layouts (row-major, float32): w (out, in);
   dyt (out, bp) = dy transposed, bp a multiple of LANES, its columns from the batch on zero; dxt (in, bp). The
   caller splits W's columns over threads. */
#define OUT_BLOCK 128
#define AHEAD 32  /* elements of W's row a tile prefetches ahead of its own */

/* dxt rows k .. k + nr - 1, batch vectors from b0 (nv of them), summed over W's rows o0 .. o1 - 1; inlined with
   constant nr, nv */
static inline __attribute__((always_inline)) void grad_tile(const float *w, int64_t in, const float *dyt,
        int64_t bp, float *dxt, int64_t k, int64_t b0, int64_t o0, int64_t o1, const int nr, const int nv) {
    vf sum[ROWS][BV];
    for (int r = 0; r < nr; r++)
        for (int v = 0; v < nv; v++) sum[r][v] = o0 == 0 ? (vf){0} : loadv(dxt + (k + r) * bp + b0 + v * LANES);
    for (int64_t o = o0; o < o1; o++) {
        const float *row = w + o * in + k;
        __builtin_prefetch(row + AHEAD, 0, 3);
        vf col[BV];
        for (int v = 0; v < nv; v++) col[v] = held(loadv(dyt + o * bp + b0 + v * LANES));
        for (int r = 0; r < nr; r++)
            for (int v = 0; v < nv; v++) sum[r][v] = fmav(row[r], col[v], sum[r][v]);
    }
    for (int r = 0; r < nr; r++)
        for (int v = 0; v < nv; v++) storev(dxt + (k + r) * bp + b0 + v * LANES, sum[r][v]);
}

/* dxt rows k0 .. k1 - 1 for the batch vectors from b0 (nv of them) over W's rows o0 .. o1 - 1 */
static inline __attribute__((always_inline)) void grad_tiles(const float *w, int64_t in, const float *dyt,
        int64_t bp, float *dxt, int64_t k0, int64_t k1, int64_t b0, int64_t o0, int64_t o1, const int nv) {
    int64_t k = k0;
    for (; k + ROWS <= k1; k += ROWS) grad_tile(w, in, dyt, bp, dxt, k, b0, o0, o1, ROWS, nv);
    for (; k < k1; k++) grad_tile(w, in, dyt, bp, dxt, k, b0, o0, o1, 1, nv);
}

/* dxt rows k0 .. k1 - 1 (W's columns) from W's `out` rows (layouts above) */
void thin_linear_input_grad(const float *w, int64_t out, int64_t in, const float *dyt, int64_t bp, float *dxt,
                            int64_t k0, int64_t k1) {
    for (int64_t o0 = 0; o0 < out; o0 += OUT_BLOCK) {
        const int64_t o1 = o0 + OUT_BLOCK < out ? o0 + OUT_BLOCK : out;
        for (int64_t b0 = 0; b0 < bp; b0 += BV * LANES) {
            const int64_t left = (bp - b0) / LANES;  /* vectors of batch rows from b0 */
            if (left >= 4) grad_tiles(w, in, dyt, bp, dxt, k0, k1, b0, o0, o1, 4);
            else if (left == 3) grad_tiles(w, in, dyt, bp, dxt, k0, k1, b0, o0, o1, 3);
            else if (left == 2) grad_tiles(w, in, dyt, bp, dxt, k0, k1, b0, o0, o1, 2);
            else grad_tiles(w, in, dyt, bp, dxt, k0, k1, b0, o0, o1, 1);
        }
    }
}
