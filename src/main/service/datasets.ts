/**
 * The user's own datasets as a service (CLI `data add|ls|rm`, the GUI's dataset list): files are
 * read and checked (../engine/dataset-files.ts), encoded as one object (../engine/stored-dataset.ts)
 * and stored under a name (../store/datasets.ts). Nothing is written unless the files are valid
 * and the name is free (or already holds the same data: then nothing changes).
 */
import { readDatasetFiles, type DatasetFilesOptions } from '../engine/dataset-files';
import { encodeDatasetObject } from '../engine/stored-dataset';
import {
  addDataset,
  datasetNameProblem,
  datasetRecord,
  listDatasets,
  removeDataset,
  type DatasetRecord,
} from '../store/datasets';
import { RefError } from '../store/api';
import type { Store } from '../store/store';

export type { DatasetRecord };

/** Reads `path` and stores it as dataset `name`; `created` is false when it was there already. */
export async function addDatasetFromFiles(
  store: Store,
  name: string,
  path: string,
  opts: DatasetFilesOptions = {},
): Promise<{ record: DatasetRecord; created: boolean }> {
  const problem = datasetNameProblem(name);
  if (problem !== null) {
    throw new RefError(`invalid dataset name: ${problem}`);
  }
  const files = readDatasetFiles(path, opts);
  const data = encodeDatasetObject(files.parts);
  return addDataset(store, datasetRecord(name, files.kind, data, files.files), data);
}

export { listDatasets, removeDataset };
