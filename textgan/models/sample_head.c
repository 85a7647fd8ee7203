/* One id per row drawn from softmax((outputs W^T + b) / T), the output projection fused with the draw
   (textgan/models/sampling.py's `sample_compiled`; the generator's compiled_sampler).

   torch's path forms a block of rows' logits (R x V floats, megabytes), then passes over them for the maximum, the
   exponentials, the block sums and the searches, each pass through memory. Here a register tile of GROUP rows x
   2 vectors of ids sums its logits over the hidden units and keeps each row's running maximum; then each row, its
   logits in L1, takes its exponentials and block sums in one pass and its id in a second over one block.

   The draw is torch's path's two-level inverse CDF on base-2 logits (the caller scales W and b by log2(e) / T):
     e_i = 2^(logit_i - max) (exactly 0 for an id whose bias is -inf: banned ids and padding);
     block sums S_k over IDS ids, cumulated in order; total = the last;
     target = min(u x total, the float below total);
     block k = the first whose cumulated sum exceeds target (the last block at most);
     within it, the first id whose cumulated e exceeds target minus the earlier blocks' mass, at most the first id
     at which the block's cumulated e reaches its final value (round-off cannot pick a zero-mass id).
   2^x is a degree-6 polynomial on the fractional part (relative error ~2e-7), not torch's exp2, and the sums run in
   another order, so the ids equal torch's path's for the same uniforms except where u falls within round-off of
   a boundary (tests/models/test_sample_head.py measures how often).

   Each row's numbers are the same sequence of operations whatever its group, the lane width or the thread split:
   logits are bias + the hidden units' terms in order, one fused multiply-add each; a block's sum adds its ids as 16
   columns of IDS / 16 in order, then the 16 column sums by a fixed tree.

   Layouts (row-major, float32): out (rows, hidden); wt (hidden, vp), W^T scaled, vp a multiple of IDS; bias (vp,)
   scaled, -inf past the vocabulary; u (rows,); ids (rows,) int64; buf: GROUP x vp floats; sums: vp / IDS floats
   (the caller's per-thread buffers). The caller splits rows over threads. */
#include "vectors.h"

typedef float v8 __attribute__((vector_size(32)));
typedef float v4 __attribute__((vector_size(16)));

#if LANES == 16
#define GROUP 12  /* rows of a register tile: 12 x 2 sums, 2 columns of W^T and a broadcast in AVX-512's 32
                     registers (3% faster a draw than 8 rows) */
#else
#define GROUP 6   /* 6 x 2 sums, 2 columns and a broadcast in AVX2's 16 registers */
#endif
#define IDS 64    /* ids of a block of the inverse CDF (torch's path: sampling.BLOCK_IDS) */
#define COLUMNS 16  /* a block's sum: 16 column sums of IDS / 16 ids each, then a tree; at any lane width */

/* 2^x per lane for x <= 0, exactly 0 below -126 (-inf included): x = n + f with n an integer (rounded to
   nearest by adding 1.5 x 2^23) and |f| <= 1/2, 2^f by its Taylor polynomial to degree 6 (Horner, fused
   multiply-adds), times 2^n built in the exponent bits */
static inline vf exp2v(vf x) {
    const vf magic = (vf){0} + 12582912.0f;
    const vi low = x < -126.0f;
    const vf clamped = selectv(low, (vf){0} - 126.0f, x);
    const vf shifted = clamped + magic;
    const vf f = clamped - (shifted - magic);
    vf p = (vf){0} + 1.5403530393381606e-4f;
    p = fmaw(p, f, (vf){0} + 1.3333558146428443e-3f);
    p = fmaw(p, f, (vf){0} + 9.6181291076284772e-3f);
    p = fmaw(p, f, (vf){0} + 5.5504108664821580e-2f);
    p = fmaw(p, f, (vf){0} + 2.4022650695910071e-1f);
    p = fmaw(p, f, (vf){0} + 6.9314718055994531e-1f);
    p = fmaw(p, f, (vf){0} + 1.0f);
    vi bits, magic_bits;
    memcpy(&bits, &shifted, sizeof bits);
    memcpy(&magic_bits, &magic, sizeof magic_bits);
    const vi exponent = ((bits - magic_bits) + 127) << 23;
    vf scale;
    memcpy(&scale, &exponent, sizeof scale);
    return selectv(low, (vf){0}, p * scale);
}

/* buf (GROUP, vp) = the logits of `group` rows (rows past it repeat the last), top[r] = row r's maximum */
static void logits(const float *out, int group, int64_t hidden, const float *wt, const float *bias, int64_t vp,
                   float *buf, float *top) {
    const float *row[GROUP];
    for (int r = 0; r < GROUP; r++) row[r] = out + (r < group ? r : group - 1) * hidden;
    vf best[GROUP];
    for (int r = 0; r < GROUP; r++) best[r] = (vf){0} - INFINITY;
    for (int64_t v = 0; v < vp; v += 2 * LANES) {
        vf acc[GROUP][2];
        const vf b0 = loadv(bias + v), b1 = loadv(bias + v + LANES);
#pragma GCC unroll 12
        for (int r = 0; r < GROUP; r++) {
            acc[r][0] = b0;
            acc[r][1] = b1;
        }
        for (int64_t h = 0; h < hidden; h++) {
            const vf w0 = loadv(wt + h * vp + v), w1 = loadv(wt + h * vp + v + LANES);
#pragma GCC unroll 12
            for (int r = 0; r < GROUP; r++) {
                acc[r][0] = fmav(row[r][h], w0, acc[r][0]);
                acc[r][1] = fmav(row[r][h], w1, acc[r][1]);
            }
        }
#pragma GCC unroll 12
        for (int r = 0; r < GROUP; r++) {
            storev(buf + r * vp + v, acc[r][0]);
            storev(buf + r * vp + v + LANES, acc[r][1]);
            best[r] = selectv(acc[r][0] > best[r], acc[r][0], best[r]);
            best[r] = selectv(acc[r][1] > best[r], acc[r][1], best[r]);
        }
    }
    for (int r = 0; r < group; r++) {
        float m = -INFINITY;
        for (int lane = 0; lane < LANES; lane++) m = best[r][lane] > m ? best[r][lane] : m;
        top[r] = m;
    }
}

/* a row's e = 2^(logit - top) in place and its cumulated block sums into sums; the total */
static float exponentials(float *row, float top, int64_t vp, float *sums) {
    float total = 0.0f;
    for (int64_t k = 0; k < vp / IDS; k++) {
        float column[COLUMNS];
        for (int c = 0; c < COLUMNS; c += LANES) {  /* columns c .. c + LANES - 1 */
            vf s = (vf){0};
            for (int q = 0; q < IDS; q += COLUMNS) {
                float *at = row + k * IDS + q + c;
                const vf e = exp2v(loadv(at) - top);
                storev(at, e);
                s += e;
            }
            memcpy(column + c, &s, sizeof s);
        }
        v8 low, high;  /* the tree as vector halves (scalar adds here cost ~10% of a draw) */
        memcpy(&low, column, sizeof low);
        memcpy(&high, column + 8, sizeof high);
        const v8 eights = low + high;  /* column i + column i + 8 */
        v4 front, back;
        memcpy(&front, &eights, sizeof front);
        memcpy(&back, (const float *)&eights + 4, sizeof back);
        const v4 fours = front + back;
        total += (fours[0] + fours[2]) + (fours[1] + fours[3]);
        sums[k] = total;
    }
    return total;
}

/* the id drawn with uniform u from a row whose exponentials and cumulated block sums are done */
static int64_t pick(const float *row, const float *sums, int64_t blocks, float total, float u) {
    const float below = nextafterf(total, 0.0f);
    float target = u * total;
    if (!(target < below)) target = below;
    int64_t block = 0;
    while (block < blocks - 1 && !(sums[block] > target)) block++;
    const float rest = target - (block > 0 ? sums[block - 1] : 0.0f);
    const float *e = row + block * IDS;
    float cumulated[IDS], run = 0.0f;
    for (int i = 0; i < IDS; i++) cumulated[i] = run += e[i];
    int within = 0, reached = 0;
    while (within < IDS && !(cumulated[within] > rest)) within++;
    while (reached < IDS - 1 && !(cumulated[reached] >= run)) reached++;  /* bounded: a NaN row never matches */
    return block * IDS + (within < reached ? within : reached);
}

/* ids (rows,) drawn with uniforms u (rows,) from softmax of the base-2 logits out wt + bias (layouts above) */
void sample_head(const float *out, int64_t rows, int64_t hidden, const float *wt, const float *bias, int64_t vp,
                 const float *u, float *buf, float *sums, int64_t *ids) {
    float top[GROUP];
    for (int64_t r0 = 0; r0 < rows; r0 += GROUP) {
        const int group = rows - r0 < GROUP ? (int)(rows - r0) : GROUP;
        logits(out + r0 * hidden, group, hidden, wt, bias, vp, buf, top);
        for (int r = 0; r < group; r++) {
            const float total = exponentials(buf + r * vp, top[r], vp, sums);
            ids[r0 + r] = pick(buf + r * vp, sums, vp / IDS, total, u[r0 + r]);
        }
    }
}

/* rows of a register tile, and ids of a block: the caller's buffers and padding follow them */
int64_t sample_head_group(void) { return GROUP; }
int64_t sample_head_ids(void) { return IDS; }
