/** The README.txt written into every bundle: what the file is and how to check it. */
import type { BundleManifest } from './format';

export function bundleReadme(m: BundleManifest, fileName: string): string {
  const what =
    m.kind === 'run'
      ? `the whole run ${m.runs.map((r) => r.id).join(', ')} with its branches`
      : m.kind === 'branch'
        ? `the branch ${m.branches.map((b) => b.name).join(', ')} with its lineage from step 0`
        : `one checkpoint and its lineage from step 0 (ref ${m.ref})`;
  const steps = Math.max(...m.nodes.map((n) => n.step));
  return [
    'Lockstep run bundle',
    '===================',
    '',
    `This file holds ${what}: ${m.nodes.length} checkpoints up to step ${steps},`,
    'with the configs, seeds, dataset digests and backend fingerprints needed to replay them.',
    `Written by ${m.app.name} ${m.app.version} (bundle format ${m.format}).`,
    '',
    'Layout (a zip archive):',
    '  manifest.json   the run graph (runs, branches, checkpoints), versions and a list of objects',
    '  objects/<id>    content-addressed objects: <id> is the SHA-256 of the bytes. Checkpoint',
    '                  manifests (canonical JSON; the id is the stateHash), tensor blobs',
    '                  (safetensors, little-endian float32) and per-step trace segments (JSON).',
    '',
    'Verify it: replay every checkpoint from its parent and compare the bits (nothing is',
    'added to your store):',
    '',
    `  npx lockstep verify ${fileName}`,
    '',
    'Import it into your store (objects dedupe; a branch name that is taken gets a new name):',
    '',
    `  npx lockstep import ${fileName}`,
    '',
    'Bitwise replay is promised on the same backend fingerprint (see manifest.json "backends").',
    '',
  ].join('\n');
}
