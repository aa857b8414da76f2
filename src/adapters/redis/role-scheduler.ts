import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { throwIfAborted, untilAborted, untilWoken } from "../../abort.js";
import { systemClock } from "../../clock.js";
import { RoleClaims } from "../../role-claims.js";
import type { Lease, RoleScheduler } from "../../rolescheduler.js";
import { InvalidOptionError } from "../../errors.js";
import type { RedisClient, RedisConnection } from "./driver.js";
import { RedisCommandError } from "./errors.js";
import { atMost } from "./waits.js";

/** Options of {@link RedisRoleScheduler}. */
export interface RedisRoleSchedulerOptions {
  /** The user's ioredis client. stepwise sends commands on it and duplicates it, and never quits it. */
  client: RedisClient;
  /**
   * How long a lease lasts without renewal, in ms; the holder renews it every third of that. A
   * crashed holder's roles pass to another process about this long after its last renewal.
   * Default 5000.
   */
  ttlMs?: number;
  /** Put before every key and channel: role "orders-outbox-consumer" is key "stepwise:role:orders-outbox-consumer". Default "stepwise:". */
  prefix?: string;
}

// Each script runs atomically on the server, so no other client acts between its check and its write.

/** SET NX PX; when the role is taken, the milliseconds its lease has left instead. */
const acquireScript = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 'OK' end
return redis.call('PTTL', KEYS[1])`;

/** Extends the lease only while the key still holds our token: a lease that expired and was taken by another holder stays theirs. */
const renewScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** Deletes the key only if it holds our token, and tells waiting processes the role is free. */
const releaseScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0`;

/** A role's key as this process holds it. */
interface Hold {
  key: string;
  token: string;
}

/**
 * A {@link RoleScheduler} on Redis leases. A role is a key holding its holder's token (SET NX PX),
 * so each role has one holder across every process on the server, and in this process too.
 *
 * - The holder renews its lease every `ttlMs / 3` with a script that extends the key only while it
 *   still holds the holder's token. The lease's signal aborts when a renewal finds another token
 *   or none, when a renewal fails, or when none succeeded before the lease could have expired:
 *   by then another process may hold the role.
 * - `release` deletes the key only if it still holds the token (so a stale lease can never free a
 *   role for its next holder) and publishes the role's name, waking processes that wait for it.
 * - A waiting `await` tries again on that notice, when the holder's lease runs out, or every
 *   `ttlMs / 4`, whichever comes first; a crashed holder's roles are taken over about `ttlMs`
 *   after its last renewal.
 *
 * Tokens read "<host>/<pid>/<uuid>", so `GET <prefix>role:<role>` tells who holds a role.
 * A lease is not a fence on its own: a holder that stalls longer than `ttlMs` may act once more
 * after its role passed on. The record store's version check is what makes that harmless.
 *
 * ```ts
 * const roleScheduler = new RedisRoleScheduler({ client, ttlMs: 5000 });
 * ```
 */
export class RedisRoleScheduler implements RoleScheduler {
  readonly #client: RedisClient;
  readonly #ttlMs: number;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #tokenPrefix = `${hostname()}/${process.pid}/`;
  /** Wakes the awaits waiting for a role held elsewhere, on a release notice. */
  readonly #wakers = new Map<string, Set<() => void>>();
  /** The connection subscribed to release notices, open while any await waits. */
  #subscriber: { connection: RedisConnection; subscribed: Promise<void> } | undefined;
  #waiting = 0;
  readonly #claims: RoleClaims<Hold>;

  constructor(options: RedisRoleSchedulerOptions) {
    this.#client = options.client;
    this.#ttlMs = options.ttlMs ?? 5000;
    if (!(this.#ttlMs >= 30)) throw new InvalidOptionError("ttlMs", `redis role scheduler: ttlMs must be at least 30, got ${options.ttlMs}`);
    this.#prefix = options.prefix ?? "stepwise:";
    this.#channel = `${this.#prefix}role-released`;
    this.#claims = new RoleClaims("RedisRoleScheduler", {
      acquire: (role, signal) => this.#acquire(role, signal),
      // Also after a lost lease: if the key still holds our token (a renewal that timed out), this
      // frees it sooner. Not waited for longer than the lease lasts: by then the key expired anyway.
      release: (role, hold) => atMost(this.#ttlMs, this.#release(role, hold.key, hold.token)),
      renewal: {
        ttlMs: () => this.#ttlMs,
        renew: async (_role, hold) => Number(await this.#eval(renewScript, hold.key, hold.token, this.#ttlMs)) === 1,
      },
    });
  }

  /** The key that holds `role`'s lease. */
  roleKey(role: string): string {
    return `${this.#prefix}role:${role}`;
  }

  async await(role: string, signal: AbortSignal): Promise<Lease> {
    return this.#claims.await(role, signal);
  }

  /** Sets the role's key, trying again on a release notice, at its expiry, or every TTL/4. */
  async #acquire(role: string, signal: AbortSignal): Promise<Hold> {
    const key = this.roleKey(role);
    this.#waiting++;
    try {
      let listening = false;
      for (;;) {
        const token = this.#tokenPrefix + randomUUID();
        const attempt = this.#eval(acquireScript, key, token, this.#ttlMs);
        let reply: unknown;
        try {
          reply = await untilAborted(attempt, signal);
        } catch (err) {
          // Given up while the SET may still land (a server that is down): if it does, hand the role back.
          if (signal.aborted) void attempt.then((late) => (late === "OK" ? this.#release(role, key, token) : undefined)).catch(() => {});
          throw err;
        }
        if (reply === "OK") return { key, token };
        throwIfAborted(signal);
        if (!listening) {
          listening = true;
          // A release between our SET and the subscription would go unheard: try once more at once.
          await untilAborted(this.#listen(), signal);
          continue;
        }
        const leftMs = Number(reply);
        // -2: the key went away since; -1: a key without expiry, set by something else.
        const waitMs = leftMs === -2 ? 0 : Math.min(this.#ttlMs / 4, leftMs >= 0 ? leftMs + 1 : this.#ttlMs / 4);
        await this.#waitForRelease(role, waitMs, signal);
      }
    } finally {
      this.#leave();
    }
  }

  async #release(role: string, key: string, token: string): Promise<void> {
    await this.#eval(releaseScript, key, token, this.#channel, role);
  }

  /** Waits for a release notice of `role`, or `waitMs`; rejects with the signal's reason once it aborts. */
  async #waitForRelease(role: string, waitMs: number, signal: AbortSignal): Promise<void> {
    const timer = new AbortController();
    try {
      await untilWoken((wake) => {
        systemClock.sleep(waitMs, timer.signal).then(wake, () => undefined);
        let wakers = this.#wakers.get(role);
        if (!wakers) {
          wakers = new Set();
          this.#wakers.set(role, wakers);
        }
        const registered = wakers;
        registered.add(wake);
        return () => {
          registered.delete(wake);
          if (registered.size === 0 && this.#wakers.get(role) === registered) this.#wakers.delete(role);
        };
      }, signal);
    } finally {
      timer.abort();
    }
  }

  #wake(role: string): void {
    for (const wake of this.#wakers.get(role) ?? []) wake();
  }

  /** Subscribes to release notices, once, while anyone waits. Never rejects: without notices, waits end on their timers. */
  #listen(): Promise<void> {
    if (!this.#subscriber) {
      const connection = this.#client.duplicate();
      // ioredis reconnects and subscribes again by itself; meanwhile waits end on their timers.
      connection.on("error", () => {});
      connection.on("message", (channel, role) => {
        if (channel === this.#channel) this.#wake(role);
      });
      const subscribed = connection.subscribe(this.#channel).then(
        () => {},
        () => {
          if (this.#subscriber?.connection !== connection) return;
          this.#subscriber = undefined;
          connection.disconnect();
        },
      );
      this.#subscriber = { connection, subscribed };
    }
    return this.#subscriber.subscribed;
  }

  /** An await ended: the last one closes the subscription, so an idle scheduler holds no connection of its own. */
  #leave(): void {
    this.#waiting--;
    if (this.#waiting > 0 || !this.#subscriber) return;
    this.#subscriber.connection.disconnect();
    this.#subscriber = undefined;
  }

  async #eval(script: string, key: string, ...args: (string | number)[]): Promise<unknown> {
    try {
      return await this.#client.call("EVAL", script, 1, key, ...args);
    } catch (err) {
      throw new RedisCommandError("EVAL", key, { cause: err });
    }
  }
}
