/**
 * Ref resolution (DESIGN.md "Refs"). A ref names one checkpoint:
 * - a full checkpoint id (64 hex digits, any case);
 * - a branch name: the branch's tip (a branch name wins over a hex prefix that looks the same);
 * - a unique prefix of at least 8 hex digits of a checkpoint id; an ambiguous prefix is a
 *   RefError listing the candidates;
 * - `branch@N`: the checkpoint at step N on the branch's lineage (walking parents from its tip,
 *   so steps inherited from the branch it forked from count). When no checkpoint is stored at
 *   step N, the RefError names the nearest stored steps.
 * Anything else is RefError "unknown ref 'x'".
 */
import path from 'node:path';
import { RefError } from './api';
import { listDir } from './fsutil';
import { branchNameProblem } from './layout';
import type { Store } from './store';

const MIN_PREFIX = 8;

export async function resolveRef(store: Store, ref: string): Promise<string> {
  if (typeof ref !== 'string' || ref.trim() === '') {
    throw new RefError('empty ref: give a checkpoint id, a branch name or branch@step');
  }
  const at = ref.lastIndexOf('@');
  if (at >= 0) {
    return resolveAtStep(store, ref, ref.slice(0, at), ref.slice(at + 1));
  }
  if (/^[0-9a-fA-F]{64}$/.test(ref)) {
    const id = ref.toLowerCase();
    if (await store.hasCheckpoint(id)) {
      return id;
    }
    throw new RefError(`unknown ref '${ref}': no checkpoint with this id`);
  }
  if (branchNameProblem(ref) === null && (await store.hasBranch(ref))) {
    return (await store.getBranch(ref)).tip;
  }
  if (/^[0-9a-fA-F]+$/.test(ref)) {
    if (ref.length < MIN_PREFIX) {
      throw new RefError(
        `unknown ref '${ref}': a checkpoint id prefix needs at least ${MIN_PREFIX} hex digits`,
      );
    }
    const matches = await prefixMatches(store, ref.toLowerCase());
    if (matches.length === 1) {
      return matches[0];
    }
    if (matches.length > 1) {
      const shown = matches.slice(0, 10).join(', ') + (matches.length > 10 ? ', …' : '');
      throw new RefError(
        `ambiguous ref '${ref}': it is a prefix of ${matches.length} checkpoints: ${shown}; give more digits`,
      );
    }
  }
  throw new RefError(`unknown ref '${ref}'`);
}

async function prefixMatches(store: Store, prefix: string): Promise<string[]> {
  const dir = path.join(store.layout.nodes, prefix.slice(0, 2));
  const rest = prefix.slice(2);
  const out: string[] = [];
  for (const e of await listDir(dir)) {
    if (e.isFile() && e.name.startsWith(rest) && e.name.endsWith('.json')) {
      const id = prefix.slice(0, 2) + e.name.slice(0, -5);
      if (await store.hasCheckpoint(id)) {
        out.push(id);
      }
    }
  }
  return out.sort();
}

async function resolveAtStep(
  store: Store,
  ref: string,
  name: string,
  stepText: string,
): Promise<string> {
  if (!/^\d+$/.test(stepText)) {
    throw new RefError(`bad ref '${ref}': expected <branch>@<step>, e.g. main@100`);
  }
  const problem = branchNameProblem(name);
  if (problem !== null) {
    throw new RefError(`bad ref '${ref}': '${name}' is not a branch name (${problem})`);
  }
  const step = Number(stepText);
  const branch = await store.getBranch(name);
  const nodes = await store.lineage(branch.tip);
  const hit = nodes.find((n) => n.step === step);
  if (hit) {
    return hit.id;
  }
  const steps = nodes.map((n) => n.step);
  const below = steps.filter((s) => s < step);
  const above = steps.filter((s) => s > step);
  const near = [...below.slice(-2), ...above.slice(0, 2)];
  const range = `it has ${steps.length} stored checkpoints, steps ${steps[0]}…${steps[steps.length - 1]}`;
  throw new RefError(
    `no checkpoint at step ${step} on branch '${name}' (${range}; nearest stored steps: ${near.join(', ')})`,
  );
}
