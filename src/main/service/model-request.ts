/**
 * The model config of a start (or study) request: `hidden` only for mlp, `layers` only for a
 * `layers` model, so every other kind keeps the canonical config it always had.
 */
import type { StartRunRequest } from '../../shared/contract';
import type { ModelConfig } from '../engine/types';

export function modelOfRequest(
  req: Pick<StartRunRequest, 'model' | 'hidden' | 'layers'>,
): ModelConfig {
  const model: ModelConfig = {
    kind: req.model,
    hidden: req.model === 'mlp' ? [...req.hidden] : [],
  };
  if (req.model === 'layers' && req.layers !== undefined) {
    model.layers = req.layers;
  }
  return model;
}
