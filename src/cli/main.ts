/**
 * `npx lockstep <command>` as an ES module (the sources through tsx, and the ESM CLI bundle's
 * `lockstep.js`): runs the command line of this process (./program.ts).
 */
import { main } from './program';

await main(process.argv);
