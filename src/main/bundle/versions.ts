/**
 * Versions recorded in every bundle: the app's (package.json `version`) and those of the numeric
 * libraries the engine runs on (the `@tensorflow/*` entries of package.json), plus the formats of
 * the objects the bundle carries. Read from package.json at build time, so the CLI, the tests and
 * the Electron build agree.
 */
import pkg from '../../../package.json' with { type: 'json' };
import { STATE_FORMAT } from '../engine/state';
import { TRACE_FORMAT } from '../engine/trace';
import { APP_NAME, APP_VERSION } from '../version';

export const APP = { name: APP_NAME, version: APP_VERSION };

export function engineVersions(): {
  stateFormat: string;
  traceFormat: string;
  libraries: Record<string, string>;
} {
  const deps: Record<string, string> = {
    ...pkg.dependencies,
    ...(pkg.optionalDependencies as Record<string, string>),
  };
  const libraries: Record<string, string> = {};
  for (const name of Object.keys(deps).sort()) {
    if (name.startsWith('@tensorflow/')) {
      libraries[name] = deps[name];
    }
  }
  return { stateFormat: STATE_FORMAT, traceFormat: TRACE_FORMAT, libraries };
}
