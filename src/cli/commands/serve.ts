/**
 * `serve [--port N]`: web mode — the service over a WebSocket and the built renderer, on
 * 127.0.0.1 only, behind a random token carried by the printed URL (see src/main/web/server.ts).
 *
 * Output: the URL is the first line of stdout; with --json, `{ url, port, token }` follows as the
 * last line. Everything else goes to stderr. Ctrl-C (or SIGTERM, SIGHUP) stops running jobs,
 * which write a checkpoint at their current step, then exits. It also stops that way when the
 * process that started it goes away (e.g. `npx`/`npm exec` killed with SIGTERM, which does not
 * pass the signal on): the parent pid is watched, so no orphan keeps the port.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { repoRoot } from '../../main/entry-points';
import { defaultStoreDir } from '../../main/store/location';
import { globalOptions } from '../context';
import { CliError } from '../errors';
import { intArg } from '../options';

/** The built renderer of this checkout (`npm run build` writes it). */
const builtRenderer = (): string => join(repoRoot(), 'out', 'renderer');
export const DEFAULT_PORT = 4780;

/** How often the parent pid is checked. */
const PARENT_POLL_MS = 500;

/**
 * Calls `gone` once when this process's parent exits (it is re-parented, so its ppid changes).
 * The timer does not keep the process alive.
 */
export function watchParent(gone: () => void): NodeJS.Timeout {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      gone();
    }
  }, PARENT_POLL_MS);
  timer.unref();
  return timer;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('web mode: the app in a browser, on 127.0.0.1 with a token in the URL')
    .option(
      '--port <n>',
      `port on 127.0.0.1 (0 picks a free one; default ${DEFAULT_PORT})`,
      intArg(0),
    )
    .option('--ui <dir>', 'the built renderer to serve (default: out/renderer)')
    .option('--max-parallel <n>', 'training jobs at once (default: one per core)', intArg(1))
    .action(async (opts: { port?: number; ui?: string; maxParallel?: number }, cmd: Command) => {
      const g = globalOptions(cmd);
      const rendererDir = resolve(opts.ui ?? builtRenderer());
      if (!existsSync(join(rendererDir, 'index.html'))) {
        throw new CliError(
          `the web UI is not built (${join(rendererDir, 'index.html')} is missing): run \`npm run build\` first`,
        );
      }
      const port = opts.port ?? DEFAULT_PORT;
      if (port > 65535) {
        throw new CliError(`--port must be from 0 to 65535, got ${port}`);
      }
      // loaded on use: tfjs and the engine stay out of every other command's start
      const { createService } = await import('../../main/service/service');
      const { startWebServer } = await import('../../main/web/server');
      const service = await createService({
        storeDir: g.store ?? defaultStoreDir(),
        ...(opts.maxParallel !== undefined ? { maxParallel: opts.maxParallel } : {}),
      });
      let server;
      try {
        server = await startWebServer({ service, rendererDir, port });
      } catch (e) {
        await service.close();
        const code = (e as { code?: string }).code;
        throw new CliError(
          code === 'EADDRINUSE'
            ? `port ${port} on 127.0.0.1 is in use: pass --port 0 for a free one`
            : `cannot listen on 127.0.0.1:${port}: ${(e as Error).message}`,
        );
      }
      process.stdout.write(`Lockstep web mode: ${server.url}\n`);
      if (g.json) {
        process.stdout.write(
          JSON.stringify({ url: server.url, port: server.port, token: server.token }) + '\n',
        );
      } else {
        process.stderr.write(`store ${g.store ?? defaultStoreDir()}; Ctrl-C to stop\n`);
      }
      await new Promise<void>((done) => {
        let stopping = false;
        const stop = (): void => {
          if (stopping) {
            process.stderr.write('lockstep: killed\n');
            process.exit(130);
          }
          stopping = true;
          process.stderr.write('lockstep: stopping (running jobs write a checkpoint)…\n');
          void server
            .close()
            .then(() => service.close())
            .then(done);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        process.on('SIGHUP', stop);
        const watch = watchParent(() => {
          process.stderr.write('lockstep: the parent process is gone\n');
          stop();
        });
        process.once('exit', () => clearInterval(watch));
      });
    });
}
