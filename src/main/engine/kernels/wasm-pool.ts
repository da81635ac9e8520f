/**
 * Max pooling in WebAssembly (functions of ./wasm-module.ts), the bit-exact twins of conv-ref's
 * maxPool and maxPoolGrad: NHWC, no padding, pointers in bytes.
 *
 * Channels go four at a time; the last c mod 4 of them (c ≥ 4) in one vector that overlaps the
 * one before (its shared lanes are stored again unchanged, and the gradient skips them); fewer
 * than four channels one at a time.
 *
 * - maxPool(x, y, n, h, w, c, kh, kw, stride, oh, ow): each output is the window's first value,
 *   replaced by each later value (in (ky, kx) order) that is greater — so a NaN first value
 *   stays and later NaNs are never taken, exactly as `if (v > best) best = v`.
 * - maxPoolGrad(x, dy, dx, n, h, w, c, kh, kw, stride, oh, ow): dx = 0, then for each output in
 *   order (b, oy, ox, ci), dx[argmax] += dy, the argmax chosen by the same rule. Lanes hold
 *   different channels, so no two lanes add into the same element, and overlapping windows add
 *   in output order.
 */
import { FnBuilder, type ValType } from './wasm-asm';

const P = { x: 0, n: 2, h: 3, w: 4, c: 5, kh: 6, kw: 7, stride: 8, oh: 9, ow: 10 };

/**
 * maxPool (grad = false) or maxPoolGrad (grad = true; `zero` is the index of the module's
 * zero(dst, _, count) function). Parameters shift by one in the gradient (dy before dx).
 */
export function maxPoolFn(grad: boolean, zero: number): FnBuilder {
  const f = new FnBuilder(grad ? 'maxPoolGrad' : 'maxPool', new Array<ValType>(grad ? 12 : 11).fill('i32')); // prettier-ignore
  const q = grad ? 1 : 0;
  const [X, DY, DX, Y] = [0, 1, 2, 1];
  const n = P.n + q, h = P.h + q, w = P.w + q, c = P.c + q, kh = P.kh + q, kw = P.kw + q, stride = P.stride + q, oh = P.oh + q, ow = P.ow + q; // prettier-ignore
  const [b, oy, ox, ky, kx, cib, cEnd, cb, rowb, imgb, xb, db, o, base, p, at, skip] = Array.from({ length: 17 }, () => f.local('i32')); // prettier-ignore
  const [best, v, mask, atv, lanes] = Array.from({ length: 5 }, () => f.local('v128'));
  const [sbest, sv] = [f.local('f32'), f.local('f32')];
  f.get(c).i32(4).i32Mul().set(cb);
  f.get(w).get(cb).i32Mul().set(rowb);
  f.get(h).get(rowb).i32Mul().set(imgb);
  f.get(c).i32(-4).i32And().i32(4).i32Mul().set(cEnd);
  // byte offsets of the four lanes
  f.v128Zero();
  for (let l = 1; l < 4; l++) {
    f.i32(4 * l).i32x4ReplaceLane(l);
  }
  f.set(lanes);
  if (grad) {
    f.get(DX).i32(0).get(n).get(h).i32Mul().get(w).i32Mul().get(c).i32Mul().call(zero);
  }
  f.get(grad ? DY : Y).set(o);
  f.get(X).set(xb);
  f.get(grad ? DX : X).set(db);
  f.forRange(b, n, () => {
    f.forRange(oy, oh, () => {
      f.forRange(ox, ow, () => {
        // base = (oy·s·w + ox·s)·c·4, the window's first element within the image
        f.get(oy).get(stride).i32Mul().get(w).i32Mul().get(ox).get(stride).i32Mul().i32Add();
        f.get(cb).i32Mul().set(base);
        // p = base + ky·rowb + kx·cb + cib, for every window element in order
        const window = (each: () => void): void => {
          f.forRange(ky, kh, () => {
            f.forRange(kx, kw, () => {
              f.get(base).get(ky).get(rowb).i32Mul().i32Add();
              f.get(kx).get(cb).i32Mul().i32Add().get(cib).i32Add().set(p);
              each();
            });
          });
        };
        // channels cib…cib+3 in the lanes of one vector; the gradient adds only lanes ≥ skip
        const vector = (): void => {
          f.get(xb).get(base).i32Add().get(cib).i32Add().v128Load().set(best);
          if (grad) {
            f.get(base).get(cib).i32Add().i32x4Splat().get(lanes).i32x4Add().set(atv);
          }
          window(() => {
            f.get(xb).get(p).i32Add().v128Load().set(v);
            f.get(v).get(best).f32x4Gt().set(mask);
            f.get(v).get(best).get(mask).v128Bitselect().set(best);
            if (grad) {
              f.get(p)
                .i32x4Splat()
                .get(lanes)
                .i32x4Add()
                .get(atv)
                .get(mask)
                .v128Bitselect()
                .set(atv);
            }
          });
          if (grad) {
            for (let l = 0; l < 4; l++) {
              f.i32(l).get(skip).i32GeS().if();
              f.get(db).get(atv).i32x4ExtractLane(l).i32Add().set(at);
              f.get(at)
                .get(at)
                .f32Load()
                .get(o)
                .f32Load(4 * l)
                .f32Add()
                .f32Store();
              f.end();
            }
          } else {
            f.get(o).get(best).v128Store();
          }
          f.inc(o, 16);
        };
        // four channels at a time
        f.i32(0).set(skip);
        f.i32(0).set(cib);
        f.block().loop();
        f.get(cib).get(cEnd).i32GeS().brIf(1);
        vector();
        f.inc(cib, 16).br(0);
        f.end().end();
        // the last c mod 4 channels, when c ≥ 4: one more vector over channels c−4…c−1. The
        // lanes it shares with the previous vector get the same maxima (the same values compared
        // in the same order) and are stored again unchanged; the gradient skips them, so each
        // output still adds once, channels in order
        f.get(c).i32(4).i32GeS().get(cib).get(c).i32(4).i32Mul().i32LtS().i32And().if();
        f.i32(4).get(c).i32(3).i32And().i32Sub().set(skip);
        f.get(c).i32(4).i32Mul().i32(16).i32Sub().set(cib);
        f.get(o).get(skip).i32(4).i32Mul().i32Sub().set(o);
        vector();
        f.get(c).i32(4).i32Mul().set(cib);
        f.end();
        // the other channels one at a time
        f.block().loop();
        f.get(cib).get(c).i32(4).i32Mul().i32GeS().brIf(1);
        f.get(base).get(cib).i32Add().set(at);
        f.get(xb).get(at).i32Add().f32Load().set(sbest);
        window(() => {
          f.get(xb).get(p).i32Add().f32Load().set(sv);
          f.get(sv).get(sbest).f32Gt().if();
          f.get(sv).set(sbest);
          f.get(p).set(at);
          f.end();
        });
        if (grad) {
          f.get(db).get(at).i32Add().set(at);
          f.get(at).get(at).f32Load().get(o).f32Load().f32Add().f32Store();
        } else {
          f.get(o).get(sbest).f32Store();
        }
        f.inc(o, 4);
        f.inc(cib, 4).br(0);
        f.end().end();
      });
    });
    f.incBy(xb, imgb);
    if (grad) {
      f.incBy(db, imgb);
    }
  });
  return f;
}
