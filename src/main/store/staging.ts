/**
 * Staging objects for an import (issue 20: validate everything first, hold little in memory).
 *
 * An importer writes each object it will need as a temp file in the store's `objects/` folder
 * (`objects/.tmp-<pid>-<random>`: the names the store already treats as a write in progress —
 * fsck lists an abandoned one, gc removes those of dead processes), fsynced and checked against
 * its id, one object in memory at a time. Only when every object is staged does it commit: the
 * store renames staged objects into their places (`Store.putStagedCheckpoint`, under the writer
 * lock, next to the node record that needs them). `discard()` removes whatever was staged and not
 * committed, so an import that fails before its commit leaves every file of the store as it was
 * (no fan-out folder is made before a commit either).
 * An object the store already holds intact is not staged (it is touched, as `putObject` does, so a
 * concurrent gc's grace period keeps it); a damaged copy is staged and replaced at commit.
 */
import path from 'node:path';
import { sha256Hex } from '../engine/state';
import { hashFile } from './fsutil';
import type { Store } from './store';

export class ObjectStaging {
  private readonly staged = new Map<string, string>();

  constructor(private readonly store: Store) {}

  /** Stages `bytes`, which must hash to `id`; nothing when the store holds it intact. */
  async stage(id: string, bytes: Uint8Array): Promise<void> {
    if (this.staged.has(id)) {
      return;
    }
    if (sha256Hex(bytes) !== id) {
      throw new Error(`staging: bytes do not hash to ${id}`);
    }
    const file = this.store.layout.object(id);
    if ((await hashFile(file))?.hash === id) {
      await this.store.io.touch(file);
      return;
    }
    await this.store.io.mkdirp(this.store.layout.objects);
    this.staged.set(id, await this.store.io.writeTemp(this.store.layout.objects, bytes));
  }

  /** Whether `id` is staged and not yet committed. */
  has(id: string): boolean {
    return this.staged.has(id);
  }

  /** @internal Renames a staged object into place (the caller holds the writer lock). */
  async commit(id: string): Promise<void> {
    const tmp = this.staged.get(id);
    if (tmp === undefined) {
      return;
    }
    await this.store.io.renameInto(tmp, this.store.layout.object(id));
    this.staged.delete(id);
  }

  /** Removes every staged object that was not committed. */
  async discard(): Promise<void> {
    for (const tmp of this.staged.values()) {
      await this.store.io.unlink(tmp).catch(() => undefined);
    }
    this.staged.clear();
  }

  /** Paths of the staged files (for tests and messages). */
  files(): string[] {
    return [...this.staged.values()].map((f) => path.relative(this.store.dir, f));
  }
}
