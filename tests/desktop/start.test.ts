/**
 * `npm start` offline ends in a served UI, not a stack trace: scripts/start.mjs runs with the
 * Electron download forced to fail (ELECTRON_MIRROR pointing at a closed local port, a fresh
 * download cache), says why in one paragraph, falls back to web mode, and prints a URL (no
 * display here, so no opener) whose page loads with the token.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../e2e/helpers';
import { ensureBuilt, ROOT } from './helpers';

test('npm start without an Electron binary serves the web UI and says why', async () => {
  ensureBuilt();
  const t = tempDir('lockstep-start-');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ELECTRON_MIRROR: 'http://127.0.0.1:9/',
    electron_config_cache: path.join(t.dir, 'electron-cache'),
  };
  delete env['DISPLAY'];
  delete env['WAYLAND_DISPLAY'];
  delete env['LOCKSTEP_STORE'];
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'scripts', 'start.mjs'), '--port', '0', '--store', path.join(t.dir, 'store')],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const deadline = Date.now() + 120_000;
    let url: string | undefined;
    while (url === undefined && Date.now() < deadline && child.exitCode === null) {
      url = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/.exec(stdout)?.[1];
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(url !== undefined, `a URL was printed\nstdout:\n${stdout}\nstderr:\n${stderr}`);

    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await res.text(), /<div id="app"/);
    const noToken = await fetch(url.replace(/\?token=.*$/, ''));
    assert.equal(noToken.status, 401, 'the page still needs the token');

    const notice = stderr.split('\n').filter((l) => l.includes('cannot start here'));
    assert.equal(notice.length, 1, `one notice paragraph\n${stderr}`);
    assert.match(notice[0], /Starting web mode instead/);
    assert.match(stderr, new RegExp(`Open ${url.replace(/[?.]/g, '\\$&')} in your browser`));
    assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
  } finally {
    child.kill('SIGTERM');
    const code = await exited;
    t.cleanup();
    assert.equal(code, 0, `Ctrl-C stops it cleanly\n${stderr}`);
  }
});
