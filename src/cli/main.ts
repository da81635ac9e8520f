/**
 * `npx lockstep <command>`: the command-line front of the service (DESIGN.md "CLI contract").
 *
 * Every file in ./commands exports `register(program)`; they are loaded in name order, so a new
 * command is one new file. Exit codes: 0 success, 1 a negative answer, 2 bad input or an error
 * with one clear line on stderr (commander's usage errors included).
 */
import { Command, CommanderError } from 'commander';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describeError, EXIT_ERROR } from './errors';

const VERSION = '0.1.0';

async function main(argv: string[]): Promise<void> {
  const program = new Command('lockstep')
    .description('Deterministic neural-network training: the same inputs give the same bits.')
    .version(VERSION)
    .option('--store <dir>', 'checkpoint store (default: LOCKSTEP_STORE or the app data folder)')
    .option('--json', 'print the result as one JSON object on the last line of stdout')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      // one line, keeping commander's "(Did you mean …?)" hint
      outputError: (s, write) =>
        write(
          s
            .replace(/^error: /, 'lockstep: ')
            .split('\n')
            .map((l) => l.trim())
            .filter(Boolean)
            .join(' ') + '\n',
        ),
    })
    .configureHelp({ sortSubcommands: true, showGlobalOptions: true });
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'commands');
  for (const file of readdirSync(dir)
    .filter((f) => /\.(ts|js|mjs)$/.test(f) && !f.endsWith('.d.ts'))
    .sort()) {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as {
      register?: (p: Command) => void;
    };
    mod.register?.(program);
  }
  const configure = (cmds: readonly Command[]): void => {
    for (const cmd of cmds) {
      cmd
        .exitOverride()
        .configureOutput(program.configureOutput())
        .configureHelp({ showGlobalOptions: true });
      configure(cmd.commands);
    }
  };
  configure(program.commands);
  if (argv.length <= 2) {
    process.stderr.write('lockstep: no command given: run `lockstep --help` for the list\n');
    process.exitCode = EXIT_ERROR;
    return;
  }
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; usage errors were already printed in one line
      process.exitCode = e.exitCode === 0 ? 0 : EXIT_ERROR;
      return;
    }
    process.stderr.write(`lockstep: ${describeError(e)}\n`);
    if (process.env.LOCKSTEP_DEBUG && e instanceof Error) {
      process.stderr.write(`${e.stack}\n`);
    }
    process.exitCode = EXIT_ERROR;
  }
}

await main(process.argv);
