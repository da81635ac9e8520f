#!/usr/bin/env node
/**
 * `npm test`: every check the project has, in order.
 *
 *   (a) npm run typecheck        } skipped with LOCKSTEP_SKIP_STATIC=1
 *   (b) npm run lint             }
 *   (c) tests/**\/*.test.ts except tests/e2e/**, with Node's test runner through tsx
 *       (concurrency 2)
 *   (d) npx electron-vite build, then tests/e2e/**\/*.test.ts (concurrency 1); skipped, with a
 *       message, while tests/e2e does not exist
 *
 * LOCKSTEP_TEST_FILTER=substring runs only the test files whose path contains it.
 *
 * Every step runs even if an earlier one failed, so one run shows every problem. The exit code is
 * non-zero if any step failed. The last line of output is always `N passed, N failed`: the sum of
 * the test runner's counts (its cancelled tests, e.g. a file that does not load, count as failed).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';

const root = join(import.meta.dirname, '..');
const testsDir = join(root, 'tests');
const e2eDir = join(testsDir, 'e2e');
const isWindows = process.platform === 'win32';
const filter = process.env.LOCKSTEP_TEST_FILTER ?? '';
const skipStatic = process.env.LOCKSTEP_SKIP_STATIC === '1';

/** @type {{ name: string, ok: boolean, note?: string }[]} */
const steps = [];
const totals = { passed: 0, failed: 0 };
/** One entry per failed test: its name, file and the first lines of its error, for the summary. */
const failures = [];

/** Prints a step banner. */
function banner(text) {
  console.log(`\n=== ${text}`);
}

/** Runs a command with inherited stdio in the repository root; true when it exits with 0. */
function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', shell: isWindows });
  if (result.error) {
    console.error(`could not run ${command}: ${result.error.message}`);
    return false;
  }
  return result.status === 0;
}

/** Every `*.test.ts` file under `dir`, as repository-relative POSIX paths, sorted. */
function findTestFiles(dir) {
  if (!existsSync(dir)) {
    return [];
  }
  const files = [];
  const walk = (current) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) {
        walk(path);
      } else if (entry.isFile() && entry.name.endsWith('.test.ts')) {
        files.push(relative(root, path).split(sep).join('/'));
      }
    }
  };
  walk(dir);
  return files.sort();
}

/** Reads `# pass N`, `# fail N` and `# cancelled N` from the runner's TAP summary. */
function parseTapSummary(text) {
  const count = (key) => {
    const match = new RegExp(`^# ${key} (\\d+)$`, 'm').exec(text);
    return match === null ? 0 : Number(match[1]);
  };
  return { passed: count('pass'), failed: count('fail') + count('cancelled') };
}

/**
 * The failed tests in a TAP report: for each `not ok` line that is a test (a suite's failure only
 * repeats its children's), its name and the first lines of its YAML block without the stack.
 */
function parseTapFailures(text) {
  const lines = text.split('\n');
  const found = [];
  for (let i = 0; i < lines.length; i++) {
    const match = /^(\s*)not ok \d+ - (.*)$/.exec(lines[i]);
    if (match === null) {
      continue;
    }
    const keyIndent = match[1].length + 2;
    const details = [];
    let isSuite = false;
    let skipping = false;
    for (let j = i + 2; j < lines.length; j++) {
      const line = lines[j];
      const indent = line.length - line.trimStart().length;
      if (line.trim() === '...' && indent === keyIndent) {
        break;
      }
      if (indent === keyIndent) {
        const key = line.trim().split(':')[0];
        isSuite ||= line.trim() === "type: 'suite'";
        skipping = key === 'stack' || key === 'duration_ms' || key === 'type';
      }
      if (!skipping && line.trim() !== '') {
        details.push(line.trim());
      }
    }
    if (!isSuite) {
      found.push({ name: match[2], details: details.slice(0, 12) });
    }
  }
  return found;
}

/**
 * Runs `files` with Node's test runner: spec output on the console, TAP into a temporary file
 * for the counts. Adds the counts to the totals and returns true when the runner exits with 0.
 */
function runTests(files, concurrency) {
  const tmp = mkdtempSync(join(tmpdir(), 'lockstep-test-'));
  const tapFile = join(tmp, 'report.tap');
  try {
    const ok = run(process.execPath, [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${concurrency}`,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tapFile}`,
      ...files,
    ]);
    const counts = existsSync(tapFile)
      ? parseTapSummary(readFileSync(tapFile, 'utf8'))
      : { passed: 0, failed: 0 };
    if (existsSync(tapFile)) {
      failures.push(...parseTapFailures(readFileSync(tapFile, 'utf8')));
    }
    if (!ok && counts.failed === 0) {
      // The runner failed without reporting a failed test (e.g. it crashed): count one.
      counts.failed = 1;
    }
    totals.passed += counts.passed;
    totals.failed += counts.failed;
    return ok;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Applies LOCKSTEP_TEST_FILTER. */
function filtered(files) {
  return filter === '' ? files : files.filter((file) => file.includes(filter));
}

// (a) + (b) static checks
if (skipStatic) {
  banner('typecheck and lint: skipped (LOCKSTEP_SKIP_STATIC=1)');
} else {
  banner('typecheck: npm run typecheck');
  steps.push({ name: 'typecheck', ok: run('npm', ['run', 'typecheck']) });
  banner('lint: npm run lint');
  steps.push({ name: 'lint', ok: run('npm', ['run', 'lint']) });
}

// (c) unit and integration tests
const unitFiles = filtered(
  findTestFiles(testsDir).filter((file) => !file.startsWith('tests/e2e/')),
);
if (unitFiles.length === 0) {
  banner(`unit tests: no test files${filter === '' ? '' : ` match "${filter}"`}`);
  steps.push({ name: 'unit tests', ok: filter !== '', note: 'no files match' });
} else {
  banner(`unit tests: ${unitFiles.length} file(s), concurrency 2`);
  steps.push({ name: 'unit tests', ok: runTests(unitFiles, 2) });
}

// (d) end-to-end tests
const e2eFiles = filtered(findTestFiles(e2eDir));
if (e2eFiles.length === 0) {
  banner(`e2e tests: no test files${filter === '' ? '' : ` match "${filter}"`}`);
} else {
  banner('e2e build: npx electron-vite build');
  const built = run('npx', ['electron-vite', 'build']);
  steps.push({ name: 'e2e build', ok: built });
  if (built) {
    banner(`e2e tests: ${e2eFiles.length} file(s), concurrency 1`);
    steps.push({ name: 'e2e tests', ok: runTests(e2eFiles, 1) });
  } else {
    console.error('e2e tests: not run, the build failed');
  }
}

// a filter that matches no test file at all is a typo, not a pass
if (filter !== '' && unitFiles.length === 0 && e2eFiles.length === 0) {
  steps.push({ name: `LOCKSTEP_TEST_FILTER="${filter}"`, ok: false, note: 'matches no test file' });
}

banner('summary');
for (const failure of failures) {
  console.log(`not ok: ${failure.name}`);
  for (const line of failure.details) {
    console.log(`    ${line}`);
  }
}
for (const step of steps) {
  console.log(`${step.ok ? 'ok    ' : 'FAILED'} ${step.name}${step.note ? ` (${step.note})` : ''}`);
}
const allOk = steps.every((step) => step.ok);
console.log(`${totals.passed} passed, ${totals.failed} failed`);
process.exit(allOk ? 0 : 1);
