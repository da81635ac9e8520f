/**
 * Project skeleton checks that protect the promise at the package level: every TensorFlow.js
 * package is pinned to one exact version (bits depend on the tfjs version), and installing the
 * project runs no postinstall script of ours.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

interface PackageJson {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
}

const pkg = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8'),
) as PackageJson;

test('package.json pins every @tensorflow/* package to one exact version and has no postinstall', () => {
  const tfjs = [pkg.dependencies, pkg.optionalDependencies, pkg.devDependencies].flatMap((deps) =>
    Object.entries(deps ?? {}).filter(([name]) => name.startsWith('@tensorflow/')),
  );
  assert.ok(tfjs.length > 0, 'no @tensorflow/* dependency found');
  for (const [name, range] of tfjs) {
    assert.match(range, /^\d+\.\d+\.\d+$/, `${name} is not pinned to an exact version: ${range}`);
  }
  const versions = new Set(tfjs.map(([, range]) => range));
  assert.equal(versions.size, 1, `@tensorflow/* versions differ: ${[...versions].join(', ')}`);

  assert.ok(!('postinstall' in (pkg.scripts ?? {})), 'package.json has a postinstall script');
});
