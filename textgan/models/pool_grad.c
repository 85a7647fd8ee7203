/* The backward of one width's convolution followed by max-over-time pooling (textgan/models/pool_grad.py).

   Max-pooling passes each (row b, channel c) gradient g[b, c] to one window only, the one that won the maximum,
   starting at position s[b, c]. So the convolution's weight gradient is, for each channel, a sum over rows of
   that row's winning window scaled by g[b, c], and the input gradient adds g[b, c] times the filter into that
   window: B x C x (w x E) multiply-adds each, where the dense backward does that for every window position.

   Layouts (row-major, float32, int64 positions): x (B, T, E), the embedded rows zero-padded to T positions, so a
   window of w positions is w x E contiguous floats; s and g (B, C) rows `ld` apart; filters (C, w, E). A position
   s >= S (the windows convolved) is the bias column that stands in for padding-only windows: no weight or input
   gradient. Single-threaded: torch's thread pool does not reach here, and the work is small. */
#include <stdint.h>
#include <string.h>

/* GCC/clang vector extension: 8 floats, lowered to the machine's SIMD (AVX2, AVX-512, NEON) or to scalars */
typedef float v8 __attribute__((vector_size(32)));
static inline v8 load8(const float *p) { v8 v; memcpy(&v, p, sizeof v); return v; }
static inline void store8(float *p, v8 v) { memcpy(p, &v, sizeof v); }
#define LANES 8
#define CHUNK 32      /* floats of a channel's sum held in registers over all rows: 4 vectors */
#define GROUP 3       /* channels summed together: 12 independent accumulators (an add's latency is hidden), and
                         their windows of one row, which overlap, read from L1 */
#define ROW_BLOCK 8   /* rows served by one channel's filter while it is in L1 */

static void weight_grad_scalar(const float *x, int64_t rows, int64_t steps, int64_t dim, const int64_t *s,
                               const float *g, int64_t ld, int64_t c, int64_t from, int64_t n, int64_t convolved,
                               float *acc) {
    for (int64_t i = from; i < n; i++) {
        float sum = 0;
        for (int64_t b = 0; b < rows; b++) {
            const int64_t at = s[b * ld + c];
            if (at < convolved) sum += g[b * ld + c] * x[(b * steps + at) * dim + i];
        }
        acc[i] = sum;
    }
}

/* Channels c .. c + group - 1 of weight_grad; inlined with a constant `group`, so its sums stay in registers */
static inline __attribute__((always_inline)) void weight_grad_channels(
        const float *x, int64_t rows, int64_t steps, int64_t dim, const int64_t *s, const float *g, int64_t ld,
        int64_t c, const int group, int64_t n, int64_t vectorised, int64_t convolved, float *out) {
    for (int64_t i0 = 0; i0 < vectorised; i0 += CHUNK) {
        v8 acc[GROUP][CHUNK / LANES] = {{{0}}};
        for (int64_t b = 0; b < rows; b++) {
            for (int j = 0; j < group; j++) {
                const int64_t at = s[b * ld + c + j];
                if (at >= convolved) continue;
                const float scale = g[b * ld + c + j];
                const float *window = x + (b * steps + at) * dim + i0;
                for (int k = 0; k < CHUNK / LANES; k++) acc[j][k] += scale * load8(window + k * LANES);
            }
        }
        for (int j = 0; j < group; j++)
            for (int k = 0; k < CHUNK / LANES; k++) store8(out + (c + j) * n + i0 + k * LANES, acc[j][k]);
    }
    for (int j = 0; j < group; j++)
        weight_grad_scalar(x, rows, steps, dim, s, g, ld, c + j, vectorised, n, convolved, out + (c + j) * n);
}

/* out (C, w, E) = sum over b of g[b, c] * x[b, s[b, c] : s[b, c] + w, :], each element summed over b in order */
void weight_grad(const float *x, int64_t rows, int64_t steps, int64_t dim, const int64_t *s, const float *g,
                 int64_t ld, int64_t channels, int64_t width, int64_t convolved, float *out) {
    const int64_t n = width * dim, vectorised = n - n % CHUNK;
    int64_t c = 0;
    for (; c + GROUP <= channels; c += GROUP)
        weight_grad_channels(x, rows, steps, dim, s, g, ld, c, GROUP, n, vectorised, convolved, out);
    for (; c < channels; c++)
        weight_grad_channels(x, rows, steps, dim, s, g, ld, c, 1, n, vectorised, convolved, out);
}

/* out (B, T, E) += g[b, c] * filters[c] placed at window s[b, c], for every b and c */
void input_grad(const float *filters, int64_t rows, int64_t steps, int64_t dim, const int64_t *s, const float *g,
                int64_t ld, int64_t channels, int64_t width, int64_t convolved, float *out) {
    const int64_t n = width * dim;
    for (int64_t b0 = 0; b0 < rows; b0 += ROW_BLOCK) {
        const int64_t b1 = b0 + ROW_BLOCK < rows ? b0 + ROW_BLOCK : rows;
        for (int64_t c = 0; c < channels; c++) {
            const float *restrict filter = filters + c * n;
            for (int64_t b = b0; b < b1; b++) {
                const int64_t at = s[b * ld + c];
                if (at >= convolved) continue;
                const float scale = g[b * ld + c];
                float *restrict window = out + (b * steps + at) * dim;
                for (int64_t i = 0; i < n; i++) window[i] += scale * filter[i];
            }
        }
    }
}
