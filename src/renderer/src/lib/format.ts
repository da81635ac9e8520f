/** Small formatters shared by the views. Pure. */
import type { EvalResult, TrainingConfig } from '../../../shared/training';

/** First 12 hex digits of a checkpoint id. */
export function short(id: string): string {
  return id.slice(0, 12);
}

/** 1234567 → "1,234,567". */
export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A precision in [0,1] as a percentage with two decimals. */
export function pct(p: number | undefined): string {
  return p === undefined ? '—' : `${(p * 100).toFixed(2)}%`;
}

/** A loss with 4 significant digits. */
export function loss(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : v.toPrecision(4);
}

/** Seconds as "1h 02m", "3m 05s" or "12s". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) {
    return '—';
  }
  const s = Math.round(seconds);
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  }
  if (s >= 60) {
    return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  }
  return `${s}s`;
}

/** Bytes as "1.2 MB". */
export function bytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** "mlp 128,32 · sgd lr 0.01 · batch 100 · seed 7 · wasm" */
export function configLine(c: TrainingConfig): string {
  const model = c.model.kind === 'mlp' ? `mlp ${c.model.hidden.join(',')}` : c.model.kind;
  return `${c.dataset} · ${model} · ${c.optimizer.kind} lr ${c.optimizer.lr} · batch ${c.batchSize} · seed ${c.seed} · ${c.backend}`;
}

/** "test 91.78% · validation 91.50%" for whichever splits are present. */
export function evalLine(e: EvalResult | undefined): string {
  if (!e) {
    return '—';
  }
  const parts: string[] = [];
  for (const split of ['train', 'validation', 'test'] as const) {
    const s = e[split];
    if (s) {
      parts.push(`${split} ${pct(s.precision)}`);
    }
  }
  return parts.length > 0 ? parts.join(' · ') : '—';
}

/** A long name cut in the middle ("mnist-mlp…-s239097032-lr0.1"), keeping what tells it apart. */
export function middle(name: string, max = 28): string {
  if (name.length <= max) {
    return name;
  }
  const tail = Math.ceil((max - 1) * 0.55);
  return `${name.slice(0, max - 1 - tail)}…${name.slice(name.length - tail)}`;
}

/** "mlp 16,8" or "softmax". */
export function modelLine(c: TrainingConfig): string {
  return c.model.kind === 'mlp' ? `mlp ${c.model.hidden.join(',')}` : c.model.kind;
}

/**
 * What a branch's config changes from its parent's, e.g. "lr 0.01 → 0.1 @ 1,000" or
 * "sgd → adam, lr 0.1 → 0.01 @ 200"; "same config @ 1,000" when nothing changed.
 */
export function configDiff(
  parent: TrainingConfig,
  child: TrainingConfig,
  at: number | null,
): string {
  const parts: string[] = [];
  if (parent.optimizer.kind !== child.optimizer.kind) {
    parts.push(`${parent.optimizer.kind} → ${child.optimizer.kind}`);
  }
  if (parent.optimizer.lr !== child.optimizer.lr) {
    parts.push(`lr ${parent.optimizer.lr} → ${child.optimizer.lr}`);
  }
  if (parent.batchSize !== child.batchSize) {
    parts.push(`batch ${parent.batchSize} → ${child.batchSize}`);
  }
  // a GAN's discriminator has its own optimizer (absent: the same as the generator's)
  const pd = parent.discriminatorOptimizer;
  const cd = child.discriminatorOptimizer;
  if (pd !== undefined && cd !== undefined) {
    if (pd.kind !== cd.kind) {
      parts.push(`D ${pd.kind} → ${cd.kind}`);
    }
    if (pd.lr !== cd.lr) {
      parts.push(`D lr ${pd.lr} → ${cd.lr}`);
    }
  }
  const where = at === null ? '' : ` @ ${int(at)}`;
  return (parts.length > 0 ? parts.join(', ') : 'same config') + where;
}

/** The hyperparameters that shape updates: "sgd lr 0.1 · batch 32". */
export function hyperLine(c: TrainingConfig): string {
  return `${c.optimizer.kind} lr ${c.optimizer.lr} · batch ${c.batchSize}`;
}
