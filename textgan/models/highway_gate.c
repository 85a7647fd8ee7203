/* The highway's gate (textgan/models/highway_gate.py), forward and backward in one pass each over rows of D:
   y = x + s (relu(h) - x), s = sigmoid(t) (torch's, passed in), [h | t] the rows of the projection's output p.
   Each element takes torch's own operations in torch's order (addcmul as one fused multiply-add, as torch's
   vectorised kernel does it; relu as max(0, h) keeping -0 and NaN; sigmoid's gradient (g (1 - s)) s; the ReLU's
   gradient zero where relu(h) <= 0), and no other multiply-add is contracted, so the results are bit-identical
   to torch's autograd of the same expression: this only saves the passes over memory and the autograd nodes
   between them. */
#include <math.h>
#include <stdint.h>
#include <string.h>

/* v where `keep`, else +0: a mask on the bits, which the compiler vectorises where it does not a ternary here */
static inline float kept(int keep, float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    bits &= -(uint32_t)keep;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static inline float relu(float h) { return kept(!(h < 0.0f), h); }

/* y (n, d) from p (n, 2d), s (n, d), x (n, d), all contiguous */
void highway_gate(float *restrict y, const float *restrict p, const float *restrict s, const float *restrict x,
                  int64_t n, int64_t d) {
    for (int64_t r = 0; r < n; r++, y += d, p += 2 * d, s += d, x += d)
        for (int64_t i = 0; i < d; i++) y[i] = fmaf(s[i], relu(p[i]) - x[i], x[i]);
}

/* gp (n, 2d) = [dL/dh | dL/dt] and gx (n, d) from gy (n, d) and the forward's p, s, x, no two overlapping */
void highway_gate_backward(float *restrict gp, float *restrict gx, const float *restrict gy, const float *restrict p,
                           const float *restrict s, const float *restrict x, int64_t n, int64_t d) {
    for (int64_t r = 0; r < n; r++, gp += 2 * d, gx += d, gy += d, p += 2 * d, s += d, x += d)
        for (int64_t i = 0; i < d; i++) {
            const float h = relu(p[i]), gd = gy[i] * s[i], gs = gy[i] * (h - x[i]);
            gp[i] = kept(!(h <= 0.0f), gd);
            gp[d + i] = gs * (1.0f - s[i]) * s[i];
            gx[i] = gy[i] - gd;
        }
}
