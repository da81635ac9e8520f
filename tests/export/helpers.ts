/**
 * Helpers for the export tests: load an exported tfjs LayersModel from a folder on disk (what
 * `tf.loadLayersModel('file://…')` does with tfjs-node, which these machines do not have).
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/** Loads model.json and its weight files through tfjs's own artifact parser. */
export async function loadFromDir(modelJsonPath: string): Promise<tfl.LayersModel> {
  const modelJson = JSON.parse(await readFile(modelJsonPath, 'utf8')) as tf.io.ModelJSON;
  const handler: tf.io.IOHandler = {
    load: () =>
      tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: Buffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            buffers.push(await readFile(join(dirname(modelJsonPath), p)));
          }
        }
        const all = Buffer.concat(buffers);
        return [specs, all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength)];
      }),
  };
  return tfl.loadLayersModel(handler);
}
