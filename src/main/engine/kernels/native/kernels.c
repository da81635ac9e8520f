/*
 * Lockstep's native kernels: a Node-API addon with x86-64 AVX2 (and for the GEMMs AVX-512F)
 * twins of wasm kernels, for the machines where a C compiler built it (./build.cjs;
 * ../native.ts loads it, or the wasm kernels run). Each twin computes every output element with
 * the same float32 operations in the same order as its wasm kernel: a multiply rounded, then an
 * add rounded (built with -ffp-contract=off, so never a fused multiply-add), summed over the same
 * terms in the same order. Only the width of a vector differs (8 or 16 lanes, not 4), and lanes
 * are independent output elements. So the bits are those of the wasm kernel
 * (tests/engine/native-kernels.test.ts).
 *
 * The operands live in a WebAssembly memory; every kernel takes a Uint8Array over all of it and
 * the byte offsets the wasm kernel takes, checks that what it will read and write lies inside
 * the view (a RangeError otherwise, as the wasm kernel would trap), and then runs.
 *
 * - gemmCsr(view, rowPtr, idx, val, b, c, ldc, m, n, bias, relu, rowBytes): wasm-sparse.ts's
 *   gemmCsr (ldc in bytes; idx: scaleIdx's byte offsets of B's rows when rowBytes is 0, else
 *   A's column numbers, B's row p at b + p·rowBytes — scaleIdx's product, made here; the wasm
 *   kernel's `tail` has no twin: the last columns are read with a mask, never past B's rows).
 * - gemm(view, a, rsA, ksA, b, ldb, c, ldc, m, n, k, bias, relu): wasm-module.ts's gemm (strides
 *   in bytes; no `tail`: the last columns are read with a mask).
 * - gemmG(view, x, rowTab, kTab, b, ldb, c, ldc, m, n, k, bias, relu): wasm-packed.ts's gemmG
 *   (A[i,p] at x + rowTab[i] + kTab[p], int32 tables; no tail, no panel: A is read in place).
 *   wasm's gemmP is the dense gemm with A packed first: its twin is gemm.
 * - gatherRows(view, pixels, indices, n, out): wasm-module.ts's gatherRows (the floats alone).
 * - gatherRowsCsr(view, pixels, indices, n, out, rowPtr, idx, val, total, first): wasm-module.ts's
 *   gatherRowsCsr without `tab` (its own shuffles): the same floats and compressed rows, the
 *   entries from byte `first` of idx and val (0: as the wasm kernel lays them out).
 * - gemmCsr512, gemm512, gemmG512: gemmCsr, gemm and gemmG on AVX-512F tiles (16 lanes; the
 *   same bits).
 * - sgd(view, w, g, outW, count, lr, finite): wasm-module.ts's sgd, outW = w − lr·g (the product
 *   rounded, then the difference), lr as its float32 bits; the float32 at `finite` becomes the
 *   sum of every new weight times 0, as the wasm kernel makes it: NaN when one is not finite, ±0
 *   otherwise (the sum's order may differ, its NaN-ness cannot).
 * - momentum(view, w, g, acc, outW, outAcc, count, lr, mu, finite) and adam(view, w, g, m, v,
 *   outW, outM, outV, count, scalars, finite): wasm-module.ts's momentum and adam, the same
 *   float32 operations in the same order (lr and mu as their bits; adam's six scalars lr, b1, b2,
 *   c1, c2, eps as float32 at `scalars`), the finite flag as sgd's. Like the wasm kernels, a group
 *   of 8 where the optimizer's state (acc; m or v) holds a nonzero magnitude below 2⁻⁶⁰ runs in
 *   float64, 4 lanes at a time, each operation's result rounded to float32 and back: the same
 *   bits (wasm-module.ts's elementwise says why), without the microcode assist an x86 core takes
 *   for a float32 operation on or giving a subnormal.
 * - avx2(), avx512(): whether this CPU runs the AVX2 code (the loader uses the addon only then),
 *   the AVX-512F code.
 */
#define NAPI_VERSION 8
#include <immintrin.h>
#include <node_api.h>
#include <stdint.h>

#define AVX2 __attribute__((target("avx2")))
#define INLINE AVX2 __attribute__((always_inline)) static inline

/* max(y, 0) as wasm's f32x4.max: +0 for y ≤ 0 (−0 included), y itself when y > 0 or NaN */
INLINE __m256 relu8(__m256 y) { return _mm256_and_ps(y, _mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_NLE_UQ)); }

/*
 * Steps of k per chunk: B's rows of one chunk (chunk·n floats) should stay in the first two
 * cache levels while every row tile of A goes over them. A weight gradient's B (dz: a batch's
 * output positions × channels) runs to megabytes; without chunks each row tile of A streamed all
 * of it from memory again. A chunk's partial sums wait in C (a float stored and read back is the
 * same float), bias and ReLU come with the last chunk: the sums of one pass.
 */
#define CHUNK_BYTES (128 * 1024)

static int32_t chunk_of(int32_t k, int32_t n) {
  int64_t steps = CHUNK_BYTES / (4 * (int64_t)(n > 0 ? n : 1));
  return k <= steps ? (k > 0 ? k : 1) : (int32_t)(steps < 16 ? 16 : steps);
}

/* The GEMMs' tiles (./tiles.inc.c) on 256-bit vectors (AVX2): functions named *_256. */
#define V_FN(name) name##_256
#define V_ATTR AVX2
#define V_INLINE INLINE
#define V_T __m256
#define V_LANES 8
#define V_MASK_T __m256i
#define V_NOMASK _mm256_setzero_si256()
#define V_MASK(cols) _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define V_ZERO _mm256_setzero_ps
#define V_SET1 _mm256_set1_ps
#define V_LOAD _mm256_loadu_ps
#define V_MLOAD(p, k) _mm256_maskload_ps(p, k)
#define V_STORE _mm256_storeu_ps
#define V_MSTORE(p, k, y) _mm256_maskstore_ps(p, k, y)
#define V_ADD _mm256_add_ps
#define V_MUL _mm256_mul_ps
#define V_RELU relu8
#include "tiles.inc.c"
#undef V_FN
#undef V_ATTR
#undef V_INLINE
#undef V_T
#undef V_LANES
#undef V_MASK_T
#undef V_NOMASK
#undef V_MASK
#undef V_ZERO
#undef V_SET1
#undef V_LOAD
#undef V_MLOAD
#undef V_STORE
#undef V_MSTORE
#undef V_ADD
#undef V_MUL
#undef V_RELU

/*
 * The same on 512-bit vectors (AVX-512F), *_512: measured here on 4096×64×576, 40 GMAC/s against
 * 27 for the AVX2 tiles (this core runs 512-bit multiplies and adds on two ports, 256-bit ones on
 * three); the MLP's sparse x·W and xᵀ·dz (100 × 784 × 128, MNIST) 70 and 89 µs against 96 and 126.
 */
#define AVX512 __attribute__((target("avx512f")))
#define INLINE512 AVX512 __attribute__((always_inline)) static inline
/* max(y, 0) as wasm's f32x4.max (see relu8) */
INLINE512 __m512 relu16(__m512 y) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_NLE_UQ), y); }
#define V_FN(name) name##_512
#define V_ATTR AVX512
#define V_INLINE INLINE512
#define V_T __m512
#define V_LANES 16
#define V_MASK_T __mmask16
#define V_NOMASK ((__mmask16)0xffff)
#define V_MASK(cols) ((__mmask16)((1u << (cols)) - 1))
#define V_ZERO _mm512_setzero_ps
#define V_SET1 _mm512_set1_ps
#define V_LOAD _mm512_loadu_ps
#define V_MLOAD(p, k) _mm512_maskz_loadu_ps(k, p)
#define V_STORE _mm512_storeu_ps
#define V_MSTORE(p, k, y) _mm512_mask_storeu_ps(p, k, y)
#define V_ADD _mm512_add_ps
#define V_MUL _mm512_mul_ps
#define V_RELU relu16
#include "tiles.inc.c"

/* The lowest and the highest byte a strided r × c matrix of floats touches (rows rs, columns cs apart): [lo, hi). */
static int strided_inside(int64_t off, int64_t rows, int64_t rs, int64_t cols, int64_t cs, size_t len) {
  if (rows == 0 || cols == 0) return 1;
  int64_t lo = off, hi = off + 4;
  int64_t dr = (rows - 1) * rs, dc = (cols - 1) * cs;
  lo += (dr < 0 ? dr : 0) + (dc < 0 ? dc : 0);
  hi += (dr > 0 ? dr : 0) + (dc > 0 ? dc : 0);
  return lo >= 0 && hi <= (int64_t)len;
}

/* What gemm_dense will touch lies in the view: A (m × k), B (k × n), C (m × n), the bias. */
static int gemm_dense_inside(size_t len, const int32_t *x) {
  int32_t m = x[7], n = x[8], k = x[9];
  if (m < 0 || n < 0 || k < 0) return 0;
  if (m == 0 || n == 0) return 1;
  return strided_inside(x[0], m, x[1], k, x[2], len) && strided_inside(x[3], k, x[4], n, 4, len) &&
         strided_inside(x[5], m, x[6], n, 4, len) && (!x[10] || strided_inside(x[10], 1, 0, n, 4, len));
}

/* Whether [off, off + bytes) lies in a view of len bytes. */
static int inside(int64_t off, int64_t bytes, size_t len) { return off >= 0 && bytes >= 0 && off + bytes <= (int64_t)len; }

/* The least and the greatest of the count int32 at p (count ≥ 1), eight at a time. */
AVX2 static void range_i32(const int32_t *p, int32_t count, int32_t *lo, int32_t *hi) {
  __m256i mn = _mm256_set1_epi32(p[0]), mx = mn;
  int32_t i = 0;
  for (; i + 8 <= count; i += 8) {
    __m256i x = _mm256_loadu_si256((const __m256i *)(p + i));
    mn = _mm256_min_epi32(mn, x);
    mx = _mm256_max_epi32(mx, x);
  }
  int32_t l[8], h[8];
  _mm256_storeu_si256((__m256i *)l, mn);
  _mm256_storeu_si256((__m256i *)h, mx);
  for (; i < count; i++) {
    l[0] = p[i] < l[0] ? p[i] : l[0];
    h[0] = p[i] > h[0] ? p[i] : h[0];
  }
  for (int v = 1; v < 8; v++) {
    l[0] = l[v] < l[0] ? l[v] : l[0];
    h[0] = h[v] > h[0] ? h[v] : h[0];
  }
  *lo = l[0];
  *hi = h[0];
}

/*
 * What gemm_csr will touch lies in the view (as the wasm kernel's loads and stores lie in its
 * memory, or it traps): rowPtr's m pairs, each row's entries (idx and val) and their rows of B,
 * C's rows and the bias.
 */
static int gemm_csr_inside(const uint8_t *base, size_t len, const int32_t *a) {
  int32_t rowPtr = a[0], idx = a[1], val = a[2], b = a[3], c = a[4], ldc = a[5], m = a[6], n = a[7], bias = a[8];
  int64_t scale = a[10] > 0 ? a[10] : 1;
  if (m < 0 || n < 0 || ldc < 0 || a[10] < 0) return 0;
  if (m == 0 || n == 0) return 1;
  if (!inside(rowPtr, 8 * (int64_t)m, len) || !inside(c, (int64_t)(m - 1) * ldc + 4 * (int64_t)n, len)) return 0;
  if (bias && !inside(bias, 4 * (int64_t)n, len)) return 0;
  const int32_t *rp = (const int32_t *)(base + rowPtr);
  for (int32_t r = 0; r < m; r++) {
    int32_t t0 = rp[2 * r], t1 = rp[2 * r + 1];
    if (t1 <= t0) continue;
    if ((t0 & 3) || (t1 & 3) || !inside(idx + (int64_t)t0, (int64_t)t1 - t0, len) || !inside(val + (int64_t)t0, (int64_t)t1 - t0, len)) return 0;
    int32_t lo, hi;
    range_i32((const int32_t *)(base + idx + t0), (t1 - t0) / 4, &lo, &hi);
    if (!inside(b + lo * scale, 0, len) || !inside(b + hi * scale, 4 * (int64_t)n, len)) return 0;
  }
  return 1;
}

/* ROW_BYTES of wasm-module.ts: the bytes of one image (28 × 28). */
#define ROW_BYTES 784

/* For each 8-bit mask of nonzero lanes: the lanes, in order, then zeros (the compress shuffle); filled once when the library loads. */
static int32_t compress8[256][8];

__attribute__((constructor)) static void init_compress8(void) {
  for (int mask = 0; mask < 256; mask++) {
    int c = 0;
    for (int l = 0; l < 8; l++)
      if (mask & (1 << l)) compress8[mask][c++] = l;
    while (c < 8) compress8[mask][c++] = 0;
  }
}

/*
 * gatherRowsCsr (wasm-module.ts): out[r, :] = float32(pixels[indices[r]·784 + i] / 255) (vdivps
 * is IEEE division, as f32x4.div), and out's compressed rows as csrRows finds them: each row's
 * nonzero floats with their column, ascending; rowPtr[2r], rowPtr[2r+1] = the byte offsets of the
 * row's first entry and its end; the bytes of all entries at `total`. Eight pixels at a time: a
 * group of eight zero bytes stores +0 and appends nothing; otherwise its nonzero lanes are
 * appended by one shuffle, the 32-byte stores reaching at most 28 bytes past the last entry,
 * inside the m·784 entries' room (the group's own lanes are counted in it). The entries start
 * at byte `first` of idx and val (0: the wasm kernel's layout; a band of rows split across
 * threads starts at its first row's 784 entries), and rowPtr holds offsets from idx itself.
 * x = pixels, indices, n, out, rowPtr, idx, val, total, first.
 */
AVX2 static void gather_rows_csr(uint8_t *base, const int32_t *x) {
  const int32_t *ind = (const int32_t *)(base + x[1]);
  int32_t n = x[2];
  float *out = (float *)(base + x[3]);
  int32_t *rp = (int32_t *)(base + x[4]);
  uint8_t *idx = base + x[5], *val = base + x[6];
  /* first touch every cache line of every row (scattered over the dataset): the loads overlap */
  for (int32_t r = 0; r < n; r++)
    for (int line = 0; line < ROW_BYTES; line += 64) _mm_prefetch((const char *)(base + x[0] + (int64_t)ind[r] * ROW_BYTES + line), _MM_HINT_T0);
  const __m256 d255 = _mm256_set1_ps(255.0f);
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  int32_t e = x[8];
  for (int32_t r = 0; r < n; r++) {
    const uint8_t *src = base + x[0] + (int64_t)ind[r] * ROW_BYTES;
    float *dst = out + (int64_t)r * ROW_BYTES;
    rp[2 * r] = e;
    for (int32_t col = 0; col < ROW_BYTES; col += 8) {
      __m128i h = _mm_loadl_epi64((const __m128i *)(src + col));
      if (_mm_testz_si128(h, h)) {
        _mm256_storeu_ps(dst + col, _mm256_setzero_ps());
        continue;
      }
      __m256 v = _mm256_div_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(h)), d255);
      _mm256_storeu_ps(dst + col, v);
      int mask = _mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_UQ));
      __m256i shuf = _mm256_loadu_si256((const __m256i *)compress8[mask]);
      _mm256_storeu_ps((float *)(val + e), _mm256_permutevar8x32_ps(v, shuf));
      _mm256_storeu_si256((__m256i *)(idx + e), _mm256_permutevar8x32_epi32(_mm256_add_epi32(_mm256_set1_epi32(col), iota), shuf));
      e += 4 * __builtin_popcount(mask);
    }
    rp[2 * r + 1] = e;
  }
  *(int32_t *)(base + x[7]) = e;
}

/* gatherRows (wasm-module.ts): gather_rows_csr's floats alone. x = pixels, indices, n, out. */
AVX2 static void gather_rows(uint8_t *base, const int32_t *x) {
  const int32_t *ind = (const int32_t *)(base + x[1]);
  int32_t n = x[2];
  float *out = (float *)(base + x[3]);
  for (int32_t r = 0; r < n; r++)
    for (int line = 0; line < ROW_BYTES; line += 64) _mm_prefetch((const char *)(base + x[0] + (int64_t)ind[r] * ROW_BYTES + line), _MM_HINT_T0);
  const __m256 d255 = _mm256_set1_ps(255.0f);
  for (int32_t r = 0; r < n; r++) {
    const uint8_t *src = base + x[0] + (int64_t)ind[r] * ROW_BYTES;
    float *dst = out + (int64_t)r * ROW_BYTES;
    for (int32_t col = 0; col < ROW_BYTES; col += 8) {
      __m128i h = _mm_loadl_epi64((const __m128i *)(src + col));
      if (_mm_testz_si128(h, h)) {
        _mm256_storeu_ps(dst + col, _mm256_setzero_ps());
      } else {
        _mm256_storeu_ps(dst + col, _mm256_div_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(h)), d255));
      }
    }
  }
}

/* What gather_rows touches lies in the view: the indices, each image, out. */
static int gather_rows_inside(const uint8_t *base, size_t len, const int32_t *x) {
  int32_t n = x[2];
  if (n < 0 || !inside(x[1], 4 * (int64_t)n, len) || !inside(x[3], 4 * (int64_t)n * ROW_BYTES, len)) return 0;
  const int32_t *ind = (const int32_t *)(base + x[1]);
  for (int32_t r = 0; r < n; r++)
    if (!inside(x[0] + (int64_t)ind[r] * ROW_BYTES, ROW_BYTES, len)) return 0;
  return 1;
}

/* What gather_rows_csr will touch lies in the view: the indices, each image, out, rowPtr, the entries' room, total. */
static int gather_rows_csr_inside(const uint8_t *base, size_t len, const int32_t *x) {
  int32_t n = x[2];
  if (n < 0) return 0;
  int64_t floats = (int64_t)n * ROW_BYTES;
  if (x[8] < 0) return 0;
  if (!inside(x[1], 4 * (int64_t)n, len) || !inside(x[3], 4 * floats, len) || !inside(x[4], 8 * (int64_t)n, len) ||
      !inside((int64_t)x[5] + x[8], 4 * floats, len) || !inside((int64_t)x[6] + x[8], 4 * floats, len) || !inside(x[7], 4, len))
    return 0;
  const int32_t *ind = (const int32_t *)(base + x[1]);
  for (int32_t r = 0; r < n; r++)
    if (!inside(x[0] + (int64_t)ind[r] * ROW_BYTES, ROW_BYTES, len)) return 0;
  return 1;
}

/* What gemm_gather will touch lies in the view: the tables, every A[i,p] = x + rowTab[i] + kTab[p], B, C, the bias. */
static int gemm_gather_inside(const uint8_t *base, size_t len, const int32_t *x) {
  int32_t m = x[7], n = x[8], k = x[9];
  if (m < 0 || n < 0 || k < 0) return 0;
  if (m == 0 || n == 0) return 1;
  if (!inside(x[1], 4 * (int64_t)m, len) || !inside(x[2], 4 * (int64_t)k, len)) return 0;
  if (!strided_inside(x[3], k, x[4], n, 4, len) || !strided_inside(x[5], m, x[6], n, 4, len) ||
      (x[10] && !strided_inside(x[10], 1, 0, n, 4, len)))
    return 0;
  if (k == 0) return 1;
  int32_t rlo, rhi, klo, khi;
  range_i32((const int32_t *)(base + x[1]), m, &rlo, &rhi);
  range_i32((const int32_t *)(base + x[2]), k, &klo, &khi);
  return inside((int64_t)x[0] + rlo + klo, 0, len) && inside((int64_t)x[0] + rhi + khi, 4, len);
}

/* The float32 whose bits are b. */
static float f32_of(int32_t b) {
  float f;
  __builtin_memcpy(&f, &b, 4);
  return f;
}

/* The flag's float32 sum: the scalar tail's, then the lanes of the float32 and float64 paths'. */
INLINE float flag_sum(float tail, __m256 acc, __m128 acc64) {
  float lanes[12];
  _mm256_storeu_ps(lanes, acc);
  _mm_storeu_ps(lanes + 8, acc64);
  for (int l = 0; l < 12; l++) tail += lanes[l];
  return tail;
}

/* What sgd will touch lies in the view: w, g and outW (count floats each), the flag. */
static int sgd_inside(size_t len, const int32_t *x) {
  int64_t bytes = 4 * (int64_t)x[3];
  return x[3] >= 0 && inside(x[0], bytes, len) && inside(x[1], bytes, len) && inside(x[2], bytes, len) &&
         inside(x[5], 4, len);
}

AVX2 static void sgd_run(uint8_t *base, const int32_t *x) {
  const float *w = (const float *)(base + x[0]);
  const float *g = (const float *)(base + x[1]);
  float *out = (float *)(base + x[2]);
  int32_t n = x[3];
  float lr = f32_of(x[4]);
  const __m256 vlr = _mm256_set1_ps(lr), zero = _mm256_setzero_ps();
  __m256 acc = zero;
  int32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 r = _mm256_sub_ps(_mm256_loadu_ps(w + i), _mm256_mul_ps(vlr, _mm256_loadu_ps(g + i)));
    _mm256_storeu_ps(out + i, r);
    acc = _mm256_add_ps(acc, _mm256_mul_ps(r, zero));
  }
  float tail = 0.0f;
  for (; i < n; i++) {
    float r = w[i] - lr * g[i];
    out[i] = r;
    tail += r * 0.0f;
  }
  float flag = flag_sum(tail, acc, _mm_setzero_ps());
  __builtin_memcpy(base + x[5], &flag, 4);
}

/* A float64 result rounded to float32 and back (each operation of the float64 path). */
#define R64(x) _mm256_cvtps_pd(_mm256_cvtpd_ps(x))
/* 2⁻⁶⁰'s float32 bits: a state below it (and not 0) sends its group to the float64 path. */
#define TINY_BITS 0x21800000

/* The lanes of x holding a nonzero magnitude below 2⁻⁶⁰. */
INLINE __m256i tiny_lanes(__m256 x) {
  __m256i a = _mm256_and_si256(_mm256_castps_si256(x), _mm256_set1_epi32(0x7fffffff));
  return _mm256_andnot_si256(_mm256_cmpeq_epi32(a, _mm256_setzero_si256()), _mm256_cmpgt_epi32(_mm256_set1_epi32(TINY_BITS), a));
}

/* What momentum (x: w, g, acc, outW, outAcc, count, …, finite) and adam (x: w, g, m, v, outW, outM, outV, count, scalars, finite) touch lies in the view. */
static int momentum_inside(size_t len, const int32_t *x) {
  int64_t bytes = 4 * (int64_t)x[5];
  if (x[5] < 0 || !inside(x[8], 4, len)) return 0;
  for (int i = 0; i < 5; i++)
    if (!inside(x[i], bytes, len)) return 0;
  return 1;
}
static int adam_inside(size_t len, const int32_t *x) {
  int64_t bytes = 4 * (int64_t)x[7];
  if (x[7] < 0 || !inside(x[8], 24, len) || !inside(x[9], 4, len)) return 0;
  for (int i = 0; i < 7; i++)
    if (!inside(x[i], bytes, len)) return 0;
  return 1;
}

AVX2 static void momentum_run(uint8_t *base, const int32_t *x) {
  const float *w = (const float *)(base + x[0]), *g = (const float *)(base + x[1]), *acc = (const float *)(base + x[2]);
  float *ow = (float *)(base + x[3]), *oa = (float *)(base + x[4]);
  int32_t n = x[5];
  float lr = f32_of(x[6]), mu = f32_of(x[7]);
  const __m256 vlr = _mm256_set1_ps(lr), vmu = _mm256_set1_ps(mu), zero = _mm256_setzero_ps();
  const __m256d dlr = _mm256_set1_pd(lr), dmu = _mm256_set1_pd(mu), dzero = _mm256_setzero_pd();
  __m256 fl = zero;
  __m128 fl64 = _mm_setzero_ps();
  int32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 va = _mm256_loadu_ps(acc + i);
    if (_mm256_testz_si256(tiny_lanes(va), tiny_lanes(va))) {
      // a = mu·acc + g; w − lr·a
      __m256 a = _mm256_add_ps(_mm256_mul_ps(vmu, va), _mm256_loadu_ps(g + i));
      _mm256_storeu_ps(oa + i, a);
      __m256 r = _mm256_sub_ps(_mm256_loadu_ps(w + i), _mm256_mul_ps(vlr, a));
      _mm256_storeu_ps(ow + i, r);
      fl = _mm256_add_ps(fl, _mm256_mul_ps(r, zero));
    } else {
      for (int h = 0; h < 8; h += 4) {
        __m256d A = _mm256_cvtps_pd(_mm_loadu_ps(acc + i + h)), G = _mm256_cvtps_pd(_mm_loadu_ps(g + i + h));
        __m256d W = _mm256_cvtps_pd(_mm_loadu_ps(w + i + h));
        __m256d a = R64(_mm256_add_pd(R64(_mm256_mul_pd(dmu, A)), G));
        _mm_storeu_ps(oa + i + h, _mm256_cvtpd_ps(a));
        __m256d r = R64(_mm256_sub_pd(W, R64(_mm256_mul_pd(dlr, a))));
        _mm_storeu_ps(ow + i + h, _mm256_cvtpd_ps(r));
        fl64 = _mm_add_ps(fl64, _mm256_cvtpd_ps(_mm256_mul_pd(r, dzero)));
      }
    }
  }
  float tail = 0.0f;
  for (; i < n; i++) {
    float a = mu * acc[i] + g[i];
    oa[i] = a;
    float r = w[i] - lr * a;
    ow[i] = r;
    tail += r * 0.0f;
  }
  float flag = flag_sum(tail, fl, fl64);
  __builtin_memcpy(base + x[8], &flag, 4);
}

AVX2 static void adam_run(uint8_t *base, const int32_t *x) {
  const float *w = (const float *)(base + x[0]), *g = (const float *)(base + x[1]);
  const float *m = (const float *)(base + x[2]), *v = (const float *)(base + x[3]);
  float *ow = (float *)(base + x[4]), *om = (float *)(base + x[5]), *ov = (float *)(base + x[6]);
  int32_t n = x[7];
  float sc[6];
  __builtin_memcpy(sc, base + x[8], 24);
  const float lr = sc[0], b1 = sc[1], b2 = sc[2], c1 = sc[3], c2 = sc[4], eps = sc[5];
  const __m256 vlr = _mm256_set1_ps(lr), vb1 = _mm256_set1_ps(b1), vb2 = _mm256_set1_ps(b2);
  const __m256 vc1 = _mm256_set1_ps(c1), vc2 = _mm256_set1_ps(c2), veps = _mm256_set1_ps(eps), zero = _mm256_setzero_ps();
  const __m256d dlr = _mm256_set1_pd(lr), db1 = _mm256_set1_pd(b1), db2 = _mm256_set1_pd(b2);
  const __m256d dc1 = _mm256_set1_pd(c1), dc2 = _mm256_set1_pd(c2), deps = _mm256_set1_pd(eps), dzero = _mm256_setzero_pd();
  __m256 fl = zero;
  __m128 fl64 = _mm_setzero_ps();
  int32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 vm = _mm256_loadu_ps(m + i), vv = _mm256_loadu_ps(v + i);
    __m256i t = _mm256_or_si256(tiny_lanes(vm), tiny_lanes(vv));
    if (_mm256_testz_si256(t, t)) {
      __m256 vg = _mm256_loadu_ps(g + i);
      // m' = b1·m + c1·g; v' = b2·v + c2·(g·g); w' = w − (lr·m') / (√v' + eps)
      __m256 m1 = _mm256_add_ps(_mm256_mul_ps(vb1, vm), _mm256_mul_ps(vc1, vg));
      _mm256_storeu_ps(om + i, m1);
      __m256 v1 = _mm256_add_ps(_mm256_mul_ps(vb2, vv), _mm256_mul_ps(vc2, _mm256_mul_ps(vg, vg)));
      _mm256_storeu_ps(ov + i, v1);
      __m256 q = _mm256_div_ps(_mm256_mul_ps(vlr, m1), _mm256_add_ps(_mm256_sqrt_ps(v1), veps));
      __m256 r = _mm256_sub_ps(_mm256_loadu_ps(w + i), q);
      _mm256_storeu_ps(ow + i, r);
      fl = _mm256_add_ps(fl, _mm256_mul_ps(r, zero));
    } else {
      for (int h = 0; h < 8; h += 4) {
        __m256d G = _mm256_cvtps_pd(_mm_loadu_ps(g + i + h)), M = _mm256_cvtps_pd(_mm_loadu_ps(m + i + h));
        __m256d V = _mm256_cvtps_pd(_mm_loadu_ps(v + i + h)), W = _mm256_cvtps_pd(_mm_loadu_ps(w + i + h));
        __m256d m1 = R64(_mm256_add_pd(R64(_mm256_mul_pd(db1, M)), R64(_mm256_mul_pd(dc1, G))));
        _mm_storeu_ps(om + i + h, _mm256_cvtpd_ps(m1));
        __m256d v1 = R64(_mm256_add_pd(R64(_mm256_mul_pd(db2, V)), R64(_mm256_mul_pd(dc2, R64(_mm256_mul_pd(G, G))))));
        _mm_storeu_ps(ov + i + h, _mm256_cvtpd_ps(v1));
        __m256d den = R64(_mm256_add_pd(R64(_mm256_sqrt_pd(v1)), deps));
        __m256d r = R64(_mm256_sub_pd(W, R64(_mm256_div_pd(R64(_mm256_mul_pd(dlr, m1)), den))));
        _mm_storeu_ps(ow + i + h, _mm256_cvtpd_ps(r));
        fl64 = _mm_add_ps(fl64, _mm256_cvtpd_ps(_mm256_mul_pd(r, dzero)));
      }
    }
  }
  float tail = 0.0f;
  for (; i < n; i++) {
    float m1 = b1 * m[i] + c1 * g[i];
    om[i] = m1;
    float v1 = b2 * v[i] + c2 * (g[i] * g[i]);
    ov[i] = v1;
    float r = w[i] - (lr * m1) / (__builtin_sqrtf(v1) + eps);
    ow[i] = r;
    tail += r * 0.0f;
  }
  float flag = flag_sum(tail, fl, fl64);
  __builtin_memcpy(base + x[9], &flag, 4);
}

/* argv[0] a Uint8Array over the memory, then `count` int32 offsets into x; 0 (and a TypeError thrown) otherwise. */
static int read_args(napi_env env, napi_callback_info info, const char *name, size_t count, uint8_t **data,
                     size_t *len, int32_t *x) {
  size_t argc = 16;
  napi_value argv[16];
  napi_typedarray_type type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < count + 1 ||
      napi_get_typedarray_info(env, argv[0], &type, len, (void **)data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, name);
    return 0;
  }
  for (size_t i = 0; i < count; i++) {
    if (napi_get_value_int32(env, argv[i + 1], &x[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, name);
      return 0;
    }
  }
  return 1;
}

/* Whether this CPU runs the AVX-512F code (checked before any *_512 function runs). */
static int has_avx512(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") != 0;
}

/*
 * The exported kernels: NAME(view, COUNT int32 offsets) runs RUN(data, offsets) after the bounds
 * check INSIDE (a RangeError otherwise); WIDE: the AVX-512 variants, which throw on a CPU without
 * AVX-512F.
 */
#define ENTRY(NAME, COUNT, INSIDE, RUN, WIDE)                                                    \
  static napi_value NAME(napi_env env, napi_callback_info info) {                                \
    uint8_t *data;                                                                               \
    size_t len;                                                                                  \
    int32_t a[COUNT];                                                                            \
    if (!read_args(env, info, #NAME "(view, " #COUNT " offsets) expected", COUNT, &data, &len, a)) return NULL; \
    if (WIDE && !has_avx512()) {                                                                 \
      napi_throw_error(env, NULL, #NAME ": this CPU has no AVX-512F");                           \
      return NULL;                                                                               \
    }                                                                                            \
    if (!(INSIDE)) {                                                                             \
      napi_throw_range_error(env, NULL, #NAME ": an operand lies outside the memory");           \
      return NULL;                                                                               \
    }                                                                                            \
    RUN(data, a);                                                                                \
    return NULL;                                                                                 \
  }
ENTRY(gemmCsr, 11, gemm_csr_inside(data, len, a), gemm_csr_256, 0)
ENTRY(gemmCsr512, 11, gemm_csr_inside(data, len, a), gemm_csr_512, 1)
ENTRY(gemm, 12, gemm_dense_inside(len, a), gemm_dense_256, 0)
ENTRY(gemm512, 12, gemm_dense_inside(len, a), gemm_dense_512, 1)
ENTRY(gemmG, 12, gemm_gather_inside(data, len, a), gemm_gather_256, 0)
ENTRY(gemmG512, 12, gemm_gather_inside(data, len, a), gemm_gather_512, 1)
ENTRY(gatherRowsCsr, 9, gather_rows_csr_inside(data, len, a), gather_rows_csr, 0)
ENTRY(gatherRows, 4, gather_rows_inside(data, len, a), gather_rows, 0)
ENTRY(sgd, 6, sgd_inside(len, a), sgd_run, 0)
ENTRY(momentum, 9, momentum_inside(len, a), momentum_run, 0)
ENTRY(adam, 10, adam_inside(len, a), adam_run, 0)

static napi_value avx2(napi_env env, napi_callback_info info) {
  (void)info;
  __builtin_cpu_init();
  napi_value out;
  napi_get_boolean(env, __builtin_cpu_supports("avx2") != 0, &out);
  return out;
}

static napi_value avx512(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_get_boolean(env, has_avx512(), &out);
  return out;
}

NAPI_MODULE_INIT() {
  static const struct {
    const char *name;
    napi_callback fn;
  } exported[] = {
      {"gemmCsr", gemmCsr}, {"gemmCsr512", gemmCsr512}, {"gemm", gemm},         {"gemm512", gemm512}, {"gemmG", gemmG},
      {"gemmG512", gemmG512}, {"gatherRowsCsr", gatherRowsCsr}, {"gatherRows", gatherRows}, {"sgd", sgd}, {"momentum", momentum}, {"adam", adam}, {"avx2", avx2}, {"avx512", avx512},
  };
  for (size_t i = 0; i < sizeof exported / sizeof exported[0]; i++) {
    napi_value fn;
    napi_create_function(env, exported[i].name, NAPI_AUTO_LENGTH, exported[i].fn, NULL, &fn);
    napi_set_named_property(env, exports, exported[i].name, fn);
  }
  return exports;
}
