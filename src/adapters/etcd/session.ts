import { setMaxListeners } from "node:events";
import { performance } from "node:perf_hooks";
import { systemClock } from "../../clock.js";
import type { EtcdClient, EtcdLease } from "./driver.js";

/**
 * One etcd lease that every role key of a scheduler is attached to, kept alive by the client
 * (etcd's own "session"). Its signal aborts once the lease can no longer be trusted: etcd said it
 * is gone, a renewal failed, or no renewal was confirmed in time. The holders then stop, and the
 * next await opens a new session.
 */
export class Session {
  readonly #lease: EtcdLease;
  readonly #ttlMs: number;
  readonly #controller = new AbortController();
  /**
   * Until when etcd surely keeps the lease, by `performance.now()`: a lease renewed by a request
   * sent at `t` lives at least until `t + ttl` on the server, since the server renewed it later.
   */
  #validUntilMs: number;
  /** When the oldest renewal not yet answered was sent. */
  #firstUnansweredMs: number | undefined;

  private constructor(
    lease: EtcdLease,
    ttlMs: number,
    readonly id: string,
    sentAtMs: number,
  ) {
    this.#lease = lease;
    this.#ttlMs = ttlMs;
    this.#validUntilMs = sentAtMs + ttlMs;
    // Every role held on this lease listens for its loss: a workflow holds dozens.
    setMaxListeners(0, this.#controller.signal);
    lease.on("keepaliveFired", () => {
      this.#firstUnansweredMs ??= performance.now();
    });
    lease.on("keepaliveSucceeded", () => {
      if (this.#firstUnansweredMs === undefined) return;
      this.#validUntilMs = Math.max(this.#validUntilMs, this.#firstUnansweredMs + this.#ttlMs);
      this.#firstUnansweredMs = undefined;
    });
    lease.on("keepaliveFailed", (err) => this.lose(new Error(`the etcd lease ${id} could not be renewed`, { cause: err })));
    lease.on("lost", (err) => this.lose(new Error(`the etcd lease ${id} was lost`, { cause: err })));
    void this.#expireUnlessRenewed();
  }

  /** Grants a lease of `ttl` seconds; rejects if etcd does not grant it. */
  static async open(client: EtcdClient, ttl: number): Promise<Session> {
    const sentAtMs = performance.now();
    const lease = client.lease(ttl, { autoKeepAlive: true });
    // Renewals start as soon as the grant arrives, before this function resumes: count them from here.
    let firstFiredMs: number | undefined;
    const onFired = () => (firstFiredMs ??= performance.now());
    lease.on("keepaliveFired", onFired);
    let id: string;
    try {
      id = await lease.grant();
    } catch (err) {
      lease.removeAllListeners();
      throw err;
    }
    lease.removeAllListeners();
    const session = new Session(lease, ttl * 1000, id, sentAtMs);
    session.#firstUnansweredMs = firstFiredMs;
    return session;
  }

  /** Aborts when the lease can no longer be trusted or the session was closed. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Gives the lease up: its holders stop now; etcd drops its keys at the revoke, or at expiry if etcd is unreachable. */
  lose(reason: Error): void {
    if (this.#end(reason)) void this.#lease.revoke().catch(() => undefined);
  }

  /** Ends the session when nothing uses it any more, revoking the lease. */
  async close(): Promise<void> {
    if (this.#end(new Error("the etcd session was closed"))) await this.#lease.revoke().catch(() => undefined);
  }

  #end(reason: Error): boolean {
    if (this.#controller.signal.aborted) return false;
    this.#controller.abort(reason);
    this.#lease.removeAllListeners();
    return true;
  }

  /**
   * Ends the session a quarter of a TTL before etcd could expire the lease unrenewed, so a holder
   * stops before another process can be granted its roles, even when the client hears nothing.
   */
  async #expireUnlessRenewed(): Promise<void> {
    const marginMs = this.#ttlMs / 4;
    while (!this.signal.aborted) {
      const leftMs = this.#validUntilMs - marginMs - performance.now();
      if (leftMs <= 0) {
        this.lose(new Error(`the etcd lease ${this.id} was not renewed in time`));
        return;
      }
      await systemClock.sleep(leftMs, this.signal).catch(() => undefined);
    }
  }
}
