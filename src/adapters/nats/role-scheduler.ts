import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { jetstream, StorageType, type JetStreamClient } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { untilAborted } from "../../abort.js";
import { systemClock } from "../../clock.js";
import { RoleClaims } from "../../role-claims.js";
import { decodeMemberRoles, encodeMemberRoles, type ListedMember, type MemberListing } from "../../role-membership.js";
import type { Lease, RoleScheduler } from "../../rolescheduler.js";
import { InvalidOptionError } from "../../errors.js";
import { answered } from "./answered.js";
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
   * own, and the scheduler follows it. A scheduler's membership (which roles spread to it) lives
   * in the bucket too, renewed every third of it. Default 5,000.
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

/** A role's key as this process holds it. */
interface Hold {
  key: string;
  value: string;
  /** The revision last written: every update and the delete are conditional on it. */
  revision: number;
  bucket: Bucket;
  /** When the create that granted the key was sent: its TTL counts from about then. */
  askedAtMs: number;
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
 * Roles spread over the processes on the bucket: each scheduler that awaits roles keeps a key
 * `members.<id>` naming them, put again every TTL/3, and lists those keys as often. It takes only
 * the roles assigned to it, about its share, and hands a role over when the assignment moves it.
 * A dead scheduler's key expires with its role keys, and its roles are reassigned then.
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
  readonly #instance = { host: hostname(), pid: process.pid };
  /** This scheduler's key among the members: role keys never hold a ".". */
  readonly #memberKey = `members.${roleKey(`${hostname()}-${process.pid}-${randomUUID()}`)}`;
  readonly #claims: RoleClaims<Hold>;
  #bucket: Promise<Bucket> | undefined;
  /** The open bucket's TTL, once known. */
  #bucketTtlMs: number | undefined;

  constructor(options: NatsRoleSchedulerOptions) {
    const ttlMs = () => this.#bucketTtlMs ?? this.#ttlMs;
    this.#connection = options.connection;
    this.#bucketName = checkBucket(options.bucket ?? "stepwise_roles");
    this.#ttlMs = options.ttlMs ?? 5_000;
    this.#replicas = options.replicas ?? 1;
    if (!(this.#ttlMs >= 100)) throw new InvalidOptionError("ttlMs", `ttlMs must be at least 100, got ${options.ttlMs}`);
    // A renewal that takes longer than TTL/3 has failed: its lease must end before the key expires.
    this.#js = jetstream(this.#connection, { timeout: Math.max(50, Math.floor(this.#ttlMs / 3)) });
    this.#claims = new RoleClaims("NatsRoleScheduler", {
      acquire: (role, signal) => this.#acquire(role, signal),
      // Conditional on our revision, so it never deletes a later holder's key.
      release: async (_role, hold) => void (await answered(this.#connection, hold.bucket.kv.delete(hold.key, { previousSeq: hold.revision }))),
      renewal: {
        // An existing bucket keeps its own TTL.
        ttlMs: (hold) => hold.bucket.ttlMs,
        askedAtMs: (hold) => hold.askedAtMs,
        renew: async (_role, hold) => {
          const renewing = hold.bucket.kv.update(hold.key, hold.value, hold.revision, Math.max(50, Math.floor(hold.bucket.ttlMs / 3)));
          hold.revision = await answered(this.#connection, renewing);
          return true;
        },
      },
      members: {
        // Before the bucket is open, the TTL asked for; after, the bucket's own.
        get beatMs() {
          return ttlMs() / 3;
        },
        beat: (roles) => this.#beat(roles),
        leave: async () => {
          const bucket = await this.#bucket;
          if (bucket) await answered(this.#connection, bucket.kv.delete(this.#memberKey));
        },
      },
    });
  }

  async await(role: string, signal: AbortSignal): Promise<Lease> {
    return this.#claims.await(role, signal);
  }

  /** Puts our member key with the roles we await (which renews it), and lists the member keys. */
  async #beat(roles: readonly string[]): Promise<MemberListing> {
    const bucket = await this.#open();
    const action = `list the members in bucket "${this.#bucketName}"`;
    try {
      await answered(this.#connection, bucket.kv.put(this.#memberKey, encodeMemberRoles(roles)));
      // The stream's subjects, then each key's latest entry: no consumer, whose deliveries stall
      // while the keys it is sent expire under it.
      const subjectPrefix = `$KV.${this.#bucketName}.`;
      const jsm = await this.#js.jetstreamManager(false);
      const info = await answered(this.#connection, jsm.streams.info(`KV_${this.#bucketName}`, { subjects_filter: `${subjectPrefix}members.>` }));
      const keys = Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(subjectPrefix.length));
      const entries = await answered(this.#connection, Promise.all(keys.map((key) => bucket.kv.get(key))));
      const members: ListedMember[] = [];
      for (const entry of entries) {
        if (entry?.operation === "PUT") members.push({ id: entry.key, roles: decodeMemberRoles(entry.string()) });
      }
      return { self: this.#memberKey, members };
    } catch (err) {
      throw translateError(err, action, this.#connection);
    }
  }

  /** Creates the role's key, trying again every TTL/4 while another process has it. */
  async #acquire(role: string, signal: AbortSignal): Promise<Hold> {
    const key = roleKey(role);
    for (;;) {
      const bucket = await untilAborted(this.#open(), signal);
      const value = JSON.stringify({ ...this.#instance, token: randomUUID() } satisfies RoleHolder);
      try {
        const askedAtMs = systemClock.now().getTime();
        return { key, value, revision: await answered(this.#connection, bucket.kv.create(key, value)), bucket, askedAtMs };
      } catch (err) {
        if (!hasApiCode(err, ApiCode.wrongLastSequence) && !hasApiCode(err, ApiCode.wrongLastSequenceUnknown)) {
          throw translateError(err, `claim role "${role}" in bucket "${this.#bucketName}"`, this.#connection);
        }
      }
      // Held in another process: it is free once released there or expired.
      await systemClock.sleep(bucket.ttlMs / 4, signal);
    }
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
      const opening = new Kvm(this.#js).create(this.#bucketName, {
        ttl: this.#ttlMs,
        history: 1,
        storage: StorageType.File,
        replicas: this.#replicas,
      });
      const kv = await answered(this.#connection, opening);
      const { ttl } = await answered(this.#connection, kv.status());
      if (!(ttl > 0)) {
        throw new InvalidOptionError("bucket", `key-value bucket "${this.#bucketName}" has no TTL, so a crashed holder's roles would never be freed: delete it, or name another bucket`);
      }
      this.#bucketTtlMs = ttl;
      return { kv, ttlMs: ttl };
    } catch (err) {
      throw translateError(err, action, this.#connection);
    }
  }
}
