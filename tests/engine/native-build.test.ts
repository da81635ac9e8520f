/**
 * The native kernels' builder (src/main/engine/kernels/native/build.cjs): a failed compile is
 * remembered, so that later processes do not pay for it again, until a retry (`npm run
 * build:native`); a missing compiler is not remembered (it may be installed later); a build
 * replaces the memory of a failure; a platform without the kernels compiles nothing. Builds go
 * to the given root's out/native.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/cli';
import { useTempDir } from '../helpers/fixtures';

const require = createRequire(import.meta.url);
const builder = require(join(ROOT, 'src/main/engine/kernels/native/build.cjs')) as {
  buildNative(root: string, retry?: boolean): { file?: string; reason?: string };
  nativeTarget(root: string): string;
};

/** Runs `fn` with CC set to `cc` (unset for undefined). */
function withCc<T>(cc: string | undefined, fn: () => T): T {
  const before = process.env.CC;
  if (cc === undefined) {
    delete process.env.CC;
  } else {
    process.env.CC = cc;
  }
  try {
    return fn();
  } finally {
    if (before === undefined) {
      delete process.env.CC;
    } else {
      process.env.CC = before;
    }
  }
}

test('a failed compile is remembered until a retry; a missing compiler is not; a build clears it', (t) => {
  const root = useTempDir(t);
  // a "compiler" that counts its runs and fails
  const runs = join(root, 'runs');
  const cc = join(root, 'cc.sh');
  writeFileSync(cc, `#!/bin/sh\necho run >> '${runs}'\necho 'no luck' >&2\nexit 3\n`);
  chmodSync(cc, 0o755);
  const count = (): number => (existsSync(runs) ? readFileSync(runs, 'utf8').split('\n').filter(Boolean).length : 0); // prettier-ignore
  if (process.arch !== 'x64' || !['linux', 'darwin'].includes(process.platform)) {
    // a platform without the kernels: the builder declines, compiling nothing
    const declined = withCc(cc, () => builder.buildNative(root, true));
    assert.match(declined.reason ?? '', /^no native kernels for /);
    assert.equal(count(), 0);
    return;
  }

  const first = withCc(cc, () => builder.buildNative(root));
  assert.equal(first.file, undefined);
  assert.match(first.reason ?? '', /failed \(exit status 3\): no luck/);
  assert.equal(count(), 1);
  const again = withCc(cc, () => builder.buildNative(root));
  assert.match(again.reason ?? '', /an earlier build; `npm run build:native` tries again/);
  assert.equal(count(), 1, 'not compiled again');
  withCc(cc, () => builder.buildNative(root, true));
  assert.equal(count(), 2, 'a retry compiles');

  const missing = withCc(join(root, 'no-such-cc'), () => builder.buildNative(root, true));
  assert.match(missing.reason ?? '', /could not run \(ENOENT\)/);

  // the machine's compiler (a retry: without one, the remembered failure would stand), where
  // there is one: the build lands and the failure is forgotten
  const built = withCc(undefined, () => builder.buildNative(root, true));
  if (built.file === undefined) {
    assert.ok(process.env.CI === undefined, `CI installs a C compiler, yet: ${built.reason}`);
    return;
  }
  assert.equal(built.file, builder.nativeTarget(root));
  assert.deepEqual(readdirSync(join(root, 'out', 'native')), [built.file.split('/').at(-1)]);
});
