/**
 * The kernels in plain JavaScript on Float32Arrays: the `cpu` backend's implementation, and the
 * bit-exact twin of the WebAssembly kernels (./wasm-module.ts).
 *
 * Every arithmetic result is rounded to float32 right away (Math.fround). A float32 sum,
 * product, quotient or square root computed in float64 and then rounded equals the float32
 * operation (float64 has more than 2·24 + 2 bits), so these functions give exactly the bits of
 * the SIMD code: same operations, same order. Offsets and strides are in elements.
 */
const fr = Math.fround;

/**
 * C[m,n] = act(A·B + bias): A[i,p] = a[aOff + i·rsA + p·ksA], B row-major (row stride ldb),
 * C row-major (row stride ldc). Each element sums p = 0…k−1 in order, then adds the bias.
 */
export function gemm(
  a: Float32Array,
  aOff: number,
  rsA: number,
  ksA: number,
  b: Float32Array,
  bOff: number,
  ldb: number,
  c: Float32Array,
  cOff: number,
  ldc: number,
  m: number,
  n: number,
  k: number,
  bias: Float32Array | null,
  biasOff: number,
  relu: boolean,
): void {
  let i = 0;
  // 4×4 register tiles
  for (; i + 4 <= m; i += 4) {
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0; // prettier-ignore
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0; // prettier-ignore
      let a0 = aOff + i * rsA;
      let a1 = a0 + rsA;
      let a2 = a1 + rsA;
      let a3 = a2 + rsA;
      let bp = bOff + j;
      for (let p = 0; p < k; p++) {
        const b0 = b[bp];
        const b1 = b[bp + 1];
        const b2 = b[bp + 2];
        const b3 = b[bp + 3];
        let x = a[a0];
        c00 = fr(c00 + fr(x * b0));
        c01 = fr(c01 + fr(x * b1));
        c02 = fr(c02 + fr(x * b2));
        c03 = fr(c03 + fr(x * b3));
        x = a[a1];
        c10 = fr(c10 + fr(x * b0));
        c11 = fr(c11 + fr(x * b1));
        c12 = fr(c12 + fr(x * b2));
        c13 = fr(c13 + fr(x * b3));
        x = a[a2];
        c20 = fr(c20 + fr(x * b0));
        c21 = fr(c21 + fr(x * b1));
        c22 = fr(c22 + fr(x * b2));
        c23 = fr(c23 + fr(x * b3));
        x = a[a3];
        c30 = fr(c30 + fr(x * b0));
        c31 = fr(c31 + fr(x * b1));
        c32 = fr(c32 + fr(x * b2));
        c33 = fr(c33 + fr(x * b3));
        a0 += ksA;
        a1 += ksA;
        a2 += ksA;
        a3 += ksA;
        bp += ldb;
      }
      let o = cOff + i * ldc + j;
      c[o] = c00;
      c[o + 1] = c01;
      c[o + 2] = c02;
      c[o + 3] = c03;
      o += ldc;
      c[o] = c10;
      c[o + 1] = c11;
      c[o + 2] = c12;
      c[o + 3] = c13;
      o += ldc;
      c[o] = c20;
      c[o + 1] = c21;
      c[o + 2] = c22;
      c[o + 3] = c23;
      o += ldc;
      c[o] = c30;
      c[o + 1] = c31;
      c[o + 2] = c32;
      c[o + 3] = c33;
    }
    for (let r = i; r < i + 4; r++) {
      gemmRow(a, aOff + r * rsA, ksA, b, bOff, ldb, c, cOff + r * ldc, j, n, k);
    }
  }
  for (; i < m; i++) {
    gemmRow(a, aOff + i * rsA, ksA, b, bOff, ldb, c, cOff + i * ldc, 0, n, k);
  }
  if (bias !== null || relu) {
    for (let r = 0; r < m; r++) {
      const o = cOff + r * ldc;
      for (let j = 0; j < n; j++) {
        let x = c[o + j];
        if (bias !== null) {
          x = fr(x + bias[biasOff + j]);
        }
        if (relu) {
          x = x > 0 || x !== x ? x : 0;
        }
        c[o + j] = x;
      }
    }
  }
}

/** One row of C, columns j0…n−1 (the tail of the tiled loop). */
function gemmRow(
  a: Float32Array,
  ap0: number,
  ksA: number,
  b: Float32Array,
  bOff: number,
  ldb: number,
  c: Float32Array,
  co: number,
  j0: number,
  n: number,
  k: number,
): void {
  for (let j = j0; j < n; j++) {
    let s = 0;
    let ap = ap0;
    let bp = bOff + j;
    for (let p = 0; p < k; p++) {
      s = fr(s + fr(a[ap] * b[bp]));
      ap += ksA;
      bp += ldb;
    }
    c[co + j] = s;
  }
}

/** out = y > 0 ? dy : 0 */
export function reluMask(
  dy: Float32Array,
  dyOff: number,
  y: Float32Array,
  yOff: number,
  out: Float32Array,
  outOff: number,
  count: number,
): void {
  for (let i = 0; i < count; i++) {
    out[outOff + i] = y[yOff + i] > 0 ? dy[dyOff + i] : 0;
  }
}

/** db[j] = Σ_r dz[r, j], rows in order (the same as gemm with A = ones). */
export function columnSums(
  dz: Float32Array,
  dzOff: number,
  rows: number,
  cols: number,
  out: Float32Array,
  outOff: number,
): void {
  for (let j = 0; j < cols; j++) {
    out[outOff + j] = 0;
  }
  for (let r = 0; r < rows; r++) {
    const o = dzOff + r * cols;
    for (let j = 0; j < cols; j++) {
      out[outOff + j] = fr(out[outOff + j] + fr(1 * dz[o + j]));
    }
  }
}

/** w − lr·g */
export function sgd(w: Float32Array, g: Float32Array, outW: Float32Array, lr: number): void {
  const l = fr(lr);
  for (let i = 0; i < w.length; i++) {
    outW[i] = fr(w[i] - fr(l * g[i]));
  }
}

/** a = mu·acc + g; w − lr·a */
export function momentum(
  w: Float32Array,
  g: Float32Array,
  acc: Float32Array,
  outW: Float32Array,
  outAcc: Float32Array,
  lr: number,
  mu: number,
): void {
  const l = fr(lr);
  const u = fr(mu);
  for (let i = 0; i < w.length; i++) {
    const a = fr(fr(u * acc[i]) + g[i]);
    outAcc[i] = a;
    outW[i] = fr(w[i] - fr(l * a));
  }
}

/** m = b1·m + c1·g; v = b2·v + c2·g²; w − (lr·m)/(√v + eps) */
export function adam(
  w: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  outW: Float32Array,
  outM: Float32Array,
  outV: Float32Array,
  s: { lr: number; b1: number; b2: number; c1: number; c2: number; eps: number },
): void {
  const lr = fr(s.lr);
  const b1 = fr(s.b1);
  const b2 = fr(s.b2);
  const c1 = fr(s.c1);
  const c2 = fr(s.c2);
  const eps = fr(s.eps);
  for (let i = 0; i < w.length; i++) {
    const gi = g[i];
    const mi = fr(fr(b1 * m[i]) + fr(c1 * gi));
    const vi = fr(fr(b2 * v[i]) + fr(c2 * fr(gi * gi)));
    outM[i] = mi;
    outV[i] = vi;
    outW[i] = fr(w[i] - fr(fr(lr * mi) / fr(fr(Math.sqrt(vi)) + eps)));
  }
}

/**
 * Mean sparse softmax cross-entropy of logits [n, classes] and its gradient (the cpu backend's;
 * the wasm backend's twin, ./wasm-softmax.ts, has the same bits, with its own port of the exp and
 * log that Math.exp and Math.log run). Per row: z − max, log Σ exp in float64,
 * logp = float32(z − max − lse);
 * dlogits = float32((exp(logp) − onehot) / n); loss = float32(−Σ logp[y] / n) summed in float64.
 */
export function softmaxCrossEntropy(
  logits: Float32Array,
  labels: Int32Array,
  n: number,
  classes: number,
  dlogits: Float32Array,
): number {
  let total = 0;
  for (let r = 0; r < n; r++) {
    const o = r * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) {
      max = Math.max(max, logits[o + c]);
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      sum += Math.exp(logits[o + c] - max);
    }
    const lse = Math.log(sum);
    const y = labels[r];
    for (let c = 0; c < classes; c++) {
      const logp = fr(logits[o + c] - max - lse);
      if (c === y) {
        total -= logp;
      }
      dlogits[o + c] = fr((Math.exp(logp) - (c === y ? 1 : 0)) / n);
    }
  }
  return fr(total / n);
}

/**
 * softmaxCrossEntropy's loss from each row's log-probability of its label (+0 for a row whose
 * label is no class), as that function sums them: in row order, in float64 (the rows computed
 * apart, ./wasm-softmax.ts).
 */
export function softmaxLoss(rowLoss: Float32Array): number {
  let total = 0;
  for (let r = 0; r < rowLoss.length; r++) {
    total -= rowLoss[r];
  }
  return fr(total / rowLoss.length);
}

/**
 * A in compressed rows (the twin of wasm-sparse's csr, offsets in elements): for each row i in
 * order, the nonzero A[i,p] (p ascending; NaN is nonzero, ±0 is not) go to val and p to idx;
 * rowPtr[i] is row i's first entry, rowPtr[m] the count. Returns the count.
 */
export function csr(
  a: Float32Array,
  aOff: number,
  rsA: number,
  ksA: number,
  m: number,
  k: number,
  rowPtr: Int32Array,
  idx: Int32Array,
  val: Float32Array,
): number {
  let t = 0;
  for (let i = 0; i < m; i++) {
    rowPtr[i] = t;
    let ap = aOff + i * rsA;
    for (let p = 0; p < k; p++, ap += ksA) {
      const x = a[ap];
      if (x !== 0) {
        idx[t] = p;
        val[t] = x;
        t++;
      }
    }
  }
  rowPtr[m] = t;
  return t;
}

/** Whether every one of `count` floats from `off` is finite. */
export function allFinite(x: Float32Array, off: number, count: number): boolean {
  for (let i = off; i < off + count; i++) {
    if (!Number.isFinite(x[i])) {
      return false;
    }
  }
  return true;
}

/**
 * C[i,:] = act(Σ_t val[t]·B[idx[t], :] + bias) over row i's entries in order (the twin of
 * wasm-sparse's gemmCsr): per element the float32 operations of gemm without the zero terms.
 * Each row's columns go in blocks of 16 sums held in locals, then one at a time (the `cpu`
 * backend's hot loop: 1.5–2× faster than one Float32Array of sums, same operations, same order).
 */
export function gemmCsr(
  rowPtr: Int32Array,
  idx: Int32Array,
  val: Float32Array,
  b: Float32Array,
  bOff: number,
  ldb: number,
  c: Float32Array,
  cOff: number,
  ldc: number,
  m: number,
  n: number,
  bias: Float32Array | null,
  biasOff: number,
  relu: boolean,
): void {
  for (let i = 0; i < m; i++) {
    const [t0, t1] = [rowPtr[i], rowPtr[i + 1]];
    const o = cOff + i * ldc;
    let j = 0;
    for (; j + 16 <= n; j += 16) {
      // prettier-ignore
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0, s8 = 0, s9 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0, s14 = 0, s15 = 0;
      for (let t = t0; t < t1; t++) {
        const x = val[t];
        const bp = bOff + idx[t] * ldb + j;
        s0 = fr(s0 + fr(x * b[bp + 0]));
        s1 = fr(s1 + fr(x * b[bp + 1]));
        s2 = fr(s2 + fr(x * b[bp + 2]));
        s3 = fr(s3 + fr(x * b[bp + 3]));
        s4 = fr(s4 + fr(x * b[bp + 4]));
        s5 = fr(s5 + fr(x * b[bp + 5]));
        s6 = fr(s6 + fr(x * b[bp + 6]));
        s7 = fr(s7 + fr(x * b[bp + 7]));
        s8 = fr(s8 + fr(x * b[bp + 8]));
        s9 = fr(s9 + fr(x * b[bp + 9]));
        s10 = fr(s10 + fr(x * b[bp + 10]));
        s11 = fr(s11 + fr(x * b[bp + 11]));
        s12 = fr(s12 + fr(x * b[bp + 12]));
        s13 = fr(s13 + fr(x * b[bp + 13]));
        s14 = fr(s14 + fr(x * b[bp + 14]));
        s15 = fr(s15 + fr(x * b[bp + 15]));
      }
      c[o + j + 0] = s0;
      c[o + j + 1] = s1;
      c[o + j + 2] = s2;
      c[o + j + 3] = s3;
      c[o + j + 4] = s4;
      c[o + j + 5] = s5;
      c[o + j + 6] = s6;
      c[o + j + 7] = s7;
      c[o + j + 8] = s8;
      c[o + j + 9] = s9;
      c[o + j + 10] = s10;
      c[o + j + 11] = s11;
      c[o + j + 12] = s12;
      c[o + j + 13] = s13;
      c[o + j + 14] = s14;
      c[o + j + 15] = s15;
    }
    for (; j < n; j++) {
      let s = 0;
      for (let t = t0; t < t1; t++) {
        s = fr(s + fr(val[t] * b[bOff + idx[t] * ldb + j]));
      }
      c[o + j] = s;
    }
    for (j = 0; j < n; j++) {
      let y = c[o + j];
      if (bias !== null) {
        y = fr(y + bias[biasOff + j]);
      }
      if (relu) {
        y = y > 0 || y !== y ? y : 0;
      }
      c[o + j] = y;
    }
  }
}
