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

/* out (C, w, E) = sum over b of g[b, c] * x[b, s[b, c] : s[b, c] + w, :] */
void weight_grad(const float *x, int64_t rows, int64_t steps, int64_t dim, const int64_t *s, const float *g,
                 int64_t ld, int64_t channels, int64_t width, int64_t convolved, float *out) {
    const int64_t n = width * dim;
    memset(out, 0, sizeof(float) * (size_t)(channels * n));
    for (int64_t c = 0; c < channels; c++) {
        float *restrict acc = out + c * n;
        for (int64_t b = 0; b < rows; b++) {
            const int64_t at = s[b * ld + c];
            if (at >= convolved) continue;
            const float scale = g[b * ld + c];
            const float *restrict window = x + (b * steps + at) * dim;
            for (int64_t i = 0; i < n; i++) acc[i] += scale * window[i];
        }
    }
}

/* out (B, T, E) += g[b, c] * filters[c] placed at window s[b, c], for every b and c */
void input_grad(const float *filters, int64_t rows, int64_t steps, int64_t dim, const int64_t *s, const float *g,
                int64_t ld, int64_t channels, int64_t width, int64_t convolved, float *out) {
    const int64_t n = width * dim;
    for (int64_t b = 0; b < rows; b++) {
        for (int64_t c = 0; c < channels; c++) {
            const int64_t at = s[b * ld + c];
            if (at >= convolved) continue;
            const float scale = g[b * ld + c];
            const float *restrict filter = filters + c * n;
            float *restrict window = out + (b * steps + at) * dim;
            for (int64_t i = 0; i < n; i++) window[i] += scale * filter[i];
        }
    }
}
