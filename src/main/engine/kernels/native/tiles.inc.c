/*
 * The GEMMs' tiles and drivers (sparse, then dense), included by ./kernels.c once per instruction
 * set with the V_* macros (the vector type, its lanes, loads, stores, arithmetic; V_FN(name)
 * names the set's functions): the same operations per output element for every set — only how
 * many elements a vector holds differs.
 */

/*
 * The sparse GEMM, wasm-sparse.ts's gemmCsr: one row of C, NV vectors: acc = 0, acc = acc +
 * x·B[t] per entry in order, then the bias, then ReLU (y > 0 or NaN: y, else +0), as
 * storeTileRow of ../wasm-sparse.ts. MASKED: one vector of the last 1 to V_LANES − 1 columns
 * (masked loads and stores: nothing read or written past them).
 */
#ifndef SPARSE_TILE
#define SPARSE_TILE(NV, MASKED)                                                                  \
  V_INLINE void V_FN(sparse_tile##NV##MASKED)(const uint8_t *idx, int64_t scale, const uint8_t *val, \
                                              int32_t t0, int32_t t1, const uint8_t *b, float *c, \
                                              const float *bias, int relu, V_MASK_T mask) {      \
    V_T acc[NV];                                                                                 \
    _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++) acc[v] = V_ZERO();                    \
    for (int32_t t = t0; t < t1; t += 4) {                                                       \
      const float *bp = (const float *)(b + *(const int32_t *)(idx + t) * scale);                \
      V_T x = V_SET1(*(const float *)(val + t));                                                 \
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++) acc[v] =                            \
          V_ADD(acc[v], V_MUL(x, MASKED ? V_MLOAD(bp + V_LANES * v, mask) : V_LOAD(bp + V_LANES * v))); \
    }                                                                                            \
    _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++) {                                     \
      V_T y = acc[v];                                                                            \
      if (bias) y = V_ADD(y, MASKED ? V_MLOAD(bias + V_LANES * v, mask) : V_LOAD(bias + V_LANES * v)); \
      if (relu) y = V_RELU(y);                                                                   \
      if (MASKED) V_MSTORE(c + V_LANES * v, mask, y);                                            \
      else V_STORE(c + V_LANES * v, y);                                                          \
    }                                                                                            \
  }
#endif
SPARSE_TILE(8, 0)
SPARSE_TILE(4, 0)
SPARSE_TILE(2, 0)
SPARSE_TILE(1, 0)
SPARSE_TILE(1, 1)

/* x = rowPtr, idx, val, b, c, ldc, m, n, bias, relu, rowBytes (bytes; idx: scaleIdx's byte offsets of B's rows, or A's columns when rowBytes > 0) */
V_ATTR static void V_FN(gemm_csr)(uint8_t *base, const int32_t *x) {
  const int32_t *rp = (const int32_t *)(base + x[0]);
  const uint8_t *ip = base + x[1], *vp = base + x[2];
  int32_t ldc = x[5], m = x[6], n = x[7], relu = x[9];
  int64_t scale = x[10] > 0 ? x[10] : 1;
  const float *bs = x[8] ? (const float *)(base + x[8]) : 0;
  V_MASK_T none = V_NOMASK;
  for (int32_t r = 0; r < m; r++) {
    int32_t t0 = rp[2 * r], t1 = rp[2 * r + 1];
    float *crow = (float *)(base + x[4] + (int64_t)r * ldc);
    int32_t j = 0;
#define RUN(NV)                                                                                   \
  for (; j + V_LANES * NV <= n; j += V_LANES * NV)                                                \
    V_FN(sparse_tile##NV##0)(ip, scale, vp, t0, t1, base + x[3] + 4 * (int64_t)j, crow + j, bs ? bs + j : 0, relu, none);
    RUN(8)
    RUN(4)
    RUN(2)
    RUN(1)
#undef RUN
    if (j < n) V_FN(sparse_tile11)(ip, scale, vp, t0, t1, base + x[3] + 4 * (int64_t)j, crow + j, bs ? bs + j : 0, relu, V_MASK(n - j)); // prettier-ignore
  }
}
/*
 * The dense GEMM, wasm-module.ts's gemm and gemmG: C[i,j] = act((…(0 + A[i,0]·B[0,j]) + …) +
 * A[i,k−1]·B[k−1,j] + bias[j]), B's rows ldb bytes apart, A[i,p] at ar[i] + p·ksA (G = 0: gemm,
 * ar[i] = a + i·rsA) or at ar[i] + kt[p] (G = 1: gemmG, ar[i] = x + rowTab[i], kt = kTab: a
 * convolution's windows). Register tiles of MR rows × NV vectors; MASKED: the last vector holds
 * the last 1 to V_LANES − 1 columns (masked loads and stores). wasm's gemmG and gemmP work in chunks of k,
 * keeping partial sums in C between them: the same sums, as a float stored and read back is the
 * same float.
 */
#ifndef DENSE_TILE
#define DENSE_TILE(MR, NV, MASKED, G)                                                            \
  V_INLINE void V_FN(dense_tile##MR##x##NV##MASKED##G)(const uint8_t *const *ar, int64_t ksA,           \
                                               const int32_t *kt, const uint8_t *b, int64_t ldb, \
                                               uint8_t *c, int64_t ldc, int32_t p0, int32_t p1,  \
                                               const float *bias, int relu, int last,            \
                                               V_MASK_T mask) {                                   \
    V_T acc[MR][NV];                                                                          \
    const uint8_t *row[MR];                                                                      \
    _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) {                                      \
      row[r] = ar[r];                                                                            \
      const float *cr = (const float *)(c + r * ldc);                                            \
      _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) acc[r][v] = p0 == 0                  \
          ? V_ZERO()                                                                  \
          : (MASKED && v == NV - 1) ? V_MLOAD(cr + V_LANES * v, mask) : V_LOAD(cr + V_LANES * v); \
    }                                                                                            \
    for (int32_t p = p0; p < p1; p++) {                                                          \
      const float *bp = (const float *)(b + p * ldb);                                            \
      int64_t off = G ? (int64_t)kt[p] : p * ksA;                                                \
      V_T bv[NV];                                                                             \
      _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) bv[v] =                              \
          (MASKED && v == NV - 1) ? V_MLOAD(bp + V_LANES * v, mask) : V_LOAD(bp + V_LANES * v); \
      _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) {                                    \
        V_T x = V_SET1(*(const float *)(row[r] + off));                               \
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) acc[r][v] =                        \
            V_ADD(acc[r][v], V_MUL(x, bv[v]));                                   \
      }                                                                                          \
    }                                                                                            \
    _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) {                                      \
      float *cr = (float *)(c + r * ldc);                                                        \
      _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) {                                    \
        V_T y = acc[r][v];                                                                    \
        int masked = MASKED && v == NV - 1;                                                      \
        if (last && bias) y = V_ADD(y, masked ? V_MLOAD(bias + V_LANES * v, mask) : V_LOAD(bias + V_LANES * v)); \
        if (last && relu) y = V_RELU(y);                                                          \
        if (masked) V_MSTORE(cr + V_LANES * v, mask, y);                                    \
        else V_STORE(cr + V_LANES * v, y);                                                    \
      }                                                                                          \
    }                                                                                            \
  }

#define DENSE_TILES(G)     \
  DENSE_TILE(4, 2, 0, G)   \
  DENSE_TILE(4, 1, 0, G)   \
  DENSE_TILE(4, 1, 1, G)   \
  DENSE_TILE(1, 2, 0, G)   \
  DENSE_TILE(1, 1, 0, G)   \
  DENSE_TILE(1, 1, 1, G)
#endif
DENSE_TILES(0)
DENSE_TILES(1)

/* MR rows of C (A's rows at ar[0…MR−1]), every column, steps p0…p1−1 of k (see chunk_of): tiles of 2·V_LANES columns, then V_LANES, then the rest. */
#ifndef DENSE_ROWS
#define DENSE_ROWS(MR, G)                                                                        \
  V_INLINE void V_FN(dense_rows##MR##G)(const uint8_t *const *ar, int64_t ksA, const int32_t *kt,       \
                                const uint8_t *b, int64_t ldb, uint8_t *c, int64_t ldc,          \
                                int32_t n, int32_t p0, int32_t p1, const float *bias, int relu,  \
                                int last) {                                                      \
    int32_t j = 0;                                                                               \
    V_MASK_T none = V_NOMASK;                                                       \
    for (; j + 2 * V_LANES <= n; j += 2 * V_LANES)                                                                 \
      V_FN(dense_tile##MR##x2##0##G)(ar, ksA, kt, b + 4 * (int64_t)j, ldb, c + 4 * (int64_t)j, ldc, p0, p1, bias ? bias + j : 0, relu, last, none); \
    for (; j + V_LANES <= n; j += V_LANES)                                                                   \
      V_FN(dense_tile##MR##x1##0##G)(ar, ksA, kt, b + 4 * (int64_t)j, ldb, c + 4 * (int64_t)j, ldc, p0, p1, bias ? bias + j : 0, relu, last, none); \
    if (j < n)                                                                                   \
      V_FN(dense_tile##MR##x1##1##G)(ar, ksA, kt, b + 4 * (int64_t)j, ldb, c + 4 * (int64_t)j, ldc, p0, p1, bias ? bias + j : 0, relu, last, \
                               V_MASK(n - j)); \
  }
#endif
DENSE_ROWS(4, 0)
DENSE_ROWS(1, 0)
DENSE_ROWS(4, 1)
DENSE_ROWS(1, 1)

/*
 * The drivers: rows in tiles of 4 (then 1), chunk by chunk of k (chunk_of). x = the wasm
 * kernel's arguments: a, rsA, ksA, b, ldb, c, ldc, m, n, k, bias, relu (gemm, G = 0) or x,
 * rowTab, kTab, b, ldb, c, ldc, m, n, k, bias, relu (gemmG, G = 1), in bytes.
 */
#define DENSE_DRIVER(NAME, G)                                                                   \
  V_ATTR static void V_FN(NAME)(uint8_t * base, const int32_t *x) {                              \
    const int32_t *rt = G ? (const int32_t *)(base + x[1]) : 0;                                 \
    const int32_t *kt = G ? (const int32_t *)(base + x[2]) : 0;                                 \
    int64_t rsA = x[1], ksA = x[2], ldb = x[4], ldc = x[6];                                      \
    int32_t m = x[7], n = x[8], k = x[9], relu = x[11];                                          \
    const float *bias = x[10] ? (const float *)(base + x[10]) : 0;                              \
    const uint8_t *b = base + x[3];                                                              \
    int32_t kc = chunk_of(k, n);                                                                 \
    for (int32_t p0 = 0; p0 < k || p0 == 0; p0 += kc) {                                          \
      int32_t p1 = p0 + kc < k ? p0 + kc : k, last = p1 == k;                                    \
      int32_t i = 0;                                                                             \
      for (; i + 4 <= m; i += 4) {                                                               \
        const uint8_t *ar[4];                                                                    \
        for (int r = 0; r < 4; r++) ar[r] = base + x[0] + (G ? rt[i + r] : (i + r) * rsA);       \
        V_FN(dense_rows4##G)(ar, ksA, kt, b, ldb, base + x[5] + i * ldc, ldc, n, p0, p1, bias, relu, last); \
      }                                                                                          \
      for (; i < m; i++) {                                                                       \
        const uint8_t *ar[1] = {base + x[0] + (G ? rt[i] : i * rsA)};                            \
        V_FN(dense_rows1##G)(ar, ksA, kt, b, ldb, base + x[5] + i * ldc, ldc, n, p0, p1, bias, relu, last); \
      }                                                                                          \
      if (last) break;                                                                           \
    }                                                                                            \
  }
DENSE_DRIVER(gemm_dense, 0)
DENSE_DRIVER(gemm_gather, 1)
#undef DENSE_DRIVER
