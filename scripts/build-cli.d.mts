/** Types of ./build-cli.mjs (the CLI bundle), for the tests that import it. */
export declare const ROOT: string;
export declare const OUT: string;
/** The entry points, output name → source path (src/main/entry-points.json). */
export declare function entryPoints(root?: string): Record<string, string>;
/** The current build's folder when it is up to date with every input it was built from, else null. */
export declare function freshBuild(root?: string): string | null;
/** The format of out/cli/current.json (a build stamped in another format is stale). */
export declare const STAMP_VERSION: number;
/** The src/cli modules whose lazy imports the CLI's CommonJS front keeps. */
export declare function frontModules(
  metafile: {
    inputs: Record<string, { imports: { path: string; kind: string; external?: boolean }[] }>;
  },
  front: string[],
): Set<string>;
/** The file whose stamp stands for input `path` (an installed package's file: its package.json). */
export declare function stampedFile(path: string): string;
/** front.cjs's text with each `__toESM(require("node:…"))` an object whose prototype is the builtin. */
export declare function builtinNamespaces(text: string): string;
/** `text` with every character outside ASCII written as a `\u` escape (the front's last step). */
export declare function asciiOnly(text: string): string;
/** Builds the bundle and makes it current; returns its folder. */
export declare function buildCli(opts?: { log?: (line: string) => void }): Promise<string>;
/** Returns a fresh build, building one (once, under a lock) when there is none. */
export declare function ensureBuilt(opts?: {
  log?: (line: string) => void;
  waitMs?: number;
}): Promise<string>;
