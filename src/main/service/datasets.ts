/**
 * The user's own datasets as a service (CLI `data add|ls|rm`, the GUI's dataset list): files are
 * read and checked (../engine/dataset-files.ts), encoded as one object (../engine/stored-dataset.ts)
 * and stored under a name (../store/datasets.ts). Nothing is written unless the files are valid
 * and the name is free (or already holds the same data: then nothing changes).
 */
import { readDatasetFiles, type DatasetFilesOptions } from '../engine/dataset-files';
import { encodeDatasetObject } from '../engine/stored-dataset';
import { InputError } from '../engine/types';
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

export interface AddDatasetOptions extends DatasetFilesOptions {
  /** refuse (nothing written) unless the stored data's digest is this one */
  digest?: string;
}

/**
 * Reads `path` and stores it as dataset `name`; `created` is false when it was there already.
 * With `opts.digest`, data with any other digest is refused (InputError) before anything is
 * written: how a job's task checks the dataset copy it was given.
 */
export async function addDatasetFromFiles(
  store: Store,
  name: string,
  path: string,
  opts: AddDatasetOptions = {},
): Promise<{ record: DatasetRecord; created: boolean }> {
  const problem = datasetNameProblem(name);
  if (problem !== null) {
    throw new RefError(`invalid dataset name: ${problem}`);
  }
  const { digest, ...fileOpts } = opts;
  const files = readDatasetFiles(path, fileOpts);
  const data = encodeDatasetObject(files.parts);
  const record = datasetRecord(name, files.kind, data, files.files);
  if (digest !== undefined && record.digest !== digest) {
    throw new InputError(
      `${path} holds data with digest ${record.digest.slice(0, 12)}…, not the expected ${digest.slice(0, 12)}…: refused`,
    );
  }
  return addDataset(store, record, data);
}

export { listDatasets, removeDataset };
