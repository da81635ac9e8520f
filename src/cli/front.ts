/**
 * The CLI bundle's CommonJS front (`out/cli/<build>/front.cjs`, built by scripts/build-cli.mjs
 * and loaded by bin/lockstep.cjs): the program of ./program.ts, for the commands that never train.
 *
 * Node starts a CommonJS file without booting its ES module loader (~20–40 ms of every start on
 * a slow machine: the loader's own modules, resolving and linking every chunk, the ESM facades of
 * builtins). The front parses every command line itself — help, version and usage errors never
 * leave it — and runs the actions of the command files listed in ./front-commands.json (the store
 * readers: `log`, `show`, `trace`, `fsck`, `gc`, `branch rm`, `run rm`). Any other command is
 * handed, before its action starts, to the ES module bundle (`delegate`, `lockstep.js` next to
 * this file), which runs the whole command line as `lockstep.js` always did.
 *
 * In this build the lazy imports of the other command files are not bundled (the build fails if a
 * listed command file reaches one through the CLI's own modules), so the front stays small; such
 * an import is never reached, since those commands never run their actions here.
 */
import FRONT_COMMANDS from './front-commands.json' with { type: 'json' };
import { main } from './program';

let names: readonly string[] = [];

/** Runs `argv`: here when its command file is listed, else through `delegate`. */
export function run(argv: string[], delegate: (command: string) => Promise<void>): Promise<void> {
  return main(argv, {
    runsHere: (file) => FRONT_COMMANDS.includes(file),
    delegate: (command) => {
      // the front's setting for zod (see scripts/build-cli.mjs's FRONT_BANNER) is not the ES
      // module bundle's: the front has loaded no zod before it delegates
      delete (globalThis as { __zod_globalConfig?: unknown }).__zod_globalConfig;
      return delegate(command);
    },
    registered: (list) => {
      names = list;
    },
  });
}

/** The top-level command names, once `run` has registered them (bin/lockstep.cjs's cache files). */
export function commandNames(): readonly string[] {
  return names;
}
