import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { jetstream, StorageType, type JetStreamClient } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { aborted, systemClock } from "../../clock.js";
import type { Lease, RoleScheduler } from "../../rolescheduler.js";
import { InvalidOptionError } from "../../errors.js";
import { ApiCode, checkOpen, hasApiCode, translateError, type NatsConnection } from "./driver.js";
import { checkBucket, roleKey } from "./names.js";

/** Options of {@link NatsRoleScheduler}. */
export interface NatsRoleSchedulerOptions {
  /** The user's connection; stepwise never closes or drains it. */
  connection: NatsConnection;
  /** The key-value bucket holding one key per held role. Default "stepwise_roles". */
  bucket?: string;
  /**
   * How long a role outlives a holder that stopped renewing it (it crashed, or lost the server),
   * in ms: the bucket's `max_age`. Used when the bucket is created; an existing bucket keeps its
   * own, and the scheduler follows it. Default 5,000.
   */
  ttlMs?: number;
  /** Replicas of the bucket in a cluster. Default 1. */
  replicas?: number;
}

/** The value of a role's key: who holds it. For people looking at the bucket; the revision is what counts. */
export interface RoleHolder {
  host: string;
  pid: number;
  /** Unique per lease. */
  token: string;
}

/** A role held in this process, or being claimed by one of its awaits. */
interface Held {
  /** Resolves when the role is free again in this process. */
  released: Promise<void>;
  free(): void;
}

/** The bucket, and the TTL its keys live by. */
interface Bucket {
  kv: KV;
  ttlMs: number;
}

/**
 * A {@link RoleScheduler} on a NATS JetStream key-value bucket whose keys expire after a TTL.
 * A role is taken by creating its key (which fails while the key exists) and kept by updating it
 * every TTL/3 against the revision last written; an update that fails (someone deleted the key,
 * it expired, the server is unreachable) aborts the lease's signal, before the key can expire and
 * pass to someone else. Release deletes the key, again only at our revision. An await for a role
 * held elsewhere tries again every TTL/4; within one process a waiter is woken by the release.
 *
 * A dead holder's roles are free once its keys expire: within the bucket's TTL of its last
 * renewal (the server checks expiry about as often), then the next retry of a waiter takes them.
 *
 * @example
 * ```ts
 * const roleScheduler = new NatsRoleScheduler({ connection, ttlMs: 5_000 });
 * ```
 */
export class NatsRoleScheduler implements RoleScheduler {
  readonly #connection: NatsConnection;
  readonly #bucketName: string;
  readonly #ttlMs: number;
  readonly #replicas: number;
  readonly #js: JetStreamClient;
  readonly #held = new Map<string, Held>();
  readonly #instance = { host: hostname(), pid: process.pid };
  #bucket: Promise<Bucket> | undefined;

  constructor(options: NatsRoleSchedulerOptions) {
    this.#connection = options.connection;
    this.#bucketName = checkBucket(options.bucket ?? "stepwise_roles");
    this.#ttlMs = options.ttlMs ?? 5_000;
    this.#replicas = options.replicas ?? 1;
    if (!(this.#ttlMs >= 100)) throw new InvalidOptionError("ttlMs", `ttlMs must be at least 100, got ${options.ttlMs}`);
    // A renewal that takes longer than TTL/3 has failed: its lease must end before the key expires.
    this.#js = jetstream(this.#connection, { timeout: Math.max(50, Math.floor(this.#ttlMs / 3)) });
  }

  async await(role: string, signal: AbortSignal): Promise<Lease> {
    const key = roleKey(role);
    for (;;) {
      signal.throwIfAborted();
      const local = this.#held.get(role);
      if (local) {
        await Promise.race([local.released, aborted(signal)]);
        continue;
      }
      const bucket = await this.#open();
      signal.throwIfAborted();
      if (this.#held.has(role)) continue;
      // Claimed here before asking the server, so that no other await of this process asks too.
      const held = this.#claim(role);
      const value = JSON.stringify({ ...this.#instance, token: randomUUID() } satisfies RoleHolder);
      let revision: number;
      try {
        revision = await bucket.kv.create(key, value);
      } catch (err) {
        this.#unclaim(role, held);
        if (!hasApiCode(err, ApiCode.wrongLastSequence) && !hasApiCode(err, ApiCode.wrongLastSequenceUnknown)) {
          throw translateError(err, `claim role "${role}" in bucket "${this.#bucketName}"`, this.#connection);
        }
        // Held in another process: it is free once released there or expired.
        await systemClock.sleep(bucket.ttlMs / 4, signal);
        continue;
      }
      if (signal.aborted) {
        await bucket.kv.delete(key, { previousSeq: revision }).catch(() => undefined);
        this.#unclaim(role, held);
        signal.throwIfAborted();
      }
      return this.#lease(role, key, value, revision, bucket, held, signal);
    }
  }

  #lease(role: string, key: string, value: string, revision: number, bucket: Bucket, held: Held, signal: AbortSignal): Lease {
    const lease = new AbortController();
    const stopRenewing = new AbortController();
    let current = revision;
    let ended = false;
    const end = (reason: Error) => {
      ended = true;
      signal.removeEventListener("abort", onAbort);
      stopRenewing.abort(reason);
      lease.abort(reason);
    };
    const lose = (err: unknown) => {
      if (ended) return;
      const detail = err instanceof Error ? err.message : String(err);
      end(new Error(`the lease on role "${role}" was lost: renewing it failed (${detail})`, { cause: err }));
      this.#unclaim(role, held);
      // If the server still has our revision, let the next holder in now rather than at expiry.
      void bucket.kv.delete(key, { previousSeq: current }).catch(() => undefined);
    };
    const renewing = (async () => {
      for (;;) {
        await systemClock.sleep(bucket.ttlMs / 3, stopRenewing.signal);
        try {
          current = await bucket.kv.update(key, value, current, Math.max(50, Math.floor(bucket.ttlMs / 3)));
        } catch (err) {
          lose(err);
          return;
        }
      }
    })().catch(() => undefined);
    const release = async () => {
      if (ended) return;
      end(new Error(`role "${role}" was released`));
      // Let a renewal in flight finish first, so the delete names the revision the server has.
      await renewing;
      await bucket.kv.delete(key, { previousSeq: current }).catch(() => undefined);
      this.#unclaim(role, held);
    };
    const onAbort = () => void release();
    signal.addEventListener("abort", onAbort, { once: true });
    return { signal: lease.signal, release };
  }

  #claim(role: string): Held {
    let free!: () => void;
    const released = new Promise<void>((resolve) => (free = resolve));
    const held: Held = { released, free };
    this.#held.set(role, held);
    return held;
  }

  #unclaim(role: string, held: Held): void {
    if (this.#held.get(role) === held) this.#held.delete(role);
    held.free();
  }

  /** The bucket, created with the TTL on first use; a failed attempt is tried again by the next await. */
  #open(): Promise<Bucket> {
    if (!this.#bucket) {
      const pending = this.#createBucket();
      pending.catch(() => {
        if (this.#bucket === pending) this.#bucket = undefined;
      });
      this.#bucket = pending;
    }
    return this.#bucket;
  }

  async #createBucket(): Promise<Bucket> {
    const action = `open key-value bucket "${this.#bucketName}"`;
    checkOpen(this.#connection, action);
    try {
      const kv = await new Kvm(this.#js).create(this.#bucketName, {
        ttl: this.#ttlMs,
        history: 1,
        storage: StorageType.File,
        replicas: this.#replicas,
      });
      const { ttl } = await kv.status();
      if (!(ttl > 0)) {
        throw new InvalidOptionError("bucket", `key-value bucket "${this.#bucketName}" has no TTL, so a crashed holder's roles would never be freed: delete it, or name another bucket`);
      }
      return { kv, ttlMs: ttl };
    } catch (err) {
      throw translateError(err, action, this.#connection);
    }
  }
}
