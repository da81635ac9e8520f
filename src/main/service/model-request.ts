/**
 * The training config of a start (or study) request, built in one place for the service, the CLI
 * and the study:
 * - `hidden` only for mlp, `layers` only for a `layers` model, `gan` (GAN_DEFAULTS unless given)
 *   only for a `gan` model, so every other kind keeps the canonical config it always had;
 * - a gan's `optimizer`/`lr` are the generator's and `discriminatorOptimizer` has the same kind
 *   with `dLr` (default: `lr`); Adam gets β1 = GAN_ADAM_BETA1 in both networks of a gan;
 * - `shuffle` and `augment` only when given (the per-epoch shuffle is the default).
 */
import type { StartRunRequest } from '../../shared/contract';
import { GAN_ADAM_BETA1, GAN_DEFAULTS } from '../../shared/training';
import type { ModelConfig, OptimizerConfig, TrainingConfig } from '../engine/types';

export function modelOfRequest(
  req: Pick<StartRunRequest, 'model' | 'hidden' | 'layers' | 'gan'>,
): ModelConfig {
  const model: ModelConfig = {
    kind: req.model,
    hidden: req.model === 'mlp' ? [...req.hidden] : [],
  };
  if (req.model === 'layers' && req.layers !== undefined) {
    model.layers = req.layers;
  }
  if (req.model === 'gan') {
    const g = req.gan ?? GAN_DEFAULTS;
    model.gan = { noiseDims: g.noiseDims, generator: [...g.generator], discriminator: [...g.discriminator] }; // prettier-ignore
  }
  return model;
}

/** The training config of a start request with its resolved seed. */
export function configOfRequest(
  req: Omit<StartRunRequest, 'seed' | 'branch' | 'steps' | 'checkpointEvery' | 'evalEvery'>,
  seed: number,
): TrainingConfig {
  const gan = req.model === 'gan';
  const opt = (lr: number): OptimizerConfig =>
    gan && req.optimizer === 'adam'
      ? { kind: 'adam', lr, beta1: GAN_ADAM_BETA1 }
      : { kind: req.optimizer, lr };
  return {
    dataset: req.dataset,
    model: modelOfRequest(req),
    ...(req.augment ? { augment: { ...req.augment } } : {}),
    ...(req.shuffle ? { shuffle: { ...req.shuffle } } : {}),
    optimizer: opt(req.lr),
    ...(gan ? { discriminatorOptimizer: opt(req.dLr ?? req.lr) } : {}),
    batchSize: req.batchSize,
    seed,
    backend: req.backend,
  };
}
