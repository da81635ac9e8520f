/**
 * One study run in its own process (started by study.ts as `node --import tsx study-runner.ts`):
 * reads `{ store, request }` as JSON on stdin, trains with startRun into that store and prints
 * the JobResult as one JSON line on stdout. SIGTERM stops the run after its current step (the
 * checkpoint there is written). Errors: one line on stderr, exit code 2.
 */
import { Store } from '../store/store';
import { startRun, type StartRequest } from './train';

async function main(): Promise<void> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
  }
  const input = JSON.parse(text) as { store: string; request: StartRequest };
  const store = await Store.open(input.store, { create: false });
  const abort = new AbortController();
  process.on('SIGTERM', () => abort.abort());
  const result = await startRun(store, input.request, {}, abort.signal);
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message.split('\n')[0] : String(e)}\n`);
  process.exitCode = 2;
});
