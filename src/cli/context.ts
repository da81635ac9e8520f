/**
 * What every command needs: the store (from --store, LOCKSTEP_STORE or the app's data folder),
 * and output that honours --json (the last line of stdout is one JSON object; human text and
 * progress go elsewhere).
 */
import type { Command } from 'commander';
import { defaultStoreDir } from '../main/store/location';
import { Store } from '../main/store/store';

export interface GlobalOptions {
  store?: string;
  json?: boolean;
}

export function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

/** Opens the store; `create: false` for read-only commands, so they never create one. */
export async function openStore(cmd: Command, create = true): Promise<Store> {
  const dir = globalOptions(cmd).store ?? defaultStoreDir();
  return Store.open(dir, { create });
}

/** Prints human text (not in --json mode). */
export function say(cmd: Command, text: string): void {
  if (globalOptions(cmd).json) {
    process.stderr.write(text + '\n');
  } else {
    process.stdout.write(text + '\n');
  }
}

/** Prints the command's result: JSON as the last stdout line with --json, else the human form. */
export function emit(cmd: Command, json: unknown, human: () => string): void {
  if (globalOptions(cmd).json) {
    process.stdout.write(JSON.stringify(json) + '\n');
  } else {
    const text = human();
    if (text) {
      process.stdout.write(text + '\n');
    }
  }
}
