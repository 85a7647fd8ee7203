/* Dropout masks (textgan/models/dropout.py), a row at a time: out[r, i] = 0 with probability drop / 2^32, else
   `keep_scale`, element i's uniform taken from word i / 2 of the SplitMix64 stream of the row's seed (Steele, Lea &
   Flood 2014, "Fast splittable pseudorandom number generators"): the 64-bit finaliser of seed + (j + 1) x the
   golden gamma, the high 32 bits for element 2j and the low 32 for element 2j + 1. A row's mask depends on its
   seed alone, so any cut of the rows over threads gives the same masks.

   torch's bernoulli_ on the CPU draws each element through its Mersenne Twister, serially: ~10 ns an element,
   1 ms for the 64 x 1720 mask of one SeqGAN discriminator update, longer than the update's elementwise work. */
#include <stdint.h>

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline float pick(uint32_t u, uint32_t drop, float keep_scale) { return u < drop ? 0.0f : keep_scale; }

/* word j of the stream of `seed`: the finaliser of seed + (j + 1) x the golden gamma */
static inline uint64_t word_of(uint64_t seed, int64_t j) {
    return mix64(seed + (uint64_t)(j + 1) * 0x9e3779b97f4a7c15ULL);
}

/* out (rows, cols): row r the mask of seeds[r]. The loop over whole words has no branch, so the compiler
   vectorises it (a test for the odd tail inside it made the mask ~4.5x slower); an odd row's last word gives its
   high half only. */
void dropout_mask(float *out, int64_t rows, int64_t cols, const uint64_t *seeds, uint32_t drop, float keep_scale) {
    for (int64_t r = 0; r < rows; r++, out += cols) {
        for (int64_t j = 0; j < cols / 2; j++) {
            const uint64_t word = word_of(seeds[r], j);
            out[2 * j] = pick((uint32_t)(word >> 32), drop, keep_scale);
            out[2 * j + 1] = pick((uint32_t)word, drop, keep_scale);
        }
        if (cols % 2) out[cols - 1] = pick((uint32_t)(word_of(seeds[r], cols / 2) >> 32), drop, keep_scale);
    }
}
