/**
 * Bench section "GEMM throughput" (listed in ./bench.ts's BENCH_SECTIONS): the multiply-adds per
 * second of our packed dense GEMM (gemmP, the tile of the convolutions and dense layers; one
 * thread, in a fresh process, ./worker.ts's `gemm` job) on one shape, and of its native twin
 * where it runs (AVX2 or AVX-512, the same bits; or why not), and with --peer those of
 * torch.mm on the same shape (scripts/peers/torch_gemm.py, one thread, with the BLAS kernels
 * ./peer.ts chose), and their ratio. No goal: it says what a compute-bound network's ratio to
 * the peer is made of on this machine. Our tile multiplies and adds in two roundings on 128-bit
 * vectors, which gives the same bits on every machine; a BLAS uses fused multiply-adds on the
 * widest vectors the CPU has. Measured on an Intel Xeon of model 207 (AVX-512): ours 15.3–15.9
 * GMAC/s, torch.mm 59–62 (SkylakeX kernels); resnet20 ran 3.2–3.5× the peer's time there. The
 * ratio is taken against the kernel training runs: the native one where it runs.
 *
 * Ours and the peer alternate for three rounds (one with --quick), each pinned to the fastest
 * core as the other one-thread comparisons are (./cores.ts); the rows give the median of the
 * rounds' best rates, and the ratio the median of the rounds' ratios.
 */
import { runWorker, type BenchContext, type ExtraRow, type ExtraSection } from './bench';
import { pinToFastestCore } from './cores';
import { peerBlas, peerBlasEnv, peerUnavailable, torchMmRate } from './peer';
import { median, type GemmResult } from './worker';

export const GEMM_RATE_TITLE = 'GEMM throughput (float32, one thread)';

/** How the report names an instruction set of the native kernels. */
export function isaName(isa: string): string {
  return isa === 'avx512' ? 'AVX-512' : isa === 'avx2' ? 'AVX2' : isa;
}

/** The shape timed (m × n × k): a 3×3 convolution of 64 channels over 4096 pixels, as a GEMM. */
export const GEMM_RATE_SHAPE: [number, number, number] = [4096, 64, 576];

export async function gemmRateSection(ctx: BenchContext): Promise<ExtraSection> {
  const shape = GEMM_RATE_SHAPE;
  const rounds = ctx.quick ? 1 : 3;
  const reps = ctx.quick ? 5 : 15;
  const name = shape.join('×');
  const ours: GemmResult[] = [];
  const peer: number[] = [];
  let version = '';
  let peerMissing: string | null = ctx.peer ? null : 'run with --peer';
  for (let round = 0; round < rounds; round++) {
    ctx.log(`gemm: ${name}, ours${peerMissing === null ? ' then torch.mm' : ''}, one thread, round ${round + 1} of ${rounds}`); // prettier-ignore
    await pinToFastestCore(`gemm, round ${round + 1}`, ctx.log);
    ours.push(await runWorker<GemmResult>({ kind: 'gemm', shape, reps }));
    if (peerMissing === null) {
      const p = peerUnavailable() ?? torchMmRate(ctx.repoRoot, shape.join('x'), reps, peerBlasEnv(ctx.repoRoot)); // prettier-ignore
      if (typeof p === 'string') {
        peerMissing = p;
      } else {
        peer.push(p.best);
        version = p.version;
      }
    }
  }
  const list = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join(', ');
  const of = (xs: number[]): string => (rounds > 1 ? `median of rounds ${list(xs)}; ` : '');
  const best = ours.map((r) => r.best);
  const rows: ExtraRow[] = [
    {
      label: `ours: packed dense GEMM ${name} (wasm)`,
      value: median(best),
      unit: 'GMAC/s',
      note: `${of(best)}best of ${reps} products; multiply and add rounded separately on 128-bit vectors, the same bits on every machine`, // prettier-ignore
    },
  ];
  // training runs the native twin where it is built (the same bits): the peer is set against it
  const nativeBest = ours.map((r) => r.native?.best ?? NaN);
  const native = ours.every((r) => r.native !== null);
  rows.push(
    native
      ? { label: `ours: native dense GEMM ${name} (${isaName(ours[0].native!.isa)})`, value: median(nativeBest), unit: 'GMAC/s', note: `${of(nativeBest)}best of ${reps} products; the same operations on ${ours[0].native!.isa === 'avx512' ? 512 : 256}-bit vectors, checked bit for bit against the wasm GEMM; what training runs here` } // prettier-ignore
      : { label: `ours: native dense GEMM ${name}`, value: NaN, unit: 'GMAC/s', note: `not run: ${ours[0]?.detail ?? 'no round'}` }, // prettier-ignore
  );
  const used = native ? nativeBest : best;
  if (peerMissing !== null && ctx.peer) {
    rows.push({ label: `peer: torch.mm ${name}`, value: NaN, unit: 'GMAC/s', note: `not run: ${peerMissing}` }); // prettier-ignore
  } else if (peer.length > 0) {
    const blas = peerBlas(ctx.repoRoot);
    const kernels = blas.detected === null ? '' : `; OpenBLAS core ${blas.coretype ?? blas.detected}${blas.coretype ? ' (OPENBLAS_CORETYPE, see the notes)' : ''}`; // prettier-ignore
    const ratios = peer.map((p, i) => p / used[i]);
    rows.push(
      { label: `peer: torch.mm ${name} (torch ${version})`, value: median(peer), unit: 'GMAC/s', note: `${of(peer)}best of ${reps} products${kernels}` }, // prettier-ignore
      { label: 'peer ÷ ours', value: median(ratios), unit: '×', note: `${rounds > 1 ? `median of rounds ${ratios.map((x) => x.toFixed(2)).join(', ')}; ` : ''}torch.mm's rate over ours (${native ? 'native' : 'wasm'}, as training runs it): what our kernels give away per multiply-add` }, // prettier-ignore
    );
  }
  return { title: GEMM_RATE_TITLE, rows };
}
