import { throwIfAborted, untilWoken } from "../../abort.js";
import type { EtcdClient, EtcdWatcher } from "./driver.js";

/**
 * Follows the deletions of one key from a revision on, for an await call's whole life: while it
 * waits (a deletion means the role may be free) and while it holds the role (a deletion means the
 * role is lost). Starting at a known revision leaves no gap between a transaction and the watch.
 */
export class KeyWatch {
  readonly #watcher: EtcdWatcher;
  readonly #listeners = new Set<() => void>();
  /** The highest revision at which the key was deleted, 0n before any. */
  #deletedAt = 0n;
  #disconnected = false;
  #reconnects = 0;
  #failure: Error | undefined;

  constructor(client: EtcdClient, key: string, afterRevision: bigint) {
    this.#watcher = client.watch().key(key).only("delete").startRevision(String(afterRevision + 1n)).watcher();
    this.#watcher.on("delete", (kv) => {
      const revision = BigInt(kv.mod_revision);
      if (revision > this.#deletedAt) this.#deletedAt = revision;
      this.#changed();
    });
    this.#watcher.on("disconnected", () => {
      this.#disconnected = true;
    });
    // The client resumes a watch after a reconnect, but a deletion may fall in the gap if etcd
    // compacted meanwhile: count reconnects so that callers look at the key again.
    this.#watcher.on("connected", () => {
      if (!this.#disconnected) return;
      this.#disconnected = false;
      this.#reconnects++;
      this.#changed();
    });
    // Never leave 'error' unheard: an EventEmitter with no listener for it ends the process.
    this.#watcher.on("error", (err) => {
      this.#failure ??= err;
      this.#changed();
    });
  }

  /** Whether the key was deleted at a revision after `revision`. */
  isDeletedAfter(revision: bigint): boolean {
    return this.#deletedAt > revision;
  }

  /** How often the watch reconnected to etcd. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** Why etcd cancelled the watch, once it did: it reports nothing more. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Calls `listener` on every deletion, reconnect and failure; returns the function that stops it. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Resolves once `isSettled()` holds, checking now and after every change; rejects with the
   * signal's reason if it aborts first.
   */
  async until(isSettled: () => boolean, signal: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    if (isSettled()) return;
    await untilWoken((wake) => this.subscribe(() => isSettled() && wake()), signal);
  }

  /** Stops the watch; does not wait for etcd, which may be unreachable. */
  close(): void {
    this.#listeners.clear();
    void this.#watcher.cancel().catch(() => undefined);
  }

  #changed(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}
