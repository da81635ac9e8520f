/**
 * The CLI registers only the command a command line names when that command's own file
 * (src/cli/commands/<name>.ts) registers it (src/cli/program.ts, `commandWord`), and every file
 * otherwise. These tests check which commands get registered, and that the command lines a
 * user types give the same output and exit code either way: each pair below differs only in
 * how the global option is written (`--store DIR` lets the command be found and registered
 * alone, `--store=DIR` makes the program register everything).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { commandWord, main } from '../../src/cli/program';
import { cli, tempDir } from '../helpers/cli';

/** The top-level commands `main` registers for `args`, with every action handed on unrun. */
async function registeredFor(args: string[]): Promise<readonly string[]> {
  let names: readonly string[] = [];
  const exitCode = process.exitCode;
  await main(['node', 'lockstep', ...args], {
    runsHere: () => false,
    delegate: async () => {},
    registered: (list) => {
      names = list;
    },
  });
  process.exitCode = exitCode; // (an unknown command sets 2)
  return names;
}

test('commandWord finds the command after the program options and their values', () => {
  const program = new Command('lockstep')
    .version('1')
    .option('--store <dir>')
    .option('--json')
    .option('--threads <n>');
  assert.equal(commandWord(program, ['log']), 'log');
  assert.equal(commandWord(program, ['log', 'main']), 'log');
  assert.equal(commandWord(program, ['--json', 'show', 'x']), 'show');
  assert.equal(commandWord(program, ['--store', 'train', 'log']), 'log');
  assert.equal(commandWord(program, ['--store', '-x', '--threads', '2', 'fsck']), 'fsck');
  // options not written as the program's own: the caller registers everything
  assert.equal(commandWord(program, ['--store=train', 'log']), undefined);
  assert.equal(commandWord(program, ['--help', 'log']), undefined);
  assert.equal(commandWord(program, ['--bogus', 'log']), undefined);
  assert.equal(commandWord(program, ['-V']), undefined);
  assert.equal(commandWord(program, []), undefined);
});

test('only the named command is registered when its own file registers it', async () => {
  const dir = tempDir('lockstep-reg-');
  assert.deepEqual(await registeredFor(['log', '--store', dir]), ['log']);
  assert.deepEqual(await registeredFor(['--store', 'train', 'show', 'x']), ['show']);
  // fsck.ts registers `fsck` and `gc`: both come with it
  assert.deepEqual(await registeredFor(['fsck', '--store', dir]), ['fsck', 'gc']);
  // `gc` and `continue` live in other files, `remove` is a file but no command: all of them
  const all = await registeredFor(['--store=x', 'log']);
  assert.ok(all.length > 15 && all.includes('continue') && all.includes('branch'), String(all));
  assert.deepEqual([...(await registeredFor(['gc', '--store', dir]))].sort(), [...all].sort());
  assert.deepEqual([...(await registeredFor(['continue', 'x']))].sort(), [...all].sort());
  assert.deepEqual([...(await registeredFor(['remove']))].sort(), [...all].sort());
});

test('a command registered alone answers as it does among all the others', () => {
  const dir = tempDir('lockstep-reg-');
  const cases = [
    ['log', '--help'],
    ['log', 'main', 'extra'], // too many arguments
    ['log', '--bogus'],
    ['show'], // a missing argument
    ['fsck', '--help'],
    ['trace', '--help'],
    ['train', '--help'],
    ['log', 'nosuch'],
  ];
  for (const c of cases) {
    const alone = cli(['--store', dir, ...c]);
    const amongAll = cli([`--store=${dir}`, ...c]);
    assert.deepEqual(alone, amongAll, c.join(' '));
    assert.notEqual(alone.stdout + alone.stderr, '', c.join(' '));
  }
});
