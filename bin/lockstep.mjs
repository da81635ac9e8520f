#!/usr/bin/env node
// The `lockstep` command: runs the TypeScript CLI through tsx, so it works right after
// `npm install` with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
