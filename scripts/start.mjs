#!/usr/bin/env node
/**
 * `npm start`: the desktop app when it can run here, else web mode, and never a stack trace.
 *
 * 1. Ensure the Electron binary through the electron package's own download path
 *    (`node_modules/electron/install.js`: a no-op when the binary is there; otherwise it downloads
 *    it from GitHub, or from ELECTRON_MIRROR, into node_modules/electron/dist), with a time limit
 *    (LOCKSTEP_ELECTRON_TIMEOUT seconds, default 300).
 * 2. With the binary and a display: `electron-vite preview` (builds, then opens the window).
 * 3. Without (offline, blocked, no display): one paragraph on stderr saying why, then web mode:
 *    build the app if out/ is missing or older than src/, run `lockstep serve`, and open its URL
 *    with the desktop's opener (xdg-open / open / start) when there is one, else print it.
 *    Arguments after `npm start --` go to `serve` (e.g. `--store DIR`, `--port N`).
 *
 * Ctrl-C (SIGINT/SIGTERM) is passed on to the child, which stops its jobs (they checkpoint);
 * the exit code is the child's.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const root = join(import.meta.dirname, '..');
const electronDir = join(root, 'node_modules', 'electron');
const isWindows = process.platform === 'win32';
const timeoutSeconds = Number(process.env.LOCKSTEP_ELECTRON_TIMEOUT ?? 300);

/** Why the desktop app cannot start here, or null when it can. */
async function electronProblem() {
  if (!existsSync(join(electronDir, 'install.js'))) {
    return 'the electron package is not installed (run `npm install`)';
  }
  const result = await run(process.execPath, [join(electronDir, 'install.js')], timeoutSeconds);
  if (result.timedOut) {
    return `downloading the Electron binary did not finish in ${timeoutSeconds} s`;
  }
  if (result.code !== 0) {
    const lines = result.output.trim().split('\n').filter(Boolean);
    const cause = lines.find((l) => /error|failed|ENOTFOUND|ECONN|EAI_AGAIN/i.test(l)) ?? lines[0];
    return `the Electron binary could not be downloaded (${(cause ?? `exit code ${result.code}`).trim()})`;
  }
  const pathFile = join(electronDir, 'path.txt');
  const binary = existsSync(pathFile)
    ? join(electronDir, 'dist', readFileSync(pathFile, 'utf8').trim())
    : null;
  if (binary === null || !existsSync(binary)) {
    return 'the Electron binary is missing after its install step';
  }
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    return 'there is no display (neither DISPLAY nor WAYLAND_DISPLAY is set)';
  }
  return null;
}

/** Runs a command, collecting its output, killed after `seconds`. */
function run(command, args, seconds) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, seconds * 1000);
    child.on('error', (e) => {
      output += String(e.message);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, timedOut });
    });
  });
}

/** The newest modification time of any file under `dir`. */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) {
      t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
    }
  }
  return t;
}

/** True when out/ lacks the renderer or is older than the sources. */
function needsBuild() {
  const index = join(root, 'out', 'renderer', 'index.html');
  return !existsSync(index) || statSync(index).mtimeMs < newest(join(root, 'src'));
}

/** The desktop's URL opener, or null (none installed, or no display to open on). */
function opener() {
  if (process.platform === 'darwin') {
    return ['open', []];
  }
  if (isWindows) {
    return ['cmd', ['/c', 'start', '""']];
  }
  if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    return null;
  }
  const onPath = (process.env.PATH ?? '')
    .split(delimiter)
    .some((d) => d !== '' && existsSync(join(d, 'xdg-open')));
  return onPath ? ['xdg-open', []] : null;
}

/** Starts `child` in the foreground: signals go to it, its exit code becomes ours. */
function foreground(child) {
  const forward = (signal) => () => child.kill(signal);
  process.on('SIGINT', forward('SIGINT'));
  process.on('SIGTERM', forward('SIGTERM'));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 130)));
}

/** Web mode: build when needed, serve, open the browser or print the URL. */
function startWebMode() {
  if (needsBuild()) {
    console.error('Building the app (electron-vite build)…');
    const built = spawnSync('npx', ['electron-vite', 'build'], {
      cwd: root,
      stdio: 'inherit',
      shell: isWindows,
    });
    if (built.status !== 0) {
      console.error('lockstep: building the app failed (see above)');
      process.exit(2);
    }
  }
  const serve = spawn(
    process.execPath,
    [join(root, 'bin', 'lockstep.mjs'), 'serve', ...process.argv.slice(2)],
    { cwd: root, stdio: ['inherit', 'pipe', 'inherit'] },
  );
  foreground(serve);
  let out = '';
  let opened = false;
  serve.stdout.on('data', (d) => {
    process.stdout.write(d);
    out += d;
    const url = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/.exec(out)?.[1];
    if (url === undefined || opened) {
      return;
    }
    opened = true;
    const open = opener();
    if (open === null) {
      console.error(`Open ${url} in your browser.`);
      return;
    }
    const [command, args] = open;
    const child = spawn(command, [...args, url], { stdio: 'ignore', detached: !isWindows });
    child.on('error', () => console.error(`Open ${url} in your browser.`));
    child.unref();
  });
}

const problem = await electronProblem();
if (problem === null) {
  const child = spawn('npx', ['electron-vite', 'preview'], {
    cwd: root,
    stdio: 'inherit',
    shell: isWindows,
  });
  foreground(child);
} else {
  const why = problem.includes('display')
    ? 'The desktop app needs a graphical session. '
    : 'Electron fetches its binary from the network the first time the app starts (from ' +
      'GitHub, or from ELECTRON_MIRROR if you set it), so that first start needs internet ' +
      'access; once fetched, the app starts offline. ';
  console.error(
    `Lockstep: the desktop app cannot start here: ${problem}. ${why}` +
      'Starting web mode instead: the same app and the same store, in your browser, served on ' +
      '127.0.0.1 only behind the token in its URL. Run `npm start` again ' +
      (problem.includes('display') ? 'from a desktop session' : 'when online') +
      ' to get the desktop app.\n',
  );
  startWebMode();
}
