/**
 * The `--layers` grammar for custom stacks, and the presets written in it.
 *
 *   spec  := item ( "," item )*
 *   item  := "conv:" F "x" K [ "/" S ] [ ":" ( "same" | "valid" | P ) ]
 *                          F filters of K×K, stride S (default 1), padding 'same' (TensorFlow's:
 *                          output ⌈in/S⌉, default), 'valid' (none) or P zero pixels on every side
 *          | "dense:" N    N units (an image input is flattened first)
 *          | "maxpool:" K [ "/" S ] | "avgpool:" K [ "/" S ]   K×K windows, stride S (default K)
 *          | "gap"         global average pooling (one value per channel)
 *          | "flatten" | "relu" | "bn" (batch norm)
 *          | "dropout:" R  drop rate 0 ≤ R < 1 (inverted dropout, masks from dropout/<step>/<layer>)
 *          | "res:" F [ "/" S ]  a basic residual block: conv3×3/S–bn–relu–conv3×3–bn, plus x (or a
 *                          1×1/S conv + bn projection when S ≠ 1 or the channels change), then relu
 *
 * Whitespace is ignored. The stack is always followed by a dense layer to the classes, named
 * `logits`. Every error names the offending item and what was expected.
 */
import { InputError } from './types';

export type LayerItem =
  | {
      kind: 'conv';
      filters: number;
      kernel: number;
      stride: number;
      pad: 'same' | 'valid' | number;
    }
  | { kind: 'dense'; units: number }
  | { kind: 'maxpool' | 'avgpool'; size: number; stride: number }
  | { kind: 'gap' | 'flatten' | 'relu' | 'bn' }
  | { kind: 'dropout'; rate: number }
  | { kind: 'res'; filters: number; stride: number };

/** The presets as specs (the final `logits` dense layer is implied). */
export const PRESET_SPECS = {
  /** LeNet-5 as in the peer (scripts/peers/torch_cnn.py): 28×28×1 → 10 */
  lenet5:
    'conv:6x5:2,relu,maxpool:2,conv:16x5:valid,relu,maxpool:2,flatten,dense:120,relu,dense:84,relu',
  /** CIFAR ResNet-20 (He et al. 2016) with 1×1 projection shortcuts, as in the peer */
  resnet20:
    'conv:16x3:1,bn,relu,res:16,res:16,res:16,res:32/2,res:32,res:32,res:64/2,res:64,res:64,gap',
} as const;

export const SPEC_LIMITS = {
  maxItems: 64,
  maxUnits: 4096,
  maxFilters: 1024,
  maxKernel: 15,
  maxStride: 8,
  maxPad: 8,
};

const SYNTAX =
  'expected conv:FxK[/S][:same|valid|P], dense:N, maxpool:K[/S], avgpool:K[/S], gap, flatten, relu, bn, dropout:R or res:F[/S]';

function int(s: string | undefined, what: string, item: string, min: number, max: number): number {
  if (s === undefined || !/^\d+$/.test(s) || Number(s) < min || Number(s) > max) {
    throw new InputError(`layer '${item}': ${what} must be an integer from ${min} to ${max}`);
  }
  return Number(s);
}

/** Parses a spec into items; InputError with the offending item on anything invalid. */
export function parseLayerSpec(spec: string): LayerItem[] {
  const text = spec.replace(/\s+/g, '');
  if (text === '') {
    throw new InputError(`--layers is empty: ${SYNTAX}`);
  }
  const items = text.split(',');
  if (items.length > SPEC_LIMITS.maxItems) {
    throw new InputError(`--layers has ${items.length} items; at most ${SPEC_LIMITS.maxItems}`);
  }
  const L = SPEC_LIMITS;
  return items.map((item): LayerItem => {
    const [head, ...rest] = item.split(':');
    const arg = rest[0];
    const noArgs = (): void => {
      if (rest.length > 0) {
        throw new InputError(`layer '${item}': ${head} takes no arguments`);
      }
    };
    switch (head) {
      case 'conv': {
        const m = /^(\d+)x(\d+)(?:\/(\d+))?$/.exec(arg ?? '');
        if (!m || rest.length > 2) {
          throw new InputError(`layer '${item}': expected conv:FxK[/S][:same|valid|P], e.g. conv:32x3 or conv:16x3/2:1`); // prettier-ignore
        }
        const p = rest[1] ?? 'same';
        const pad = p === 'same' || p === 'valid' ? p : int(p, 'padding', item, 0, L.maxPad);
        return {
          kind: 'conv',
          filters: int(m[1], 'filters', item, 1, L.maxFilters),
          kernel: int(m[2], 'kernel size', item, 1, L.maxKernel),
          stride: int(m[3] ?? '1', 'stride', item, 1, L.maxStride),
          pad,
        };
      }
      case 'dense':
        if (rest.length !== 1) {
          throw new InputError(`layer '${item}': expected dense:N`);
        }
        return { kind: 'dense', units: int(arg, 'units', item, 1, L.maxUnits) };
      case 'maxpool':
      case 'avgpool': {
        const m = /^(\d+)(?:\/(\d+))?$/.exec(arg ?? '');
        if (!m || rest.length !== 1) {
          throw new InputError(`layer '${item}': expected ${head}:K[/S], e.g. ${head}:2`);
        }
        const size = int(m[1], 'window size', item, 1, L.maxKernel);
        return { kind: head, size, stride: int(m[2] ?? m[1], 'stride', item, 1, L.maxStride) };
      }
      case 'gap':
      case 'flatten':
      case 'relu':
      case 'bn':
        noArgs();
        return { kind: head };
      case 'dropout': {
        const r = Number(arg);
        if (rest.length !== 1 || arg === '' || !Number.isFinite(r) || r < 0 || r >= 1) {
          throw new InputError(
            `layer '${item}': expected dropout:R with 0 ≤ R < 1, e.g. dropout:0.5`,
          );
        }
        return { kind: 'dropout', rate: r };
      }
      case 'res': {
        const m = /^(\d+)(?:\/(\d+))?$/.exec(arg ?? '');
        if (!m || rest.length !== 1) {
          throw new InputError(`layer '${item}': expected res:F[/S], e.g. res:32/2`);
        }
        return {
          kind: 'res',
          filters: int(m[1], 'filters', item, 1, L.maxFilters),
          stride: int(m[2] ?? '1', 'stride', item, 1, L.maxStride),
        };
      }
      default:
        throw new InputError(`layer '${item}': unknown layer '${head}'; ${SYNTAX}`);
    }
  });
}
