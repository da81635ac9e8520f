/**
 * The packaging configuration (electron-builder.yml) passes electron-builder's own configuration
 * check (app-builder-lib's `getConfig` + `validateConfiguration`, against its JSON schema), names
 * the promised targets, and ships what the app loads at run time. It cannot be built here (that
 * needs the network for the Electron binary); this is what can be checked offline.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { ROOT } from './helpers';

const require = createRequire(import.meta.url);

interface BuilderConfig {
  files?: { filter: string[] }[];
  linux?: { target?: unknown; [key: string]: unknown };
  mac?: { target?: unknown };
  win?: { target?: unknown };
  directories?: { output?: string };
  [key: string]: unknown;
}

const { getConfig, validateConfiguration } = require('app-builder-lib/out/util/config/config') as {
  getConfig(dir: string, path: string | null, options: null): Promise<BuilderConfig>;
  validateConfiguration(config: BuilderConfig, logger: unknown): Promise<void>;
};
const { DebugLogger } = require('builder-util') as {
  DebugLogger: new (enabled: boolean) => unknown;
};

test('electron-builder.yml is a valid electron-builder configuration', async () => {
  const config = await getConfig(ROOT, null, null);
  await validateConfiguration(config, new DebugLogger(false));

  const targets = (t: unknown): string[] => (Array.isArray(t) ? t.map(String) : [String(t)]);
  assert.deepEqual(targets(config.linux?.target).sort(), ['AppImage', 'deb']);
  assert.deepEqual(targets(config.mac?.target), ['dmg']);
  assert.deepEqual(targets(config.win?.target), ['nsis']);
  assert.equal(config.directories?.output, 'dist', 'dist/ is git-ignored');
  const files = (config.files ?? []).flatMap((f) => f.filter);
  for (const needed of ['out/**', 'resources/**', 'package.json']) {
    assert.ok(files.includes(needed), `${needed} is packaged`);
  }
});

test('the check is real: an unknown option is refused', async () => {
  const config = await getConfig(ROOT, null, null);
  await assert.rejects(
    validateConfiguration(
      { ...config, linux: { ...config.linux, targets: ['deb'] } },
      new DebugLogger(false),
    ),
    /configuration\.linux/,
  );
});
