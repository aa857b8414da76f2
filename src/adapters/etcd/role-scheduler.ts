import { hostname } from "node:os";
import { throwIfAborted } from "../../clock.js";
import type { Lease, RoleScheduler } from "../../rolescheduler.js";
import { InvalidOptionError } from "../../errors.js";
import type { EtcdClient } from "./driver.js";
import { KeyWatch } from "./key-watch.js";
import { Session } from "./session.js";

/** Options of {@link EtcdRoleScheduler}. */
export interface EtcdRoleSchedulerOptions {
  /** Your etcd client (`new Etcd3(...)` from `etcd3`, or a namespace of one); never closed by stepwise. */
  client: EtcdClient;
  /**
   * Seconds the lease lives without renewal: how long the roles of a process that died stay
   * taken. A whole number, at least 1; etcd may round it up to its minimum (2 s by default).
   * Default 5.
   */
  ttl?: number;
  /** Put before every role name to make its key. Default "stepwise/roles/". */
  prefix?: string;
}

/**
 * A {@link RoleScheduler} on etcd, the counterpart of the Go library's rink scheduler. A role is
 * a key (`prefix + role`) created only if absent, in a transaction, and attached to the
 * scheduler's lease, which the client keeps alive; its value names the holder (host and process
 * id). Waiters watch the key and try again when it is deleted, so an abandoned wait leaves nothing
 * behind in etcd. A role is exclusive across every process on the cluster, and within this one.
 *
 * A lease's signal aborts when the role is released, when the signal given to `await` aborts, when
 * its key is deleted (by anyone), and when the etcd lease can no longer be trusted: etcd revoked or
 * expired it, a renewal failed, or none was confirmed within three quarters of the TTL. A process
 * that dies loses its roles when etcd expires its lease, after the TTL.
 *
 * ```ts
 * import { Etcd3 } from "etcd3";
 * import { EtcdRoleScheduler } from "stepwise/etcd";
 * const client = new Etcd3({ hosts: "127.0.0.1:2379" });
 * const wf = b.build({ ...postgres({ pool }), roleScheduler: new EtcdRoleScheduler({ client, ttl: 5 }) });
 * ```
 */
export class EtcdRoleScheduler implements RoleScheduler {
  readonly #client: EtcdClient;
  readonly #ttl: number;
  readonly #prefix: string;
  readonly #holder = `${hostname()}:${process.pid}`;
  /** Await calls in progress plus leases not yet released; the session is closed when none is left. */
  #users = 0;
  #session: Promise<Session> | undefined;

  constructor(options: EtcdRoleSchedulerOptions) {
    const ttl = options.ttl ?? 5;
    if (!Number.isInteger(ttl) || ttl < 1) throw new InvalidOptionError("ttl", `EtcdRoleScheduler: ttl must be a whole number of seconds, at least 1 (got ${ttl})`);
    this.#client = options.client;
    this.#ttl = ttl;
    this.#prefix = options.prefix ?? "stepwise/roles/";
  }

  async await(role: string, signal: AbortSignal): Promise<Lease> {
    throwIfAborted(signal);
    const key = this.#prefix + role;
    this.#users++;
    let watch: KeyWatch | undefined;
    let lease: Lease | undefined;
    try {
      for (;;) {
        const session = await untilAborted(this.#currentSession(), signal);
        const reconnects = watch?.reconnects ?? 0;
        const client = this.#client;
        let revision: bigint;
        let created: boolean;
        try {
          const response = await client
            .if(key, "Create", "==", 0)
            .then(client.put(key).value(this.#holder).lease(session.id))
            .commit();
          revision = BigInt(response.header.revision);
          created = response.succeeded;
        } catch (err) {
          // The lease ended under us (revoked, expired) before the client noticed: start a new one.
          if (!isLeaseNotFound(err)) throw err;
          session.lose(new Error(`the etcd lease ${session.id} is gone`, { cause: err }));
          continue;
        }
        if (created) {
          // The session was given up while the put was in flight: the key goes with its lease.
          if (session.signal.aborted) continue;
          if (signal.aborted) {
            await this.#delete(key, revision).catch((err: unknown) => session.lose(asError(err)));
            throwIfAborted(signal);
          }
          if (watch?.failure) {
            watch.close();
            watch = undefined;
          }
          // A put's revision is the key's create revision: later deletions are the ones that count.
          lease = this.#lease(role, key, revision, session, (watch ??= new KeyWatch(client, key, revision)), signal);
          return lease;
        }
        if (watch?.failure) {
          watch.close();
          watch = undefined;
        }
        const current = (watch ??= new KeyWatch(client, key, revision));
        // Another holder has the key: try again once it is deleted, or when the watch may have missed that.
        await current.until(() => current.isDeletedAfter(revision) || current.reconnects !== reconnects || current.failure !== undefined, signal);
      }
    } finally {
      if (!lease) {
        watch?.close();
        await this.#leave();
      }
    }
  }

  /** Holds the role whose key was created at `revision` until it is released or lost. */
  #lease(role: string, key: string, revision: bigint, session: Session, watch: KeyWatch, signal: AbortSignal): Lease {
    const controller = new AbortController();
    let stopped = false;
    let released: Promise<void> | undefined;
    const stop = (reason: Error) => {
      if (stopped) return;
      stopped = true;
      signal.removeEventListener("abort", onAbort);
      session.signal.removeEventListener("abort", onSessionLost);
      unsubscribe();
      watch.close();
      controller.abort(reason);
    };
    const release = (): Promise<void> =>
      (released ??= (async () => {
        stop(new Error(`role "${role}" was released`));
        // Conditional on the create revision, so it never deletes the key of a later holder.
        if (!session.signal.aborted) {
          // Left behind, the key would keep the role taken for as long as the session lives.
          await this.#delete(key, revision).catch((err: unknown) => session.lose(asError(err)));
        }
        await this.#leave();
      })());
    const onAbort = () => void release();
    const onSessionLost = () => stop(new Error(`role "${role}" was lost with its etcd lease`, { cause: session.signal.reason }));
    let reconnects = watch.reconnects;
    const unsubscribe = watch.subscribe(() => {
      if (watch.isDeletedAfter(revision)) return stop(new Error(`role "${role}" was lost: its key ${key} was deleted`));
      if (watch.failure) return stop(new Error(`role "${role}" was lost: its watch on ${key} ended`, { cause: watch.failure }));
      if (watch.reconnects !== reconnects) {
        reconnects = watch.reconnects;
        // The watch may have missed a deletion while it was away: look at the key itself.
        this.#client
          .get(key)
          .exec()
          .then(({ kvs }) => {
            if (kvs[0]?.create_revision !== String(revision)) stop(new Error(`role "${role}" was lost: its key ${key} is gone`));
          })
          .catch(() => undefined); // etcd unreachable: the session's renewals decide then
      }
    });
    signal.addEventListener("abort", onAbort, { once: true });
    session.signal.addEventListener("abort", onSessionLost, { once: true });
    if (session.signal.aborted) onSessionLost();
    return { signal: controller.signal, release };
  }

  /** Deletes the role's key if it is still the one created at `revision`. */
  async #delete(key: string, revision: bigint): Promise<void> {
    const client = this.#client;
    await client.if(key, "Create", "==", String(revision)).then(client.delete().key(key)).commit();
  }

  /** The live session, opening one when there is none or the last one was lost. */
  async #currentSession(): Promise<Session> {
    for (;;) {
      let pending = this.#session;
      if (!pending) {
        const opening = Session.open(this.#client, this.#ttl);
        opening.catch(() => {
          if (this.#session === opening) this.#session = undefined;
        });
        this.#session = pending = opening;
      }
      const session = await pending;
      if (!session.signal.aborted) return session;
      if (this.#session === pending) this.#session = undefined;
    }
  }

  /** Closes the session (revoking its lease) once nothing is awaited or held. */
  async #leave(): Promise<void> {
    this.#users--;
    if (this.#users > 0 || !this.#session) return;
    const pending = this.#session;
    this.#session = undefined;
    const session = await pending.catch(() => undefined);
    await session?.close();
  }
}

/** etcd refuses a put on a lease that no longer exists with "requested lease not found". */
function isLeaseNotFound(err: unknown): boolean {
  return err instanceof Error && /lease not found|expired or revoked/.test(err.message);
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Settles as `work` does, or rejects with the signal's reason once it aborts (`work` goes on). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  throwIfAborted(signal);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
