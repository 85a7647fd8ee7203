/* Convolution followed by max-over-time pooling, one filter width at a time (textgan/models/pooled_conv.py): the
   forward fused with the pooling, and the backward from the winning windows.

   Forward: each (row b, channel c) needs only the maximum over window positions of the convolution and the
   position that won it, so the (B, C, T) output is never written. A register tile of 6 windows (of one row or of
   several) x 16 channels is summed over the window's w x E inputs, which in the rows-first layout are w x E
   contiguous floats, a window's neighbour E floats further on: a matrix product over overlapping rows, without an
   unfolded copy.

   Backward: max-pooling passes each (row b, channel c) gradient g[b, c] to one window only, the one that won the
   maximum, starting at position s[b, c]. So the convolution's weight gradient is, for each channel, a sum over
   rows of that row's winning window scaled by g[b, c], and the input gradient adds g[b, c] times the filter into
   that window: B x C x (w x E) multiply-adds each, where the dense backward does that for every window position.

   Layouts (row-major, float32, int64 positions): x (B, T, E), the embedded rows zero-padded to T positions, so a
   window of w positions is w x E contiguous floats; s and g (B, C) rows `ld` apart; filters and weight gradients
   (C, E, w) as torch's Conv1d weight. A start s < 0 marks the bias column that stands in for a row's windows over
   padding alone: no weight or input gradient. Each function is single-threaded: the caller splits rows (or the
   weight gradient's channels) over threads. */
#include "vectors.h"  /* LANES floats a vector; fmav alike in every tile shape, so identical windows get identical
                          sums and the first of them wins */

/* the lane width the packed filters (pack_filters) are laid out for */
int64_t pack_lanes(void) { return LANES; }
#define TILE_VECTORS 12  /* vectors of a channel's weight gradient summed in registers over its rows (12
                            independent accumulators: an add's latency is hidden), or of its filter held in registers
                            for the input gradient */
#define ROW_LIST 256  /* rows of a block the weight gradient lists on the stack */
#define ROW_FLOATS 24576 /* 96 KB: the input rows a block of the weight gradient keeps in L2 beside its channel
                            group's running sums */
#define L2_FLOATS 49152  /* 192 KB: a channel group's running sums (weight gradient), kept in L2 while the rows
                            go by */
#define ROW_BLOCK 8   /* rows whose input gradient each channel's filter is added into from registers: 8 rows of
                         20 positions x 64 floats fill 40 KB of L1 (the fastest of 2-24 on SeqGAN's COCO batches) */

/* out[c, e, k] = value, for i = k x E + e: a window's element i in the (C, E, w) layout of the weight */
static inline void put(float *out, int64_t c, int64_t dim, int64_t width, int64_t i, float value) {
    out[(c * dim + i % dim) * width + i / dim] = value;
}

/* Channel c's winning windows in rows b0 .. b1 - 1, in row order: their offsets into the (B, T, E) rows (at) and
   their pooled gradients (scale); a row whose column is a bias column (start < 0) has none. Returns their count. */
static inline int64_t winning_windows(const int64_t *s, const float *g, int64_t ld, int64_t c, int64_t b0,
                                      int64_t b1, int64_t steps, int64_t dim, int64_t *at, float *scale) {
    int64_t m = 0;
    for (int64_t b = b0; b < b1; b++) {
        const int64_t start = s[b * ld + c];
        if (start < 0) continue;
        at[m] = (b * steps + start) * dim;
        scale[m++] = g[b * ld + c];
    }
    return m;
}

/* Elements i0 .. i0 + nv x LANES - 1 of channel c's weight gradient: `sums` (or 0 with `first`) plus the sum over
   m rows of scale[r] times the row's window (at x + at[r]), held in nv vector registers; written back to `sums`,
   or with `last` scattered into out (C, E, w). Inlined with a constant nv. */
static inline __attribute__((always_inline)) void weight_grad_tile(
        const float *x, const int64_t *at, const float *scale, int64_t m, int64_t i0, const int nv, int64_t c,
        int64_t dim, int64_t width, float *sums, int first, int last, float *out) {
    vf acc[TILE_VECTORS];
    for (int k = 0; k < nv; k++) acc[k] = first ? (vf){0} : loadv(sums + i0 + k * LANES);
    for (int64_t r = 0; r < m; r++) {
        const float *window = x + at[r] + i0;
        for (int k = 0; k < nv; k++) acc[k] = fmav(scale[r], loadv(window + k * LANES), acc[k]);
    }
    for (int k = 0; k < nv; k++) {
        const int64_t i = i0 + k * LANES;
        if (!last) {
            memcpy(sums + i, &acc[k], sizeof acc[k]);
        } else if (dim % LANES == 0) {  /* the vector's lanes share one window offset i / dim: two divisions */
            float *to = out + (c * dim + i % dim) * width + i / dim;
            for (int lane = 0; lane < LANES; lane++) to[lane * width] = acc[k][lane];
        } else {
            for (int lane = 0; lane < LANES; lane++) put(out, c, dim, width, i + lane, acc[k][lane]);
        }
    }
}

/* out (C, E, w) = sum over b of g[b, c] * x[b, s[b, c] : s[b, c] + w, :], each element summed over b in order.
   Channels go in groups whose running sums stay in L2, and rows in blocks whose x stays there too: for each channel of
   a group, the block's rows whose window was convolved are listed (offset, scale), then each run of up to
   TILE_VECTORS x LANES elements is carried in registers over them (a load and a multiply-add per element and row)
   between the group's running sums. The same additions in the same order as one pass over all rows.
   sums: room for the running sums, C x w x E floats (the caller's reused buffer; unread when one block holds
   every row). */
void weight_grad(const float *x, int64_t rows, int64_t steps, int64_t dim, const int64_t *s, const float *g,
                 int64_t ld, int64_t channels, int64_t width, float *sums, float *out) {
    const int64_t n = width * dim, vectorised = n - n % LANES;
    int64_t block = steps * dim <= ROW_FLOATS ? ROW_FLOATS / (steps * dim) : 1;
    block = block < rows ? block : rows;
    block = block < ROW_LIST ? block : ROW_LIST;
    const int64_t group = block == rows ? channels : (n <= L2_FLOATS ? L2_FLOATS / n : 1);
    int64_t at[ROW_LIST];
    float scale[ROW_LIST];
    for (int64_t c0 = 0; c0 < channels; c0 += group) {
        const int64_t c1 = c0 + group < channels ? c0 + group : channels;
        for (int64_t b0 = 0; b0 < rows; b0 += block) {
            const int64_t b1 = b0 + block < rows ? b0 + block : rows;
            const int first = b0 == 0, last = b1 == rows;
            for (int64_t c = c0; c < c1; c++) {
                float *channel_sums = sums + c * n;
                const int64_t m = winning_windows(s, g, ld, c, b0, b1, steps, dim, at, scale);
                int64_t i0 = 0;
                for (; i0 + TILE_VECTORS * LANES <= vectorised; i0 += TILE_VECTORS * LANES)
                    weight_grad_tile(x, at, scale, m, i0, TILE_VECTORS, c, dim, width, channel_sums, first, last,
                                     out);
                for (; i0 + 4 * LANES <= vectorised; i0 += 4 * LANES)
                    weight_grad_tile(x, at, scale, m, i0, 4, c, dim, width, channel_sums, first, last, out);
                for (; i0 < vectorised; i0 += LANES)
                    weight_grad_tile(x, at, scale, m, i0, 1, c, dim, width, channel_sums, first, last, out);
                for (; i0 < n; i0++) {
                    float sum = first ? 0 : channel_sums[i0];
                    for (int64_t r = 0; r < m; r++) sum = fmas(scale[r], x[at[r] + i0], sum);
                    if (last) put(out, c, dim, width, i0, sum);
                    else channel_sums[i0] = sum;
                }
            }
        }
    }
}

/* Elements i0 .. i0 + nv x LANES - 1 of a channel's filter, held in nv vector registers, times scale[r] added into
   each of m windows (at out + at[r]), the windows in order. Inlined with a constant nv. */
static inline __attribute__((always_inline)) void place_tile(const float *filter, float *out, const int64_t *at,
                                                             const float *scale, int64_t m, int64_t i0, const int nv) {
    vf f[TILE_VECTORS];
    for (int k = 0; k < nv; k++) f[k] = loadv(filter + i0 + k * LANES);
    for (int64_t r = 0; r < m; r++) {
        float *window = out + at[r] + i0;
        for (int k = 0; k < nv; k++) storev(window + k * LANES, fmav(scale[r], f[k], loadv(window + k * LANES)));
    }
}

/* out (B, T, E) += g[b, c] * filters[c] placed at window s[b, c], for every b and c; filters (C, w, E). Rows go in
   blocks of ROW_BLOCK whose input gradient rows stay in L1; for each channel in order, the block's rows whose
   window was convolved are listed (offset, scale), and each run of up to TILE_VECTORS x LANES filter elements is
   loaded into registers once and added into each of those windows (a load, a multiply-add and a store per element
   and row; the filter is read once per block instead of once per row). Each element gets its channels' terms in
   channel order, as in one pass over all channels. */
void input_grad(const float *filters, int64_t rows, int64_t steps, int64_t dim, const int64_t *s, const float *g,
                int64_t ld, int64_t channels, int64_t width, float *out) {
    const int64_t n = width * dim, vectorised = n - n % LANES;
    int64_t at[ROW_BLOCK];
    float scale[ROW_BLOCK];
    for (int64_t b0 = 0; b0 < rows; b0 += ROW_BLOCK) {
        const int64_t b1 = b0 + ROW_BLOCK < rows ? b0 + ROW_BLOCK : rows;
        for (int64_t c = 0; c < channels; c++) {
            const float *filter = filters + c * n;
            const int64_t m = winning_windows(s, g, ld, c, b0, b1, steps, dim, at, scale);
            if (m == 0) continue;
            int64_t i0 = 0;
            for (; i0 + TILE_VECTORS * LANES <= vectorised; i0 += TILE_VECTORS * LANES)
                place_tile(filter, out, at, scale, m, i0, TILE_VECTORS);
            for (; i0 + 4 * LANES <= vectorised; i0 += 4 * LANES) place_tile(filter, out, at, scale, m, i0, 4);
            for (; i0 < vectorised; i0 += LANES) place_tile(filter, out, at, scale, m, i0, 1);
            for (; i0 < n; i0++)
                for (int64_t r = 0; r < m; r++) out[at[r] + i0] = fmas(scale[r], filter[i0], out[at[r] + i0]);
        }
    }
}

#if LANES == 16
#define TILE 12       /* window positions of the forward's register tile (x 2 vectors of channels: 24 of
                         AVX-512's 32 registers) */
#else
#define TILE 6        /* window positions of the forward's register tile (x 2 vectors of channels: 12 sums) */
#endif

/* packed (ceil(C / LANES), w x E, LANES) = filters (C, E, w) with window offsets k x E + e, channels in lanes, the
   missing channels of the last lane group zero */
void pack_filters(const float *filters, int64_t channels, int64_t dim, int64_t width, float *packed) {
    const int64_t groups = (channels + LANES - 1) / LANES;
    for (int64_t g = 0; g < groups; g++)  /* written in order; a lane group's filters (LANES x E x w) stay in cache */
        for (int64_t k = 0; k < width; k++)
            for (int64_t e = 0; e < dim; e++)
                for (int64_t lane = 0; lane < LANES; lane++) {
                    const int64_t c = g * LANES + lane;
                    *packed++ = c < channels ? filters[(c * dim + e) * width + k] : 0.0f;
                }
}

/* out (count, cols, rows) = in (count, rows, cols) with each matrix transposed: the (C, E, w) <-> (C, w, E) layouts
   of filters and their gradients, one channel's matrix at a time (in cache) */
void transpose_each(const float *in, int64_t count, int64_t rows, int64_t cols, float *out) {
    for (int64_t m = 0; m < count; m++, in += rows * cols, out += rows * cols)
        for (int64_t j = 0; j < cols; j++)
            for (int64_t i = 0; i < rows; i++) out[j * rows + i] = in[i * cols + j];
}

/* sums[p][v] = the windows at a[p] (mr of them, each `depth` floats) dotted with the nv lane groups of filters at
   f0 and f1; inlined with constant mr and nv, so the sums stay in registers */
static inline __attribute__((always_inline)) void window_tile(const float *const a[TILE], const float *f0,
        const float *f1, int64_t depth, const int mr, const int nv, vf sums[TILE][2]) {
    for (int p = 0; p < mr; p++)
        for (int v = 0; v < nv; v++) sums[p][v] = (vf){0};
    for (int64_t j = 0; j < depth; j++) {
        const vf b0 = loadv(f0 + j * LANES), b1 = nv > 1 ? loadv(f1 + j * LANES) : b0;
        for (int p = 0; p < mr; p++) {
            const float in = a[p][j];
            sums[p][0] = fmav(in, b0, sums[p][0]);
            if (nv > 1) sums[p][1] = fmav(in, b1, sums[p][1]);
        }
    }
}

#define TILE_CASE(MR, NV) case (MR) * 2 + (NV) - 1: window_tile(tile, f0, f1, depth, MR, NV, sums); break;
#define BLOCK 64      /* rows whose running maxima the forward keeps at once (on the stack) */

/* Sums the mr windows of a tile and folds each into its row's running maxima: window p starts at position pos[p]
   of row row[p] (an index into best and at, the maxima and their first positions), in tile order */
static inline void keep_max(const float *const tile[TILE], const int *row, const int64_t *pos, int mr, int nv,
                            const float *f0, const float *f1, int64_t depth, vf best[][2], vf at[][2]) {
    vf sums[TILE][2];
    switch (mr * 2 + nv - 1) {
        TILE_CASE(1, 1) TILE_CASE(1, 2) TILE_CASE(2, 1) TILE_CASE(2, 2) TILE_CASE(3, 1) TILE_CASE(3, 2)
        TILE_CASE(4, 1) TILE_CASE(4, 2) TILE_CASE(5, 1) TILE_CASE(5, 2) TILE_CASE(6, 1) TILE_CASE(6, 2)
#if TILE > 6
        TILE_CASE(7, 1) TILE_CASE(7, 2) TILE_CASE(8, 1) TILE_CASE(8, 2) TILE_CASE(9, 1) TILE_CASE(9, 2)
        TILE_CASE(10, 1) TILE_CASE(10, 2) TILE_CASE(11, 1) TILE_CASE(11, 2) TILE_CASE(12, 1) TILE_CASE(12, 2)
#endif
    }
    for (int p = 0; p < mr; p++)
        for (int v = 0; v < nv; v++) {  /* strictly greater: the first maximum keeps its position */
            const vi more = sums[p][v] > best[row[p]][v];
            best[row[p]][v] = selectv(more, sums[p][v], best[row[p]][v]);
            at[row[p]][v] = selectv(more, (vf){0} + (float)pos[p], at[row[p]][v]);
        }
}

/* values[b, c] = bias[c] + the maximum over windows t < valid[b] of the window at t dotted with filter c, and
   starts[b, c] = the first t that attains it; where open (B,) is given and open[b] != 0, a bias-only window
   follows row b's (it wins only when bias[c] is strictly greater; its start is -1). packed as pack_filters gives
   it; values and starts rows ld apart.
   A register tile takes the next TILE windows in (row, position) order, across rows: a row with fewer windows
   than a tile does not leave it part empty (too few independent sums to hide an add's latency). */
void conv_max(const float *x, int64_t rows, int64_t steps, int64_t dim, const float *packed, const float *bias,
              int64_t channels, int64_t width, const int64_t *valid, const int64_t *open, float *values,
              int64_t *starts, int64_t ld) {
    const int64_t depth = width * dim, groups = (channels + LANES - 1) / LANES;
    vf best[BLOCK][2], at[BLOCK][2];
    for (int64_t g0 = 0; g0 < groups; g0 += 2) {
        const int nv = g0 + 1 < groups ? 2 : 1;
        const float *f0 = packed + g0 * depth * LANES, *f1 = f0 + depth * LANES;
        for (int64_t b0 = 0; b0 < rows; b0 += BLOCK) {
            const int64_t b1 = b0 + BLOCK < rows ? b0 + BLOCK : rows;
            const float *tile[TILE];
            int row[TILE], mr = 0;
            int64_t pos[TILE];
            for (int64_t b = b0; b < b1; b++) {
                for (int v = 0; v < 2; v++) {
                    best[b - b0][v] = (vf){0} - INFINITY;
                    at[b - b0][v] = (vf){0};
                }
                for (int64_t t = 0; t < valid[b]; t++) {
                    tile[mr] = x + (b * steps + t) * dim;
                    row[mr] = (int)(b - b0);
                    pos[mr++] = t;
                    if (mr == TILE) {
                        keep_max(tile, row, pos, mr, nv, f0, f1, depth, best, at);
                        mr = 0;
                    }
                }
            }
            if (mr > 0) keep_max(tile, row, pos, mr, nv, f0, f1, depth, best, at);
            for (int64_t b = b0; b < b1; b++)
                for (int v = 0; v < nv; v++)
                    for (int lane = 0; lane < LANES && (g0 + v) * LANES + lane < channels; lane++) {
                        const int64_t c = (g0 + v) * LANES + lane;
                        float value = best[b - b0][v][lane] + bias[c];
                        int64_t start = (int64_t)at[b - b0][v][lane];
                        if (open != 0 && open[b] != 0 && bias[c] > value) {
                            value = bias[c];
                            start = -1;
                        }
                        values[b * ld + c] = value;
                        starts[b * ld + c] = start;
                    }
        }
    }
}

/* The winning-window backward of `count` convolutions in one call (the Python loop over them cost ~50 us each a
   backward): convolution i has channels[i] channels of width widths[i], filters weights[i] (C_i, E, w_i), and its
   columns of s and g start at column offsets[i]. */

/* weight_grad for the channels first..stop-1 of all the convolutions, numbered across them in order: convolution
   i's into out[i] (C_i, E, w_i), with running sums in `sums` (as many floats as the largest weight) */
void weight_grads(const float *x, int64_t rows, int64_t steps, int64_t dim, const int64_t *s, const float *g,
                  int64_t ld, int64_t count, const int64_t *channels, const int64_t *widths, const int64_t *offsets,
                  int64_t first, int64_t stop, float *sums, float *const *out) {
    for (int64_t i = 0, base = 0; i < count; base += channels[i], i++) {
        const int64_t c0 = first > base ? first - base : 0, c1 = stop - base < channels[i] ? stop - base : channels[i];
        if (c0 >= c1) continue;
        const int64_t at = c0 * dim * widths[i];
        weight_grad(x, rows, steps, dim, s + offsets[i] + c0, g + offsets[i] + c0, ld, c1 - c0, widths[i], sums + at,
                    out[i] + at);
    }
}

/* input_grad of every convolution for `rows` rows (s, g and out at the first of them), each convolution's filters
   first transposed to (C_i, w_i, E) into `filters` (as many floats as the largest weight) */
void input_grads(const float *const *weights, float *filters, int64_t rows, int64_t steps, int64_t dim,
                 const int64_t *s, const float *g, int64_t ld, int64_t count, const int64_t *channels,
                 const int64_t *widths, const int64_t *offsets, float *out) {
    for (int64_t i = 0; i < count; i++) {
        transpose_each(weights[i], channels[i], dim, widths[i], filters);
        input_grad(filters, rows, steps, dim, s + offsets[i], g + offsets[i], ld, channels[i], widths[i], out);
    }
}

/* Both, one convolution after another (the order of the loop over them in Python, which keeps each one's data in
   cache between its two gradients): out[i] if need_weights, `grad_x` if need_x; on one thread */
void window_grads(const float *x, int64_t rows, int64_t steps, int64_t dim, const int64_t *s, const float *g,
                  int64_t ld, int64_t count, const int64_t *channels, const int64_t *widths, const int64_t *offsets,
                  const float *const *weights, float *sums, float *filters, float *const *out, float *grad_x) {
    for (int64_t i = 0; i < count; i++) {
        if (out != 0)
            weight_grad(x, rows, steps, dim, s + offsets[i], g + offsets[i], ld, channels[i], widths[i], sums,
                        out[i]);
        if (grad_x != 0) {
            transpose_each(weights[i], channels[i], dim, widths[i], filters);
            input_grad(filters, rows, steps, dim, s + offsets[i], g + offsets[i], ld, channels[i], widths[i], grad_x);
        }
    }
}

/* The forward of `count` convolutions in one call: convolution i has channels[i] channels of width widths[i],
   filters weights[i] (C_i, E, w_i) and bias biases[i]; pack_all lays out every filter as pack_filters does, one
   after another in `packed`, and conv_max_all runs conv_max on each, its windows valid + i x stride (and
   open + i x stride where open is given), its columns of values and starts after the earlier ones' */
static inline int64_t packed_floats(int64_t channels, int64_t width, int64_t dim) {
    return (channels + LANES - 1) / LANES * LANES * width * dim;  /* one convolution's packed filters */
}

void pack_all(const float *const *weights, int64_t count, int64_t dim, const int64_t *channels, const int64_t *widths,
              float *packed) {
    for (int64_t i = 0; i < count; i++) {
        pack_filters(weights[i], channels[i], dim, widths[i], packed);
        packed += packed_floats(channels[i], widths[i], dim);
    }
}

void conv_max_all(const float *x, int64_t rows, int64_t steps, int64_t dim, const float *packed,
                  const float *const *biases, int64_t count, const int64_t *channels, const int64_t *widths,
                  const int64_t *valid, const int64_t *open, int64_t stride, float *values, int64_t *starts,
                  int64_t ld) {
    for (int64_t i = 0; i < count; i++) {
        conv_max(x, rows, steps, dim, packed, biases[i], channels[i], widths[i], valid + i * stride,
                 open != 0 ? open + i * stride : 0, values, starts, ld);
        packed += packed_floats(channels[i], widths[i], dim);
        values += channels[i];
        starts += channels[i];
    }
}
