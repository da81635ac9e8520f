#!/usr/bin/env node
// The `lockstep` command as it was started before bin/lockstep.cjs (scripts, job directories and
// task scripts written earlier call `node bin/lockstep.mjs …`): runs bin/lockstep.cjs, the same
// program. Node boots its ES module loader for this file itself; `lockstep` (package.json's
// `bin`) and `node bin/lockstep.cjs` do not.
import { createRequire } from 'node:module';

createRequire(import.meta.url)('./lockstep.cjs');
