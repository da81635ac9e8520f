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
import type { NativeKernels } from './native';
import { Kernel, type GemmPool } from './threads';
import type { WasmKernels } from './wasm-module';
import { COMPRESS_TABLE_BYTES, compressTable } from './wasm-sparse';

/** The sparse kernel runs when A's nonzero entries are at most this fraction of m·k. */
export const SPARSE_MAX_DENSITY = 0.3;
/** Smaller GEMMs (m·n·k multiply-adds), or narrower ones (n), are not worth a scan of A. */
export const SPARSE_MIN_MACS = 1 << 15;
export const SPARSE_MIN_N = 16;
/** Elements of A sampled before the scan; more than SAMPLE_MAX_DENSITY of them nonzero: dense. */
const SAMPLES = 256;
const SAMPLE_MAX_DENSITY = SPARSE_MAX_DENSITY + 0.05;

/** Whether a GEMM of this shape is worth trying sparse. */
export function sparseWorthTrying(m: number, n: number, k: number): boolean {
  return n >= SPARSE_MIN_N && m * n * k >= SPARSE_MIN_MACS;
}

/**
 * A narrower GEMM, down to this n, is worth A's kept scan when that scan cost nothing (a batch
 * gathered with its compressed rows, read as rows: `gemm`'s keptOnly): the softmax model's x·W
 * (n = 10) on one thread, 0.944× a step (40 alternating pairs in one process; the dense product
 * 58 µs, the sparse one 37, the gather with the rows ~9 more). Not where kernel threads run: there the batch is gathered ahead by a worker, and the dense weight gradient that
 * then reads it first, transposed, from the other core's cache took 111 µs instead of 55 (the
 * step 1.22–1.28×).
 */
export const SPARSE_KEPT_MIN_N = 8;

/** Whether a GEMM of this shape, too narrow for sparseWorthTrying, is worth a free kept scan. */
export function keptScanWorthTrying(m: number, n: number, k: number): boolean {
  return n >= SPARSE_KEPT_MIN_N && n < SPARSE_MIN_N && m * n * k >= SPARSE_MIN_MACS;
}

/**
 * Whether A (A[i,p] = a[off + i·rsA + p·ksA]) looks sparse enough to scan, from SAMPLES
 * elements at scattered positions (multiplicative hashing: an even spacing would alias with the
 * period of an im2col matrix and see only one kernel position). A dense A then costs a few
 * hundred reads, not a scan.
 */
export function looksSparse(
  a: Float32Array,
  off: number,
  rsA: number,
  ksA: number,
  m: number,
  k: number,
): boolean {
  const total = m * k;
  const samples = Math.min(SAMPLES, total);
  let nonzero = 0;
  for (let s = 0; s < samples; s++) {
    // ⌊frac((s + 1)·φ)·total⌋, not a remainder: V8 takes `% total` of a uint32 above 2³¹ in
    // doubles (the sample took ~7 µs inside a step with it, ~3.5 without)
    const e = samples === total ? s : Math.floor(((Math.imul(s + 1, 0x9e3779b1) >>> 0) / 2 ** 32) * total);
    const i = Math.floor(e / k);
    if (a[off + i * rsA + (e - i * k) * ksA] !== 0) {
      nonzero++;
    }
  }
  return nonzero <= SAMPLE_MAX_DENSITY * samples;
}

/**
 * Shapes whose last scan found A too dense, or whose last sample looked dense: the next
 * RETRY_AFTER GEMMs of that shape go dense without a sample or a scan (an ImageNet-style im2col
 * matrix of ReLU outputs is ~50 % zeros every step).
 */
const RETRY_AFTER = 64;

/**
 * Counts down a declined shape's skips; true while it should go dense without a scan (or, for
 * `gathered`, gather without its compressed rows).
 */
function skipDense(declined: Map<string, number>, shape: string): boolean {
  const left = declined.get(shape);
  if (left === undefined) {
    return false;
  }
  if (left <= 1) {
    declined.delete(shape);
  } else {
    declined.set(shape, left - 1);
  }
  return true;
}

/** Where the scratch memory comes from. */
interface Heap {
  malloc(bytes: number): number;
  free(ptr: number): void;
}

/** A block of scratch memory laid out for the compressed rows of an m × k matrix. */
interface Region {
  ptr: number;
  bytes: number;
  rowPtr: number;
  idx: number;
  val: number;
}

/** A scan kept for its transpose: tensor `key` (m × k, rows lda apart) in compressed rows. */
interface Scan {
  key: object;
  m: number;
  k: number;
  lda: number;
  nnz: number;
  region: Region;
}

let gatheredScansUsed = 0;
let aheadGathersAdopted = 0;
/** GEMMs whose Aᵀ was transposed ahead, by A's shape "m,k" */
const aheadByShape = new Map<string, number>();

/** GEMMs in this process that found A's compressed rows made by `gathered` (tests). */
export function gatheredScansFound(): number {
  return gatheredScansUsed;
}

/** Batches gathered ahead whose compressed rows became their tensor's scan (tests). */
export function aheadGathersFound(): number {
  return aheadGathersAdopted;
}

/**
 * GEMMs in this process whose Aᵀ was transposed ahead, in the background (tests); with `m, k`,
 * those whose A was m × k (the tensor scanned, transposed).
 */
export function aheadTransposesFound(m?: number, k?: number): number {
  if (m === undefined) {
    return [...aheadByShape.values()].reduce((a, b) => a + b, 0);
  }
  return aheadByShape.get(`${m},${k}`) ?? 0;
}

/** Scans kept for a later Aᵀ (the MLP's backward pass needs the two inputs of its last layers). */
const KEPT_SCANS = 4;

/**
 * The sparse GEMM on our wasm kernels; pointers in bytes, strides in elements.
 *
 * A scan of a tensor's rows is kept (with `key`, the tensor's dataId) so that a later GEMM with
 * its transpose — a layer's weight gradient xᵀ·dz after its forward x·W — builds its compressed
 * rows with csrTranspose instead of scanning again. A batch of pixels can come with its scan
 * made as it was gathered (`gathered`): then not even the forward GEMM scans. This relies on
 * tensors being immutable: a dataId names the same contents for as long as it exists (tfjs
 * tensors are, and our kernels write only outputs they have just allocated); so does
 * `knownFinite`.
 *
 * With kernel threads, a scan that a GEMM has just read as A is transposed ahead, on a worker in
 * the background (GemmPool.post), when a scan of its shape was read as Aᵀ before: the default
 * MLP's batch of pixels, whose weight gradient xᵀ·dz comes after the forward pass's serial part
 * (the small layers, the loss), where the worker would otherwise wait. The job reads only the
 * kept scan's region and writes only `aheadRegion`; every use of either waits for it first
 * (`settle`: before a kept region is given up or re-laid out, and before the transpose is read).
 */
export class WasmSparseGemm {
  private results = 0;
  private table = 0;
  private readonly work: Region = { ptr: 0, bytes: 0, rowPtr: 0, idx: 0, val: 0 };
  /** scaleIdx's output: the entries' byte offsets into B (see `scaledPtr`) */
  private readonly scaled = { ptr: 0, bytes: 0 };
  /** most recent first */
  private scans: Scan[] = [];
  private readonly declined = new Map<string, number>();
  /** the compressed rows of a batch gathered ahead (`aheadGatherRegion`), until adopted */
  private gatherAhead: Region = { ptr: 0, bytes: 0, rowPtr: 0, idx: 0, val: 0 };
  /** the last scan `gathered` made, until a GEMM runs sparse on it */
  private unusedGather: Scan | null = null;
  /** shapes (m,k) whose last gathered scan went unused: calls of `gathered` left to decline */
  private readonly gathersPaused = new Map<string, number>();
  /** tensors known to hold no Inf or NaN (`knownFinite`) */
  private readonly finite = new WeakSet<object>();
  /** where a kept scan is transposed ahead, which scan, and the pool running it until joined */
  private readonly aheadRegion: Region = { ptr: 0, bytes: 0, rowPtr: 0, idx: 0, val: 0 };
  private aheadOf: Scan | null = null;
  /** whether a GEMM has read the transpose ahead (a new one may then replace it) */
  private aheadRead = false;
  private aheadPool: GemmPool | null = null;
  /** shapes (m,k) of kept scans a GEMM has read as Aᵀ: later scans of them are transposed ahead */
  private readonly transposedShapes = new Set<string>();

  constructor(
    private readonly k: WasmKernels,
    private readonly heap: Heap,
    private readonly buffer: () => ArrayBuffer,
    private readonly pool: () => GemmPool | null = () => null,
    /** the native twin of gemmCsr, run instead of the wasm kernel on one thread (./native.ts) */
    private readonly native: NativeKernels | null = null,
  ) {}

  /**
   * Runs `fill(rowPtr, idx, val, total, tab)` — a kernel that writes tensor `key` (m × k, rows
   * contiguous) and its compressed rows at once (gatherRowsCsr, with compressTable's shuffles at
   * `tab`; it may write 12 bytes past the entries, which the regions have room for) — into a
   * kept scan of `key`, so that the GEMMs with that tensor as A or Aᵀ scan nothing; true when it
   * ran. False (nothing run: the caller writes the tensor alone) for the next RETRY_AFTER calls
   * of a shape whose last scan no GEMM ran on before the next call: a batch that feeds a
   * convolution, not a dense layer, or too dense for the sparse GEMM.
   */
  gathered(
    key: object,
    m: number,
    k: number,
    fill: (rowPtr: number, idx: number, val: number, total: number, tab: number) => void,
  ): boolean {
    const last = this.unusedGather;
    if (last !== null) {
      this.unusedGather = null;
      this.gathersPaused.set(`${last.m},${last.k}`, RETRY_AFTER);
    }
    if (skipDense(this.gathersPaused, `${m},${k}`)) {
      return false;
    }
    const results = this.resultsPtr();
    const scan = this.keep(key, m, k, k);
    const { rowPtr, idx, val } = scan.region;
    fill(rowPtr, idx, val, results, this.tablePtr());
    scan.nnz = this.i32(results) / 4;
    this.unusedGather = scan;
    return true;
  }

  /**
   * Whether `gathered` would now write an m × k batch's compressed rows: the last gathered scan
   * of that shape was read by a GEMM and the shape is not paused. A batch gathered ahead
   * (`aheadGatherRegion`) is worth its rows only then.
   */
  gatherWanted(m: number, k: number): boolean {
    const last = this.unusedGather;
    const shape = `${m},${k}`;
    return !this.gathersPaused.has(shape) && (last === null || `${last.m},${last.k}` !== shape);
  }

  /**
   * The region for the compressed rows of an m × k batch gathered ahead, in the background: no
   * kept scan's, so nothing here reads or re-lays it out until `adoptAheadGather` makes it the
   * scan of the batch's tensor (or the next call of this lays it out again: the caller waits for
   * its job first).
   */
  aheadGatherRegion(m: number, k: number): Region {
    return this.layout(this.gatherAhead, m, k);
  }

  /**
   * What `gathered` would do for tensor `key` (m × k) — but with the rows already written to
   * `aheadGatherRegion`, `nnz` entries: they become the scan of `key`, and the region the scan
   * gives up is the next batch's. False (nothing kept) where `gathered` would have declined.
   */
  adoptAheadGather(key: object, m: number, k: number, nnz: number): boolean {
    let kept = false;
    this.gathered(key, m, k, () => {
      kept = true;
    });
    if (!kept) {
      return false;
    }
    const scan = this.scans[0];
    [scan.region, this.gatherAhead] = [this.gatherAhead, scan.region];
    scan.nnz = nnz;
    aheadGathersAdopted++;
    return true;
  }

  /**
   * Tensor `key` holds no Inf or NaN (an optimizer's kernel found so as it wrote it): a GEMM with
   * it as B (`bKey`, the whole tensor from its start) then skips nonFinite.
   */
  knownFinite(key: object): void {
    this.finite.add(key);
  }

  /** The heap offset of compressTable's shuffles (written once). */
  tablePtr(): number {
    if (this.table === 0) {
      this.table = this.heap.malloc(COMPRESS_TABLE_BYTES) >>> 0;
      new Uint8Array(this.buffer(), this.table, COMPRESS_TABLE_BYTES).set(compressTable());
    }
    return this.table;
  }

  /** 16 bytes of scratch for the kernels' results. */
  private resultsPtr(): number {
    if (this.results === 0) {
      this.results = this.heap.malloc(16) >>> 0;
    }
    return this.results;
  }

  /** Lays `r` out for m rows of k entries (at most), growing it when needed. */
  private layout(r: Region, m: number, k: number): Region {
    const rowPtrBytes = ((m * 8 + 15) >> 4) << 4;
    // (16 spare bytes after idx and after val: appendVec's whole-vector stores)
    const bytes = rowPtrBytes + 8 * m * k + 32;
    if (bytes > r.bytes) {
      if (r.ptr !== 0) {
        this.heap.free(r.ptr);
      }
      r.bytes = Math.max(bytes, 2 * r.bytes);
      r.ptr = this.heap.malloc(r.bytes) >>> 0;
    }
    r.rowPtr = r.ptr;
    r.idx = r.ptr + rowPtrBytes;
    r.val = r.idx + 4 * m * k + 16;
    return r;
  }

  /** A region for a scan to keep (the oldest kept scan's, once KEPT_SCANS are kept). */
  private keep(key: object, m: number, k: number, lda: number): Scan {
    // the same tensor again, or the oldest once KEPT_SCANS are kept, gives up its region
    const again = this.scans.findIndex((s) => s.key === key);
    const reused =
      again >= 0
        ? this.scans.splice(again, 1)[0]
        : this.scans.length >= KEPT_SCANS
          ? this.scans.pop()
          : undefined;
    if (reused !== undefined && reused === this.aheadOf) {
      // the region given up is the one the transpose ahead reads: wait for it, and forget it
      // (a scan of any other tensor leaves it running: the next layer's, in the MLP's step)
      this.settle();
      this.aheadOf = null;
    }
    const region = reused?.region ?? { ptr: 0, bytes: 0, rowPtr: 0, idx: 0, val: 0 };
    const scan = { key, m, k, lda, nnz: 0, region: this.layout(region, m, k) };
    this.scans.unshift(scan);
    return scan;
  }

  private i32(ptr: number): number {
    return new Int32Array(this.buffer(), ptr, 1)[0];
  }

  /**
   * C = act(A·B + bias) from A's nonzero entries, or false (C untouched) when B is not all
   * finite or A is too dense. `tail` as in the dense gemm: the last 1–3 columns may read up
   * to 12 bytes past B's rows and the bias. `key` identifies A's tensor (see the class), `bKey`
   * B's (B then starts at the tensor's start): one found finite by `knownFinite` is not checked.
   * `keptOnly`: false at once unless A (as rows) has a kept scan.
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
    key?: object,
    bKey?: object,
    keptOnly = false,
  ): boolean {
    // a kept scan of this very tensor: as A itself (made by `gathered`), or as A's transpose
    const kept =
      ksA === 1
        ? this.scans.find((s) => s.key === key && s.m === m && s.k === k && s.lda === rsA)
        : this.scans.find((s) => s.key === key && s.m === k && s.k === m && s.lda === ksA);
    if (keptOnly && (kept === undefined || ksA !== 1)) {
      return false;
    }
    const shape = `${m},${n},${k},${rsA},${ksA}`;
    if (kept === undefined && skipDense(this.declined, shape)) {
      return false;
    }
    if (kept === undefined && ksA !== 1 && rsA !== 1) {
      return false;
    }
    if (kept === undefined && !looksSparse(new Float32Array(this.buffer()), a / 4, rsA, ksA, m, k)) {
      // a dense sample declines the shape as a dense scan does (the default MLP's hidden layers
      // look dense every step, and were sampled three times a step)
      this.declined.set(shape, RETRY_AFTER);
      return false;
    }
    this.resultsPtr();
    if (k > 0 && (bKey === undefined || !this.finite.has(bKey))) {
      this.k.nonFinite(b, (k - 1) * ldb + n, this.results);
      if (Number.isNaN(new Float32Array(this.buffer(), this.results, 1)[0])) {
        return false;
      }
    }
    let r: Region;
    let nnz: number;
    if (ksA === 1 && kept) {
      r = kept.region;
      nnz = kept.nnz;
    } else if (ksA === 1) {
      // rows of A contiguous: scan them, and keep the scan when A is a tensor
      const scan = key === undefined ? undefined : this.keep(key, m, k, rsA);
      r = scan?.region ?? this.layout(this.work, m, k);
      this.k.csrRows(a, rsA * 4, m, k, r.rowPtr, r.idx, r.val, this.results, this.tablePtr()); // prettier-ignore
      nnz = this.i32(this.results) / 4;
      if (scan) {
        scan.nnz = nnz;
      }
    } else {
      // A = Mᵀ, M's rows contiguous: the transpose of M's kept scan (made ahead, or now), else
      // a scan of M
      r = this.layout(this.work, m, k);
      if (kept) {
        nnz = kept.nnz;
        this.transposedShapes.add(`${kept.m},${kept.k}`);
        if (nnz <= SPARSE_MAX_DENSITY * m * k && this.aheadOf === kept) {
          this.settle();
          r = this.aheadRegion;
          this.aheadRead = true;
          const scanned = `${kept.m},${kept.k}`;
          aheadByShape.set(scanned, (aheadByShape.get(scanned) ?? 0) + 1);
        } else if (nnz <= SPARSE_MAX_DENSITY * m * k) {
          const s = kept.region;
          this.k.csrTranspose(s.rowPtr, s.idx, s.val, kept.m, kept.k, r.rowPtr, r.idx, r.val);
        }
      } else {
        this.k.csrCols(a, ksA * 4, m, k, r.rowPtr, r.idx, r.val, this.results);
        nnz = this.i32(this.results) / 4;
      }
    }
    if (nnz > SPARSE_MAX_DENSITY * m * k) {
      this.declined.set(shape, RETRY_AFTER);
      return false;
    }
    if (kept !== undefined && kept === this.unusedGather) {
      this.unusedGather = null;
      gatheredScansUsed++;
    }
    // the entries' rows of B as byte offsets (the wasm tiles then add, not multiply:
    // ./wasm-sparse.ts); the native kernels multiply A's column numbers themselves (rowBytes):
    // no scaleIdx pass (14 µs a step of the MNIST MLP on one thread, 20 on two)
    const pool = this.pool();
    const columns = this.native !== null && (pool === null || pool.nativeCsr);
    let idx = r.idx;
    if (!columns) {
      idx = this.scaledPtr(r);
      this.k.scaleIdx(r.rowPtr, m, r.idx, idx, ldb * 4);
    }
    const rowBytes = columns ? ldb * 4 : 0;
    // rows in bands across the kernel threads where the heap is shared (each row by one thread)
    if (!pool?.gemmCsr(r.rowPtr, idx, r.val, b, c, ldc, m, n, bias, relu, tail, nnz * n, rowBytes)) { // prettier-ignore
      if (this.native) {
        this.native.gemmCsr(this.buffer(), r.rowPtr, idx, r.val, b, c, ldc * 4, m, n, bias, relu ? 1 : 0, rowBytes); // prettier-ignore
      } else {
        this.k.gemmCsr(r.rowPtr, idx, r.val, b, c, ldc * 4, m, n, bias, relu ? 1 : 0, tail);
      }
    }
    if (ksA === 1 && key !== undefined) {
      this.transposeAhead(this.scans.find((s) => s.key === key && s.region === r));
    }
    return true;
  }

  /**
   * Starts the transpose of kept scan `s` in the background when a scan of its shape was read
   * as Aᵀ before and a worker is there to run it (see the class).
   */
  private transposeAhead(s: Scan | undefined): void {
    const pool = this.pool();
    if (
      s === undefined ||
      pool === null ||
      !this.transposedShapes.has(`${s.m},${s.k}`) ||
      s.nnz > SPARSE_MAX_DENSITY * s.m * s.k ||
      // one transpose ahead at a time: one made ahead and not read yet, of a scan still kept,
      // stays (the batch's, while the MLP's next layer reads a sparse ReLU output — with adam —
      // whose transpose is then made when read); replacing it made the calling thread wait for
      // it, and then make it again at the first layer's weight gradient
      (this.aheadOf !== null && !this.aheadRead && this.scans.includes(this.aheadOf))
    ) {
      return;
    }
    this.settle();
    this.aheadOf = null;
    const r = this.layout(this.aheadRegion, s.k, s.m);
    const { rowPtr, idx, val } = s.region;
    if (pool.post(Kernel.csrTranspose, [rowPtr, idx, val, s.m, s.k, r.rowPtr, r.idx, r.val])) {
      this.aheadOf = s;
      this.aheadRead = false;
      this.aheadPool = pool;
    }
  }

  /** Waits for the transpose ahead, if one is running (its error, if any, is thrown here). */
  private settle(): void {
    const pool = this.aheadPool;
    if (pool !== null) {
      this.aheadPool = null;
      try {
        pool.join();
      } catch (e) {
        this.aheadOf = null;
        throw e;
      }
    }
  }

  /**
   * Scratch for scaleIdx's output for region `r`: as many bytes as r's idx (its entries lie
   * anywhere in it) and 16 spare (kept, grown when a region needs more).
   */
  private scaledPtr(r: Region): number {
    const bytes = r.val - r.idx;
    if (bytes > this.scaled.bytes) {
      if (this.scaled.ptr !== 0) {
        this.heap.free(this.scaled.ptr);
      }
      this.scaled.bytes = Math.max(bytes, 2 * this.scaled.bytes);
      this.scaled.ptr = this.heap.malloc(this.scaled.bytes) >>> 0;
    }
    return this.scaled.ptr;
  }
}

/** The sparse GEMM in JS (the cpu backend), offsets and strides in elements. */
export class JsSparseGemm {
  private rowPtr = new Int32Array(0);
  private idx = new Int32Array(0);
  private val = new Float32Array(0);
  private readonly declined = new Map<string, number>();

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
    const shape = `${m},${n},${k},${rsA},${ksA}`;
    if (skipDense(this.declined, shape)) {
      return false;
    }
    if (!looksSparse(a, aOff, rsA, ksA, m, k)) {
      this.declined.set(shape, RETRY_AFTER);
      return false;
    }
    if (k > 0 && !ref.allFinite(b, bOff, (k - 1) * ldb + n)) {
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
      this.declined.set(shape, RETRY_AFTER);
      return false;
    }
    ref.gemmCsr(this.rowPtr, this.idx, this.val, b, bOff, ldb, c, cOff, ldc, m, n, bias, biasOff, relu); // prettier-ignore
    return true;
  }
}
