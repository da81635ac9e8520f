/**
 * One error base class: every error the app means to show is a LockstepError that knows its wire
 * form, and toWireError / fromWire carry it across any boundary (RPC, job process) the same way.
 * Also the one rule that tells a bundle file from a ref, and the one version source.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pkg from '../../package.json' with { type: 'json' };
import { CliError, describeError } from '../../src/cli/errors';
import { BundleError } from '../../src/main/bundle/errors';
import { isBundlePath } from '../../src/main/bundle/path';
import { APP } from '../../src/main/bundle/versions';
import { InputError } from '../../src/main/engine/types';
import {
  RefError,
  StoreConflictError,
  StoreCorruptError,
  StoreWriteError,
} from '../../src/main/store/api';
import { APP_VERSION } from '../../src/main/version';
import { LockstepError, ServiceError, toWireError, type ErrorCode } from '../../src/shared/errors';
import { useTempDir } from '../helpers/fixtures';

const ROOT = join(import.meta.dirname, '..', '..');

test('every app error is a LockstepError with its contract code, and round-trips the wire', () => {
  const cases: [LockstepError, ErrorCode][] = [
    [new InputError('bad lr'), 'BAD_INPUT'],
    [new RefError('no branch x'), 'BAD_REF'],
    [new StoreCorruptError('ab'.repeat(32), 'object damaged'), 'STORE_CORRUPT'],
    [new StoreWriteError('disk full'), 'STORE_WRITE'],
    [new StoreConflictError('branch moved'), 'STORE_CONFLICT'],
    [new BundleError('NOT_A_ZIP', 'not a zip'), 'BUNDLE'],
    [new CliError('no such option'), 'BAD_INPUT'],
    [new ServiceError('NOT_FOUND', 'no job'), 'NOT_FOUND'],
  ];
  for (const [e, code] of cases) {
    assert.ok(e instanceof LockstepError && e instanceof Error, e.name);
    const wire = toWireError(e);
    assert.deepEqual(wire, { name: e.name, code, message: e.message });
    const back = LockstepError.fromWire(JSON.parse(JSON.stringify(wire)));
    assert.ok(back instanceof ServiceError);
    assert.deepEqual([back.name, back.code, back.message], [e.name, code, e.message]);
    assert.equal(describeError(e), e.message, 'the CLI prints an app error as its message');
  }
  // the bundle's own refusal code stays on the error; the wire says BUNDLE
  assert.equal(new BundleError('CRC_MISMATCH', 'x').code, 'CRC_MISMATCH');
});

test('anything else crosses as INTERNAL with its name (a plain Error without it); an abort as CANCELLED', () => {
  assert.deepEqual(toWireError(new TypeError('x is undefined')), {
    name: 'TypeError',
    code: 'INTERNAL',
    message: 'TypeError: x is undefined',
  });
  const abort = new AbortController();
  abort.abort();
  try {
    abort.signal.throwIfAborted();
  } catch (e) {
    assert.equal(toWireError(e).code, 'CANCELLED');
  }
  assert.deepEqual(toWireError('boom'), { name: 'Error', code: 'INTERNAL', message: 'boom' });
  // a plain Error (Node's file errors): its name would add nothing to the message
  const eloop = "ELOOP: too many symbolic links encountered, scandir '/s/objects'";
  assert.deepEqual(toWireError(new Error(eloop)), { name: 'Error', code: 'INTERNAL', message: eloop }); // prettier-ignore
  assert.equal(toWireError(new InputError('y'.repeat(5000))).message.length, 2000);
  assert.equal(describeError(new TypeError('z')), 'TypeError: z');
});

test('a bundle path is an existing .lockstep file; anything else is a ref', (t) => {
  const dir = useTempDir(t);
  const file = join(dir, 'run.lockstep');
  assert.equal(isBundlePath(file), false, 'not there yet: a ref');
  writeFileSync(file, 'PK');
  assert.equal(isBundlePath(file), true);
  assert.equal(isBundlePath(dir), false, 'a folder is not a bundle');
  assert.equal(isBundlePath('main'), false);
  // a branch may be named like a bundle, with a folder-like name too
  assert.equal(isBundlePath('team/run.lockstep'), false);
});

test('one version: package.json, the CLI, bundles and the service say the same', () => {
  assert.equal(APP_VERSION, pkg.version);
  assert.equal(APP.version, pkg.version);
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'lockstep.mjs'), '--version'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), pkg.version);
});
