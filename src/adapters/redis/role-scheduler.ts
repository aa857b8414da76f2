import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { throwIfAborted, untilAborted } from "../../abort.js";
import { systemClock } from "../../clock.js";
import { KeyedWakers } from "../../keyed-wakers.js";
import { RoleClaims } from "../../role-claims.js";
import { encodeMemberRoles, decodeMemberRoles, type ListedMember, type MemberListing } from "../../role-membership.js";
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
   * crashed holder's roles pass to another process about this long after its last renewal. A
   * scheduler's membership (which roles spread to it) lasts as long, renewed as often.
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

/**
 * Renews member ARGV[1] in the members hash until ARGV[2] ms from now (the server's clock), with
 * the roles ARGV[3]; deletes the members that ran out and returns the others as flat triples
 * (id, ms left, roles). A field's value is "<expires at ms> <roles JSON>".
 */
const beatScript = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], (now + ttl) .. ' ' .. ARGV[3])
if redis.call('PTTL', KEYS[1]) < 2 * ttl then redis.call('PEXPIRE', KEYS[1], 2 * ttl) end
local all = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #all, 2 do
  local value = all[i + 1]
  local space = string.find(value, ' ', 1, true)
  local expires = space and tonumber(string.sub(value, 1, space - 1))
  if not expires or expires <= now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    table.insert(live, all[i])
    table.insert(live, expires - now)
    table.insert(live, string.sub(value, space + 1))
  end
end
return live`;

/** A role's key as this process holds it. */
interface Hold {
  key: string;
  token: string;
  /** When the SET that granted the key was sent: its expiry counts from about then. */
  askedAtMs: number;
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
 * Roles spread over the processes on the server: each scheduler that awaits roles is a field of
 * the hash `<prefix>role-members` naming them, renewed every `ttlMs / 3` (by the server's clock),
 * and takes only the roles assigned to it, about its share; it hands a role over when the
 * assignment moves it. A crashed scheduler's field runs out with its leases, so its roles are
 * reassigned about `ttlMs` after its last renewal.
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
  /** This scheduler's field in the members hash. */
  readonly #member = `${this.#tokenPrefix}${randomUUID()}`;
  /** The awaits waiting for a role held elsewhere, woken by a release notice. */
  readonly #released = new KeyedWakers();
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
        askedAtMs: (hold) => hold.askedAtMs,
        renew: async (_role, hold) => Number(await this.#eval(renewScript, hold.key, hold.token, this.#ttlMs)) === 1,
      },
      members: {
        beatMs: this.#ttlMs / 3,
        beat: (roles) => this.#beat(roles),
        leave: async () => {
          await this.#client.call("HDEL", this.#membersKey(), this.#member);
        },
      },
    });
  }

  #membersKey(): string {
    return `${this.#prefix}role-members`;
  }

  async #beat(roles: readonly string[]): Promise<MemberListing> {
    const reply = await this.#eval(beatScript, this.#membersKey(), this.#member, this.#ttlMs, encodeMemberRoles(roles));
    const flat = Array.isArray(reply) ? reply : [];
    const members: ListedMember[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      members.push({ id: String(flat[i]), expiresInMs: Number(flat[i + 1]), roles: decodeMemberRoles(flat[i + 2]) });
    }
    return { self: this.#member, members };
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
        const askedAtMs = systemClock.now().getTime();
        const attempt = this.#eval(acquireScript, key, token, this.#ttlMs);
        let reply: unknown;
        try {
          reply = await untilAborted(attempt, signal);
        } catch (err) {
          // Given up while the SET may still land (a server that is down): if it does, hand the role back.
          if (signal.aborted) void attempt.then((late) => (late === "OK" ? this.#release(role, key, token) : undefined)).catch(() => {});
          throw err;
        }
        if (reply === "OK") return { key, token, askedAtMs };
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
        await this.#released.wait(role, waitMs, signal);
      }
    } finally {
      this.#leave();
    }
  }

  async #release(role: string, key: string, token: string): Promise<void> {
    await this.#eval(releaseScript, key, token, this.#channel, role);
  }


  /** Subscribes to release notices, once, while anyone waits. Never rejects: without notices, waits end on their timers. */
  #listen(): Promise<void> {
    if (!this.#subscriber) {
      const connection = this.#client.duplicate();
      // ioredis reconnects and subscribes again by itself; meanwhile waits end on their timers.
      connection.on("error", () => {});
      connection.on("message", (channel, role) => {
        if (channel === this.#channel) this.#released.wake(role);
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
