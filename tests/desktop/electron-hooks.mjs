/**
 * Module resolution hook for tests/desktop/main-wiring.test.ts (registered with
 * `module.register`): the specifier `electron` resolves to ./electron-stub.mjs, so the real
 * src/main/index.ts loads in plain Node. Nothing in production code knows about it.
 */
export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'electron') {
    return { url: new URL('./electron-stub.mjs', import.meta.url).href, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
