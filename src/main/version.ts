/**
 * The app's version: package.json's `version`, read at build time (a JSON import), so the CLI's
 * `--version`, the service's storeInfo and every bundle's manifest say the same thing.
 */
import pkg from '../../package.json' with { type: 'json' };

export const APP_NAME: string = pkg.name;
export const APP_VERSION: string = pkg.version;
