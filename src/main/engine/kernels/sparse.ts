/**
 * The GEMM that skips A's zeros: C = act(A·B + bias) from A's nonzero entries only, with the
 * bits of the dense GEMM. It pays off where A is mostly zeros: MNIST's pixels (about 81 % are
 * 0) in the first layer's forward pass and weight gradient, ReLU outputs and masked gradients.
 *
 * Why the bits are the same. The dense GEMM computes each element as s₀ = +0,
 * s_{p+1} = fl(s_p + fl(a_p·b_p)), then the bias and ReLU. (1) No s_p is −0: in
 * round-to-nearest a sum is −0 only when both operands are −0 (x + (−x) is +0), and s₀ = +0.
 * (2) When a_p = ±0 and b_p is finite, a_p·b_p = ±0, and s + (±0) = s for every s other than −0
 * (+0 + −0 = +0). So dropping the terms with a_p = ±0 leaves every partial sum, and the result,
 * unchanged — provided B holds no Inf or NaN (0·Inf = NaN must stay). A products that underflows
 * to ±0 from a nonzero a_p is kept, as in the dense sum.
 *
 * So: A is scanned into compressed rows (NaN counts as nonzero), B is checked to be all finite,
 * and the sparse kernel runs only when both hold and A is at most SPARSE_MAX_DENSITY full;
 * otherwise `gemm` returns false having written nothing to C, and the caller runs the dense
 * GEMM. The choice changes the speed, never a bit (tests/engine/sparse-gemm.test.ts compares
 * both paths on ±0, NaN, Inf, subnormals and odd shapes, in wasm and in JS).
 */
import * as ref from './reference';
import type { WasmKernels } from './wasm-module';

/** The sparse kernel runs when A's nonzero entries are at most this fraction of m·k. */
export const SPARSE_MAX_DENSITY = 0.5;
/** Smaller GEMMs (m·n·k multiply-adds), or narrower ones (n), are not worth a scan of A. */
export const SPARSE_MIN_MACS = 1 << 15;
export const SPARSE_MIN_N = 16;
/** Elements of A sampled before the scan; more than SAMPLE_MAX_DENSITY of them nonzero: dense. */
const SAMPLES = 256;
const SAMPLE_MAX_DENSITY = SPARSE_MAX_DENSITY + 0.1;

/** Whether a GEMM of this shape is worth trying sparse. */
export function sparseWorthTrying(m: number, n: number, k: number): boolean {
  return n >= SPARSE_MIN_N && m * n * k >= SPARSE_MIN_MACS;
}

/**
 * Whether A (A[i,p] = a[off + i·rsA + p·ksA]) looks sparse enough to scan, from SAMPLES
 * elements spread evenly over it (a dense A then costs a few hundred reads, not a scan).
 */
export function looksSparse(
  a: Float32Array,
  off: number,
  rsA: number,
  ksA: number,
  m: number,
  k: number,
): boolean {
  // prettier-ignore
  const total = m * k;
  const samples = Math.min(SAMPLES, total);
  let nonzero = 0;
  for (let s = 0; s < samples; s++) {
    const e = Math.floor(((s + 0.5) * total) / samples);
    const i = Math.floor(e / k);
    if (a[off + i * rsA + (e - i * k) * ksA] !== 0) {
      nonzero++;
    }
  }
  return nonzero <= SAMPLE_MAX_DENSITY * samples;
}

/** Where the scratch memory comes from: [results (16 B)] [rowPtr: m pairs] [idx] [val]. */
interface Heap {
  malloc(bytes: number): number;
  free(ptr: number): void;
}

/** The sparse GEMM on our wasm kernels; pointers in bytes, strides in elements. */
export class WasmSparseGemm {
  private ptr = 0;
  private bytes = 0;

  constructor(
    private readonly k: WasmKernels,
    private readonly heap: Heap,
    private readonly buffer: () => ArrayBuffer,
  ) {}

  private scratch(bytes: number): number {
    if (bytes > this.bytes) {
      if (this.ptr !== 0) {
        this.heap.free(this.ptr);
      }
      this.bytes = Math.max(bytes, 2 * this.bytes);
      this.ptr = this.heap.malloc(this.bytes) >>> 0;
    }
    return this.ptr;
  }

  /**
   * C = act(A·B + bias) from A's nonzero entries, or false (C untouched) when B is not all
   * finite or A is too dense. `tail` as in the dense gemm: the last 1–3 columns may read up
   * to 12 bytes past B's rows and the bias.
   */
  gemm(
    a: number,
    rsA: number,
    ksA: number,
    b: number,
    ldb: number,
    c: number,
    ldc: number,
    m: number,
    n: number,
    k: number,
    bias: number,
    relu: boolean,
    tail: number,
  ): boolean {
    if (
      (ksA !== 1 && rsA !== 1) ||
      !looksSparse(new Float32Array(this.buffer()), a / 4, rsA, ksA, m, k)
    ) {
      // prettier-ignore
      return false;
    }
    const entries = m * k;
    const rowPtrBytes = ((m * 8 + 15) >> 4) << 4;
    const base = this.scratch(16 + rowPtrBytes + 8 * entries);
    const rowPtr = base + 16;
    const idx = rowPtr + rowPtrBytes;
    const val = idx + 4 * entries;
    if (k > 0) {
      this.k.nonFinite(b, (k - 1) * ldb + n, base);
      if (Number.isNaN(new Float32Array(this.buffer(), base, 1)[0])) {
        return false;
      }
    }
    // rows of A contiguous, or A = Mᵀ with M's rows contiguous
    const csr = ksA === 1 ? this.k.csrRows : this.k.csrCols;
    csr(a, (ksA === 1 ? rsA : ksA) * 4, m, k, ldb * 4, rowPtr, idx, val, base + 4);
    const nnz = new Int32Array(this.buffer(), base + 4, 1)[0] / 4;
    if (nnz > SPARSE_MAX_DENSITY * entries) {
      return false;
    }
    this.k.gemmCsr(rowPtr, idx, val, b, c, ldc * 4, m, n, bias, relu ? 1 : 0, tail);
    return true;
  }
}

/** The sparse GEMM in JS (the cpu backend), offsets and strides in elements. */
export class JsSparseGemm {
  private rowPtr = new Int32Array(0);
  private idx = new Int32Array(0);
  private val = new Float32Array(0);

  /** As WasmSparseGemm.gemm, on Float32Arrays. */
  gemm(
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
  ): boolean {
    if (
      !looksSparse(a, aOff, rsA, ksA, m, k) ||
      (k > 0 && !ref.allFinite(b, bOff, (k - 1) * ldb + n))
    ) {
      // prettier-ignore
      return false;
    }
    const entries = m * k;
    if (this.rowPtr.length < m + 1) {
      this.rowPtr = new Int32Array(m + 1);
    }
    if (this.idx.length < entries) {
      this.idx = new Int32Array(entries);
      this.val = new Float32Array(entries);
    }
    const nnz = ref.csr(a, aOff, rsA, ksA, m, k, this.rowPtr, this.idx, this.val);
    if (nnz > SPARSE_MAX_DENSITY * entries) {
      return false;
    }
    ref.gemmCsr(this.rowPtr, this.idx, this.val, b, bOff, ldb, c, cOff, ldc, m, n, bias, biasOff, relu); // prettier-ignore
    return true;
  }
}
