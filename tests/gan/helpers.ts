/** The small gan config of the gan tests (fake data, tiny nets, adam with β1 0.5 in both). */
import type { TrainingConfig } from '../../src/main/engine/types';
import { fakeConfig } from '../helpers/fixtures';

export function ganConfig(over: Partial<TrainingConfig> = {}): TrainingConfig {
  return fakeConfig({
    model: { kind: 'gan', hidden: [], gan: { noiseDims: 8, generator: [16], discriminator: [16] } },
    optimizer: { kind: 'adam', lr: 0.001, beta1: 0.5 },
    discriminatorOptimizer: { kind: 'adam', lr: 0.002, beta1: 0.5 },
    batchSize: 40,
    ...over,
  });
}
