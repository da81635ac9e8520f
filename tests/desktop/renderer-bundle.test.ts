/**
 * The renderer bundle carries no zod: the client half of the wiring (src/shared/rpc-client.ts)
 * checks server messages with small type guards, and schemas stay on the server side. zod 4's
 * code is recognised by its `_zod` internals and its `ZodError` class (the build from a2a9e57 had
 * 318 and 6 of them; about 172 kB of an 867 kB bundle).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { BUILT_RENDERER, ensureBuilt } from './helpers';

test('the built renderer contains no zod', (ctx) => {
  ensureBuilt();
  const dir = path.join(BUILT_RENDERER, 'assets');
  const scripts = readdirSync(dir).filter((f) => f.endsWith('.js'));
  assert.ok(scripts.length > 0, 'the renderer is built');
  let bytes = 0;
  for (const f of scripts) {
    const code = readFileSync(path.join(dir, f), 'utf8');
    bytes += Buffer.byteLength(code);
    assert.doesNotMatch(code, /_zod\b|ZodError/, `${f} has zod in it`);
  }
  ctx.diagnostic(`renderer JavaScript: ${bytes} bytes in ${scripts.length} file(s)`);
});
