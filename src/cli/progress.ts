/**
 * Progress for long training: on a terminal, a bar with steps/s, ETA and the loss (cli-progress,
 * on stderr); otherwise Mechanics 101's status line every 100 steps: `Step 100: loss = 2.30
 * (4.1 ms/step)`. In --json mode status lines go to stderr so stdout stays machine-readable.
 */
import { createRequire } from 'node:module';
import type * as CliProgress from 'cli-progress';

/**
 * cli-progress (with its emoji tables, ~27 KB), loaded when a bar is first drawn on a terminal:
 * every other start (scripts, CI, --json, commands with no progress) does without it.
 */
export function cliProgress(): typeof CliProgress {
  return createRequire(import.meta.url)('cli-progress') as typeof CliProgress;
}

export interface Progress {
  start(fromStep: number, toStep: number): void;
  /** `gLoss`: a gan's generator loss (`loss` is then the discriminator's) */
  step(step: number, loss: number, gLoss?: number): void;
  stop(): void;
}

export const STATUS_EVERY = 100;

export function createProgress(json: boolean): Progress {
  if (process.stderr.isTTY && !process.env.CI) {
    return barProgress();
  }
  return lineProgress(json ? process.stderr : process.stdout);
}

function barProgress(): Progress {
  const { SingleBar, Presets } = cliProgress();
  const bar = new SingleBar(
    {
      format:
        ' {bar} {percentage}% | step {value}/{total} | {rate} steps/s | ETA {eta_formatted} | loss {loss}',
      hideCursor: true,
      etaBuffer: 200,
      fps: 10,
      stream: process.stderr,
    },
    Presets.shades_classic,
  );
  let from = 0;
  let t0 = 0;
  return {
    start(fromStep, toStep) {
      from = fromStep;
      t0 = performance.now();
      bar.start(toStep, fromStep, { rate: '-', loss: '-' });
    },
    step(step, loss) {
      const rate = ((step - from) / ((performance.now() - t0) / 1000)).toFixed(0);
      bar.update(step, { rate, loss: loss.toFixed(4) });
    },
    stop() {
      bar.stop();
    },
  };
}

function lineProgress(out: NodeJS.WritableStream): Progress {
  let t = 0;
  let last = 0;
  return {
    start(fromStep) {
      t = performance.now();
      last = fromStep;
    },
    step(step, loss, gLoss) {
      if (step % STATUS_EVERY === 0) {
        const now = performance.now();
        const ms = (now - t) / Math.max(1, step - last);
        const losses =
          gLoss === undefined
            ? `loss = ${loss.toFixed(2)}`
            : `d_loss = ${loss.toFixed(4)}, g_loss = ${gLoss.toFixed(4)}`;
        out.write(`Step ${step}: ${losses} (${ms.toFixed(1)} ms/step)\n`);
        t = now;
        last = step;
      }
    },
    stop() {},
  };
}
