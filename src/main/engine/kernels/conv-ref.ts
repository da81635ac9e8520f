/**
 * The image-layer kernels in plain JavaScript on Float32Arrays, shared by every backend that runs
 * our kernels: on `cpu` they read the backend's arrays, on `wasm` views of the WebAssembly heap.
 * Since both backends run this very code (and the GEMM, whose wasm and JS versions agree bit for
 * bit), the two give the same bits for every layer.
 *
 * Layout: activations are NHWC, flat: element (b, y, x, c) of a [n, h, w, c] tensor is at
 * ((b·h + y)·w + x)·c + c. A convolution's filter is [kh, kw, cin, cout] (TensorFlow's HWIO), so
 * as a matrix it is [kh·kw·cin, cout] and a convolution is im2col followed by one GEMM.
 *
 * Determinism: every float32 result is rounded right away (Math.fround) and every reduction runs
 * in one fixed, documented order; reductions over a batch (batch-norm statistics) accumulate in
 * float64 in row order and round once. Nothing depends on threads, tiling or the machine.
 * Offsets are in elements.
 */
const fr = Math.fround;

/** The geometry of a 2-D window op (convolution or pooling) over an NHWC batch. */
export interface Window2d {
  n: number;
  h: number;
  w: number;
  c: number;
  kh: number;
  kw: number;
  stride: number;
  /** zero padding before the first row / column (after: whatever the output size implies) */
  padTop: number;
  padLeft: number;
  oh: number;
  ow: number;
}

/**
 * col[(b·oh + oy)·ow + ox, (ky·kw + kx)·c + ci] = x[b, oy·s + ky − padTop, ox·s + kx − padLeft, ci]
 * (0 outside the image). col has kh·kw·c columns.
 */
export function im2col(
  x: Float32Array,
  xOff: number,
  g: Window2d,
  col: Float32Array,
  colOff: number,
): void {
  const { n, h, w, c, kh, kw, stride, padTop, padLeft, oh, ow } = g;
  const rowLen = kw * c;
  let o = colOff;
  for (let b = 0; b < n; b++) {
    const xb = xOff + b * h * w * c;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const ix0 = ox * stride - padLeft;
        // the window's columns inside the image: kx in [kx0, kx1)
        const kx0 = ix0 < 0 ? -ix0 : 0;
        const kx1 = ix0 + kw > w ? w - ix0 : kw;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * stride + ky - padTop;
          if (iy < 0 || iy >= h || kx1 <= kx0) {
            for (let i = 0; i < rowLen; i++) {
              col[o + i] = 0;
            }
            o += rowLen;
            continue;
          }
          for (let i = 0; i < kx0 * c; i++) {
            col[o + i] = 0;
          }
          // kx0…kx1−1 are contiguous in x: one copy
          const src = xb + (iy * w + ix0 + kx0) * c;
          const len = (kx1 - kx0) * c;
          const dst = o + kx0 * c;
          for (let i = 0; i < len; i++) {
            col[dst + i] = x[src + i];
          }
          for (let i = kx1 * c; i < rowLen; i++) {
            col[o + i] = 0;
          }
          o += rowLen;
        }
      }
    }
  }
}

/**
 * The adjoint of im2col: dx = 0, then for every col row in order and every (ky, kx, ci) in order,
 * dx[b, iy, ix, ci] += dcol[row, (ky·kw + kx)·c + ci] (float32). Entries that fall in the padding
 * are dropped.
 */
export function col2im(
  dcol: Float32Array,
  dcolOff: number,
  g: Window2d,
  dx: Float32Array,
  dxOff: number,
): void {
  const { n, h, w, c, kh, kw, stride, padTop, padLeft, oh, ow } = g;
  const rowLen = kw * c;
  dx.fill(0, dxOff, dxOff + n * h * w * c);
  let o = dcolOff;
  for (let b = 0; b < n; b++) {
    const xb = dxOff + b * h * w * c;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const ix0 = ox * stride - padLeft;
        const kx0 = ix0 < 0 ? -ix0 : 0;
        const kx1 = ix0 + kw > w ? w - ix0 : kw;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * stride + ky - padTop;
          if (iy >= 0 && iy < h && kx1 > kx0) {
            const dst = xb + (iy * w + ix0 + kx0) * c;
            const src = o + kx0 * c;
            const len = (kx1 - kx0) * c;
            for (let i = 0; i < len; i++) {
              dx[dst + i] = fr(dx[dst + i] + dcol[src + i]);
            }
          }
          o += rowLen;
        }
      }
    }
  }
}

/**
 * Max pooling without padding: y[b, oy, ox, ci] = max over the window in (ky, kx) order; the
 * first maximum wins (strict >), which is also where the backward pass sends the gradient.
 */
export function maxPool(
  x: Float32Array,
  xOff: number,
  g: Window2d,
  y: Float32Array,
  yOff: number,
): void {
  const { n, h, w, c, kh, kw, stride, oh, ow } = g;
  let o = yOff;
  for (let b = 0; b < n; b++) {
    const xb = xOff + b * h * w * c;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let ci = 0; ci < c; ci++) {
          let best = x[xb + (oy * stride * w + ox * stride) * c + ci];
          for (let ky = 0; ky < kh; ky++) {
            const row = xb + ((oy * stride + ky) * w + ox * stride) * c + ci;
            for (let kx = 0; kx < kw; kx++) {
              const v = x[row + kx * c];
              if (v > best) {
                best = v;
              }
            }
          }
          y[o++] = best;
        }
      }
    }
  }
}

/** dx = 0, then dx[argmax of each window] += dy (outputs in order; argmax as in maxPool). */
export function maxPoolGrad(
  x: Float32Array,
  xOff: number,
  dy: Float32Array,
  dyOff: number,
  g: Window2d,
  dx: Float32Array,
  dxOff: number,
): void {
  const { n, h, w, c, kh, kw, stride, oh, ow } = g;
  dx.fill(0, dxOff, dxOff + n * h * w * c);
  let o = dyOff;
  for (let b = 0; b < n; b++) {
    const xb = xOff + b * h * w * c;
    const db = dxOff + b * h * w * c;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let ci = 0; ci < c; ci++) {
          let at = (oy * stride * w + ox * stride) * c + ci;
          let best = x[xb + at];
          for (let ky = 0; ky < kh; ky++) {
            for (let kx = 0; kx < kw; kx++) {
              const p = ((oy * stride + ky) * w + ox * stride + kx) * c + ci;
              if (x[xb + p] > best) {
                best = x[xb + p];
                at = p;
              }
            }
          }
          dx[db + at] = fr(dx[db + at] + dy[o++]);
        }
      }
    }
  }
}

/**
 * Average pooling without padding: y = float32(Σ window in (ky, kx) order, float32) / (kh·kw).
 * Global average pooling is the window h × w.
 */
export function avgPool(
  x: Float32Array,
  xOff: number,
  g: Window2d,
  y: Float32Array,
  yOff: number,
): void {
  const { n, h, w, c, kh, kw, stride, oh, ow } = g;
  const area = kh * kw;
  let o = yOff;
  for (let b = 0; b < n; b++) {
    const xb = xOff + b * h * w * c;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let ci = 0; ci < c; ci++) {
          let s = 0;
          for (let ky = 0; ky < kh; ky++) {
            const row = xb + ((oy * stride + ky) * w + ox * stride) * c + ci;
            for (let kx = 0; kx < kw; kx++) {
              s = fr(s + x[row + kx * c]);
            }
          }
          y[o++] = fr(s / area);
        }
      }
    }
  }
}

/** dx = 0, then for each output in order, every input of its window += float32(dy / (kh·kw)). */
export function avgPoolGrad(
  dy: Float32Array,
  dyOff: number,
  g: Window2d,
  dx: Float32Array,
  dxOff: number,
): void {
  const { n, h, w, c, kh, kw, stride, oh, ow } = g;
  const area = kh * kw;
  dx.fill(0, dxOff, dxOff + n * h * w * c);
  let o = dyOff;
  for (let b = 0; b < n; b++) {
    const db = dxOff + b * h * w * c;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let ci = 0; ci < c; ci++) {
          const d = fr(dy[o++] / area);
          for (let ky = 0; ky < kh; ky++) {
            const row = db + ((oy * stride + ky) * w + ox * stride) * c + ci;
            for (let kx = 0; kx < kw; kx++) {
              dx[row + kx * c] = fr(dx[row + kx * c] + d);
            }
          }
        }
      }
    }
  }
}

/**
 * The row loops of batch norm, where its time goes: conv-ref's JS here (JS_BN_LOOPS), the wasm
 * SIMD ones in ./wasm-bn.ts with the same arithmetic in the same order (float64 sums per
 * channel in row order; float32 elementwise steps). Arrays are channel-indexed from 0 unless an
 * offset is given; `f64(c, slot)` is scratch for c sums (slots 0–4 are distinct, valid until the
 * next batch-norm call).
 */
export interface BnLoops {
  f64(c: number, slot: number): Float64Array;
  /** out[ci] = Σ_r x[r, ci] (float64, rows in order) */
  sum(x: Float32Array, xOff: number, rows: number, c: number, out: Float64Array): void;
  /** out[ci] = Σ_r (x[r, ci] − mean[ci])² (float64, rows in order) */
  sqDev(x: Float32Array, xOff: number, rows: number, c: number, mean: Float32Array, out: Float64Array): void; // prettier-ignore
  /**
   * y = float32(float32(γ·xhat) + β), xhat = float32(float32(x − mean)·invstd); with `relu`,
   * then relu(y) as ./conv-ref's relu (a following ReLU fused: one pass, the same bits)
   */
  normalize(x: Float32Array, xOff: number, rows: number, c: number, mean: Float32Array, mOff: number, invstd: Float32Array, gamma: Float32Array, gOff: number, beta: Float32Array, bOff: number, y: Float32Array, yOff: number, relu?: boolean): void; // prettier-ignore
  /** sdy[ci] = Σ_r dy, sdyx[ci] = Σ_r dy·xhat (float64, rows in order) */
  gradSums(x: Float32Array, xOff: number, dy: Float32Array, dyOff: number, rows: number, c: number, mean: Float32Array, invstd: Float32Array, sdy: Float64Array, sdyx: Float64Array): void; // prettier-ignore
  /** dx = float32(k1·((dy − k2) − xhat·k3)) in float64 */
  gradDx(x: Float32Array, xOff: number, dy: Float32Array, dyOff: number, rows: number, c: number, mean: Float32Array, invstd: Float32Array, k1: Float64Array, k2: Float64Array, k3: Float64Array, dx: Float32Array, dxOff: number): void; // prettier-ignore
}

export const JS_BN_LOOPS: BnLoops = {
  f64: (c) => new Float64Array(c),
  sum(x, xOff, rows, c, out) {
    out.fill(0, 0, c);
    for (let r = 0; r < rows; r++) {
      const o = xOff + r * c;
      for (let ci = 0; ci < c; ci++) {
        out[ci] += x[o + ci];
      }
    }
  },
  sqDev(x, xOff, rows, c, mean, out) {
    out.fill(0, 0, c);
    for (let r = 0; r < rows; r++) {
      const o = xOff + r * c;
      for (let ci = 0; ci < c; ci++) {
        const d = x[o + ci] - mean[ci];
        out[ci] += d * d;
      }
    }
  },
  normalize(x, xOff, rows, c, mean, mOff, invstd, gamma, gOff, beta, bOff, y, yOff, relu = false) {
    for (let r = 0; r < rows; r++) {
      const o = r * c;
      for (let ci = 0; ci < c; ci++) {
        const xhat = fr(fr(x[xOff + o + ci] - mean[mOff + ci]) * invstd[ci]);
        const v = fr(fr(gamma[gOff + ci] * xhat) + beta[bOff + ci]);
        y[yOff + o + ci] = !relu || v > 0 || v !== v ? v : 0;
      }
    }
  },
  gradSums(x, xOff, dy, dyOff, rows, c, mean, invstd, sdy, sdyx) {
    sdy.fill(0, 0, c);
    sdyx.fill(0, 0, c);
    for (let r = 0; r < rows; r++) {
      const o = r * c;
      for (let ci = 0; ci < c; ci++) {
        const xhat = fr(fr(x[xOff + o + ci] - mean[ci]) * invstd[ci]);
        const d = dy[dyOff + o + ci];
        sdy[ci] += d;
        sdyx[ci] += d * xhat;
      }
    }
  },
  gradDx(x, xOff, dy, dyOff, rows, c, mean, invstd, k1, k2, k3, dx, dxOff) {
    for (let r = 0; r < rows; r++) {
      const o = r * c;
      for (let ci = 0; ci < c; ci++) {
        const xhat = fr(fr(x[xOff + o + ci] - mean[ci]) * invstd[ci]);
        dx[dxOff + o + ci] = fr(k1[ci] * (dy[dyOff + o + ci] - k2[ci] - xhat * k3[ci]));
      }
    }
  },
};

/** Batch-norm constants (PyTorch's defaults, so exported models predict the same there). */
export const BN_EPSILON = 1e-5;
/** running ← (1 − m)·running + m·batch, PyTorch's momentum 0.1 (Keras' 0.9 the other way round) */
export const BN_MOMENTUM = 0.1;

/**
 * Batch norm in training over rows × channels (rows = n·h·w): per channel the batch mean and
 * biased variance (float64 sums in row order, rounded once), invstd = float32(1/√(var + ε)),
 * y = float32(float32(γ·xhat) + β) with xhat = float32(float32(x − mean)·invstd). Also writes the
 * mean and invstd (for the backward pass) and the new running mean and (unbiased) variance.
 */
export function batchNormTrain(
  x: Float32Array,
  xOff: number,
  rows: number,
  c: number,
  gamma: Float32Array,
  gOff: number,
  beta: Float32Array,
  bOff: number,
  runMean: Float32Array,
  rmOff: number,
  runVar: Float32Array,
  rvOff: number,
  y: Float32Array,
  yOff: number,
  saved: { mean: Float32Array; invstd: Float32Array; newMean: Float32Array; newVar: Float32Array },
  loops: BnLoops = JS_BN_LOOPS,
  relu = false,
): void {
  const sum = loops.f64(c, 0);
  loops.sum(x, xOff, rows, c, sum);
  const mean = saved.mean;
  for (let ci = 0; ci < c; ci++) {
    mean[ci] = fr(sum[ci] / rows);
  }
  loops.sqDev(x, xOff, rows, c, mean, sum);
  const m = BN_MOMENTUM;
  for (let ci = 0; ci < c; ci++) {
    const v = sum[ci] / rows;
    saved.invstd[ci] = fr(1 / Math.sqrt(v + BN_EPSILON));
    const unbiased = rows > 1 ? sum[ci] / (rows - 1) : v;
    saved.newMean[ci] = fr(fr((1 - m) * runMean[rmOff + ci]) + fr(m * mean[ci]));
    saved.newVar[ci] = fr(fr((1 - m) * runVar[rvOff + ci]) + fr(m * fr(unbiased)));
  }
  loops.normalize(x, xOff, rows, c, mean, 0, saved.invstd, gamma, gOff, beta, bOff, y, yOff, relu); // prettier-ignore
}

/** Batch norm in inference: the running statistics instead of the batch's. */
export function batchNormInfer(
  x: Float32Array,
  xOff: number,
  rows: number,
  c: number,
  gamma: Float32Array,
  gOff: number,
  beta: Float32Array,
  bOff: number,
  runMean: Float32Array,
  rmOff: number,
  runVar: Float32Array,
  rvOff: number,
  y: Float32Array,
  yOff: number,
  relu = false,
): void {
  const invstd = new Float32Array(c);
  for (let ci = 0; ci < c; ci++) {
    invstd[ci] = fr(1 / Math.sqrt(runVar[rvOff + ci] + BN_EPSILON));
  }
  JS_BN_LOOPS.normalize(x, xOff, rows, c, runMean, rmOff, invstd, gamma, gOff, beta, bOff, y, yOff, relu); // prettier-ignore
}

/**
 * Batch-norm backward (training statistics): dβ = Σ dy, dγ = Σ dy·xhat (float64 in row order,
 * rounded once), dx = float32(γ·invstd·(dy − dβ/rows − xhat·dγ/rows)) evaluated in float64.
 */
export function batchNormGrad(
  x: Float32Array,
  xOff: number,
  dy: Float32Array,
  dyOff: number,
  rows: number,
  c: number,
  gamma: Float32Array,
  gOff: number,
  mean: Float32Array,
  invstd: Float32Array,
  dx: Float32Array | null,
  dxOff: number,
  dgamma: Float32Array,
  dgOff: number,
  dbeta: Float32Array,
  dbOff: number,
  loops: BnLoops = JS_BN_LOOPS,
): void {
  const sdy = loops.f64(c, 0);
  const sdyx = loops.f64(c, 1);
  loops.gradSums(x, xOff, dy, dyOff, rows, c, mean, invstd, sdy, sdyx);
  for (let ci = 0; ci < c; ci++) {
    dbeta[dbOff + ci] = fr(sdy[ci]);
    dgamma[dgOff + ci] = fr(sdyx[ci]);
  }
  if (dx === null) {
    return;
  }
  const k1 = loops.f64(c, 2);
  const k2 = loops.f64(c, 3);
  const k3 = loops.f64(c, 4);
  for (let ci = 0; ci < c; ci++) {
    k1[ci] = gamma[gOff + ci] * invstd[ci];
    k2[ci] = sdy[ci] / rows;
    k3[ci] = sdyx[ci] / rows;
  }
  loops.gradDx(x, xOff, dy, dyOff, rows, c, mean, invstd, k1, k2, k3, dx, dxOff);
}

/** out = float32(a + b), elementwise; with `relu`, relu of that (a following ReLU fused). */
export function add(
  a: Float32Array,
  aOff: number,
  b: Float32Array,
  bOff: number,
  out: Float32Array,
  oOff: number,
  count: number,
  relu = false,
): void {
  for (let i = 0; i < count; i++) {
    const v = fr(a[aOff + i] + b[bOff + i]);
    out[oOff + i] = !relu || v > 0 || v !== v ? v : 0;
  }
}

/** out = x > 0 ? x : 0 (NaN stays NaN, as in the GEMM's fused ReLU). */
export function relu(
  x: Float32Array,
  xOff: number,
  out: Float32Array,
  oOff: number,
  count: number,
): void {
  for (let i = 0; i < count; i++) {
    const v = x[xOff + i];
    out[oOff + i] = v > 0 || v !== v ? v : 0;
  }
}

/** out = float32(x · mask), elementwise (dropout forward and backward). */
export function mul(
  x: Float32Array,
  xOff: number,
  mask: Float32Array,
  mOff: number,
  out: Float32Array,
  oOff: number,
  count: number,
): void {
  for (let i = 0; i < count; i++) {
    out[oOff + i] = fr(x[xOff + i] * mask[mOff + i]);
  }
}
