/**
 * What every command needs: the store (from --store, LOCKSTEP_STORE or the app's data folder),
 * and output that honours --json (the last line of stdout is one JSON object; human text and
 * progress go elsewhere). The store's code (and zod, its record schemas) is loaded when a command
 * opens the store, not when the CLI starts: `--help` never loads it.
 */
import type { Command } from 'commander';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { RefError } from '../main/store/api';
import { defaultStoreDir } from '../main/store/location';
import type { Store } from '../main/store/store';
import { writeOut } from './stdout';

/** The Store class, loaded on first use. */
async function storeClass(): Promise<typeof Store> {
  return (await import('../main/store/store')).Store;
}

/** What every command says when there is no store yet. */
export const NO_RUNS_YET = 'no runs yet: start one with `lockstep train`';

export interface GlobalOptions {
  store?: string;
  json?: boolean;
}

export function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

/** The store folder the command works on. */
export function storeDir(cmd: Command): string {
  return path.resolve(globalOptions(cmd).store ?? defaultStoreDir());
}

/** Whether the store folder does not exist yet (or is an empty folder): nobody has trained yet. */
function noStoreYet(dir: string): boolean {
  const st = statSync(dir, { throwIfNoEntry: false });
  return st === undefined || (st.isDirectory() && readdirSync(dir).length === 0);
}

/**
 * Opens the store; `create: false` for read-only commands, so they never create one. A store that
 * does not exist yet is a RefError saying so ("no runs yet …"), for commands that need a ref.
 */
export async function openStore(cmd: Command, create = true): Promise<Store> {
  const dir = storeDir(cmd);
  if (!create && noStoreYet(dir)) {
    throw new RefError(`${NO_RUNS_YET} (no store at ${dir})`);
  }
  return (await storeClass()).open(dir, { create });
}

/**
 * For listing commands (log, study --list, fsck, gc): the store, or null when there is none yet —
 * the command then answers "no runs yet" and exits 0.
 */
export async function openStoreIfAny(cmd: Command): Promise<Store | null> {
  return noStoreYet(storeDir(cmd))
    ? null
    : (await storeClass()).open(storeDir(cmd), { create: false });
}

/** Prints human text (not in --json mode). */
export function say(cmd: Command, text: string): void {
  if (globalOptions(cmd).json) {
    process.stderr.write(text + '\n');
  } else {
    writeOut(text + '\n');
  }
}

/** Prints the command's result: JSON as the last stdout line with --json, else the human form. */
export function emit(cmd: Command, json: unknown, human: () => string): void {
  if (globalOptions(cmd).json) {
    writeOut(JSON.stringify(json) + '\n');
  } else {
    const text = human();
    if (text) {
      writeOut(text + '\n');
    }
  }
}
