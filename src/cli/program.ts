/**
 * `npx lockstep <command>`: the command-line front of the service (DESIGN.md "CLI contract").
 *
 * Every file in ./commands exports `register(program)`, listed in {@link COMMANDS} under the file's
 * name (a new command is one new file and one line there). Exit codes: 0 success, 1 a negative
 * answer, 2 bad input or an error with one clear line on stderr (commander's usage errors included).
 *
 * `main(argv)` runs the whole command here. `main(argv, front)` is the CommonJS front of the CLI
 * bundle (./front.ts): it parses the command line as always (help, version and usage errors are
 * answered here), runs the actions of the command files `front.runsHere` names, and hands every
 * other command, before its action starts, to `front.delegate()` — the ES module bundle, which
 * parses the same argv again and runs it — and then does nothing more.
 */
import { Command, CommanderError, Help } from 'commander';
import { APP_VERSION } from '../main/version';
import { compareCodeUnits } from '../shared/order';
import { register as bench } from './commands/bench';
import { register as compare } from './commands/compare';
import { register as data } from './commands/data';
import { register as exportCommand } from './commands/export';
import { register as fsck } from './commands/fsck';
import { register as importCommand } from './commands/import';
import { register as log } from './commands/log';
import { register as remove } from './commands/remove';
import { register as samples } from './commands/samples';
import { register as serve } from './commands/serve';
import { register as show } from './commands/show';
import { register as study } from './commands/study';
import { register as sweep } from './commands/sweep';
import { register as trace } from './commands/trace';
import { register as train } from './commands/train';
import { register as verify } from './commands/verify';
import { describeError, EXIT_ERROR } from './errors';
import { threadsArg } from './options';
import { outputConfiguration } from './stdout';

/** Every command file (its name in ./commands) and its `register`, in the order `--help` lists them. */
const COMMANDS: readonly (readonly [string, (program: Command) => void])[] = [
  ['bench', bench],
  ['compare', compare],
  ['data', data],
  ['export', exportCommand],
  ['fsck', fsck],
  ['import', importCommand],
  ['log', log],
  ['remove', remove],
  ['samples', samples],
  ['serve', serve],
  ['show', show],
  ['study', study],
  ['sweep', sweep],
  ['trace', trace],
  ['train', train],
  ['verify', verify],
];

/**
 * The commands `--help` lists, in name order (what commander's `sortSubcommands` gives), compared
 * by code unit: `sortSubcommands` compares with localeCompare, whose first call starts ICU's
 * collator — ~10 ms of every `lockstep --help` — to order plain lowercase ASCII names.
 */
function commandsByName(this: Help, cmd: Command): Command[] {
  return Help.prototype.visibleCommands
    .call(this, cmd)
    .sort((a, b) => compareCodeUnits(a.name(), b.name()));
}

/**
 * The command `args` (the command line after node and the script) names, as commander finds it:
 * the first operand after the program's own options and their values (`--store <dir>` takes the
 * next word); undefined when there is none or an option is not one of the program's own as
 * written (`--store=x`, `--help`: the caller then registers every command).
 *
 * Registering only that command's file gives the same parse, help, errors and exit code as
 * registering them all: the program has no operands or action of its own, so commander looks at
 * no other command once it has found this one (`lockstep log` saves ~6 ms of building the other
 * fifteen files' commands and options).
 */
export function commandWord(program: Command, args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('-')) {
      return a;
    }
    const option = program.options.find((o) => o.long === a || o.short === a);
    if (option === undefined || option.optional) {
      return undefined;
    }
    if (option.required) {
      i++; // its value, whatever it looks like (as commander takes it)
    }
  }
  return undefined;
}

/** How the CommonJS front runs the commands it does not run itself (see the header). */
export interface Front {
  /** Whether the actions of command file `file` (a name in {@link COMMANDS}) run in the front. */
  runsHere(file: string): boolean;
  /**
   * Runs this process's command line in the ES module bundle; resolves when that `main` has.
   * `command`: the name of the top-level command it runs.
   */
  delegate(command: string): Promise<void>;
  /** Told the names of the top-level commands once they are registered. */
  registered(names: readonly string[]): void;
}

/** Thrown by the pre-action hook once a delegated command has run: nothing more to do here. */
const DELEGATED = Symbol('delegated');

export async function main(argv: string[], front?: Front): Promise<void> {
  const program = new Command('lockstep')
    .description('Deterministic neural-network training: the same inputs give the same bits.')
    .version(APP_VERSION)
    .option('--store <dir>', 'checkpoint store (default: LOCKSTEP_STORE or the app data folder)')
    .option('--json', 'print the result as one JSON object on the last line of stdout')
    .option(
      '--threads <n>',
      'compute threads for training and verifying (default: LOCKSTEP_THREADS, else the cores, at most 4); never changes a bit',
      threadsArg,
    )
    .hook('preAction', () => {
      // read by the engine when it first computes (and inherited by job processes); not part of
      // any config or fingerprint: the bits are the same for every thread count
      const threads = program.opts<{ threads?: number }>().threads;
      if (threads !== undefined) {
        process.env.LOCKSTEP_THREADS = String(threads);
      }
    })
    .hook('preAction', async (_program, action) => {
      if (front === undefined) {
        return;
      }
      let top = action;
      while (top.parent !== null && top.parent !== program) {
        top = top.parent;
      }
      const file = fileOf.get(top);
      if (file === undefined || !front.runsHere(file)) {
        await front.delegate(top.name());
        throw DELEGATED;
      }
    })
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
    .configureHelp({ showGlobalOptions: true, visibleCommands: commandsByName });
  program.configureOutput(outputConfiguration(program));
  // the top-level commands each file registered (for the front's pre-action hook)
  const fileOf = new Map<Command, string>();
  const registerFiles = (files: typeof COMMANDS): void => {
    for (const [file, register] of files) {
      const before = program.commands.length;
      register(program);
      for (const cmd of program.commands.slice(before)) {
        fileOf.set(cmd, file);
      }
    }
  };
  // the command's own file when it has one that registers it (`log` in ./commands/log.ts), else
  // (or then still missing) every file
  const word = commandWord(program, argv.slice(2));
  const own = COMMANDS.filter(([file]) => file === word);
  registerFiles(own);
  if (own.length === 0 || !program.commands.some((cmd) => cmd.name() === word)) {
    registerFiles(COMMANDS.filter((c) => !own.includes(c)));
  }
  front?.registered(program.commands.map((cmd) => cmd.name()));
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
    if (e === DELEGATED) {
      return; // the ES module bundle ran the command and set the exit code
    }
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
