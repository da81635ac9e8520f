/**
 * CPU ms (user + system) used so far by this process's finished, waited-for children, from
 * /proc/self/stat (Linux; clock ticks of 10 ms: USER_HZ is 100), or null elsewhere. On a machine
 * shared with other work the CPU time of a run is a steadier figure than its wall-clock time.
 */
import { readFileSync } from 'node:fs';

export function childCpuMs(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // the fields after the command name, from the state (3rd of the man page) on: cutime and
    // cstime, the 16th and 17th, are [13] and [14]
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[13]) + Number(fields[14]);
    return Number.isFinite(ticks) ? ticks * 10 : null;
  } catch {
    return null;
  }
}
