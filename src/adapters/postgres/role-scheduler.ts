import { untilAborted } from "../../abort.js";
import { systemClock } from "../../clock.js";
import { RoleLostError } from "../../errors.js";
import { RoleClaims } from "../../role-claims.js";
import type { ListedMember, MemberListing } from "../../role-membership.js";
import type { Lease, RoleScheduler } from "../../rolescheduler.js";
import { fnv1a32 } from "../../shard.js";
import { checkOut, type PgClient, type PgPool } from "./driver.js";

/** Options of {@link PostgresRoleScheduler}. */
export interface PostgresRoleSchedulerOptions {
  pool: PgPool;
  /**
   * How often a waiting role tries its lock again, and how often the scheduler looks at which
   * processes await which roles, in ms. Default 500.
   */
  retryMs?: number;
}

interface Connection {
  client: PgClient;
  /** Set once the connection broke (its locks went with it) or went back to the pool. */
  lost: boolean;
  /** Removes our listeners from the client. */
  detach(): void;
  /** The keys of the shared locks saying which roles we await, taken on this connection. */
  readonly wanted: Set<number>;
}

/**
 * The first key of the shared advisory locks by which a scheduler says it awaits a role ("stpw");
 * the second is the role's 32-bit hash. The two-key form never meets the one-key role locks.
 */
const wantedClass = 0x73747077;

/** The second key of a role's shared "awaited" lock: its FNV-1a hash as a signed int4. */
function wantedKey(role: string): number {
  return fnv1a32(role) | 0;
}

/**
 * A {@link RoleScheduler} on PostgreSQL session advisory locks, held on one connection checked out
 * of the pool for as long as any role is held or awaited. A role is exclusive across every process
 * on the database (and within this one). If that connection is lost, the server drops its locks,
 * so every lease's signal aborts; the next await connects again.
 *
 * Locks are keyed by a 64-bit hash of the role name: two names that collide exclude each other,
 * which costs waiting, never safety.
 *
 * Roles spread over the processes on the database: on the same connection, the scheduler holds a
 * shared advisory lock for each role it awaits, and every `retryMs` reads from `pg_locks` which
 * sessions await which of its roles. It takes only the roles assigned to it, about its share, and
 * hands a role over when the assignment moves it. A process that dies takes its session, and with
 * it its locks, so its roles are reassigned at the next look, within `retryMs`. No table is needed.
 */
export class PostgresRoleScheduler implements RoleScheduler {
  readonly #pool: PgPool;
  readonly #retryMs: number;
  readonly #claims: RoleClaims<Connection>;
  /** Awaits taking a lock plus locks held; the connection goes back to the pool when none is left. */
  #users = 0;
  #connection: Promise<Connection> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  /** Whether this process is listed as a member, which keeps the connection: one of the users. */
  #member = false;

  constructor(options: PostgresRoleSchedulerOptions) {
    this.#pool = options.pool;
    this.#retryMs = options.retryMs ?? 500;
    this.#claims = new RoleClaims("PostgresRoleScheduler", {
      acquire: (role, signal) => this.#acquire(role, signal),
      release: (role, connection) => this.#release(role, connection),
      members: {
        beatMs: this.#retryMs,
        beat: (roles) => this.#beat(roles),
        leave: () => this.#leaveMembers(),
      },
    });
  }

  await(role: string, signal: AbortSignal): Promise<Lease> {
    return this.#claims.await(role, signal);
  }

  /** Tries the role's lock every `retryMs`; resolves with the connection that holds it. */
  async #acquire(role: string, signal: AbortSignal): Promise<Connection> {
    this.#users++;
    try {
      for (;;) {
        const connection = await untilAborted(this.#connect(), signal);
        const { rows } = await this.#serial(() =>
          connection.client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked", [role]),
        );
        // A lock taken on a connection that has since been lost died with it.
        if (rows[0]?.locked && !connection.lost) return connection;
        await systemClock.sleep(this.#retryMs, signal);
      }
    } catch (err) {
      await this.#leave();
      throw err;
    }
  }

  async #release(role: string, connection: Connection): Promise<void> {
    if (!connection.lost) {
      await this.#serial(() => connection.client.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [role])).catch(() => {});
    }
    await this.#leave();
  }

  /**
   * Holds a shared lock for each role we await (and none for the others), then lists the sessions
   * holding such locks for our roles: the members, by backend pid.
   */
  async #beat(roles: readonly string[]): Promise<MemberListing> {
    if (!this.#member) {
      this.#member = true;
      this.#users++;
    }
    const connection = await this.#connect();
    const byKey = new Map<number, string[]>();
    for (const role of roles) {
      const key = wantedKey(role);
      byKey.set(key, [...(byKey.get(key) ?? []), role]);
    }
    const take = [...byKey.keys()].filter((key) => !connection.wanted.has(key));
    const drop = [...connection.wanted].filter((key) => !byKey.has(key));
    if (take.length > 0) {
      // Never waits: only another application taking our key exclusively could refuse it, and then we just go unlisted.
      const { rows } = await this.#serial(() =>
        connection.client.query<{ key: number; taken: boolean }>(
          "SELECT k AS key, pg_try_advisory_lock_shared($1, k) AS taken FROM unnest($2::int4[]) AS k",
          [wantedClass, take],
        ),
      );
      for (const { key, taken } of rows) if (taken) connection.wanted.add(key);
    }
    if (drop.length > 0) await this.#dropWanted(connection, drop);
    // pg_locks shows a lock's second key as an unsigned oid.
    const unsigned = [...byKey.keys()].map((key) => key >>> 0);
    const { rows } = await this.#serial(() =>
      connection.client.query<{ self: number; wanted: [number, number | string][] }>(
        `SELECT pg_backend_pid() AS self, (
           SELECT coalesce(json_agg(json_build_array(l.pid, l.objid::bigint)), '[]') FROM pg_locks l
           WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid = $1::bigint::oid
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND l.objid::bigint = ANY($2::bigint[])
         ) AS wanted`,
        [wantedClass, unsigned],
      ),
    );
    const row = rows[0];
    const members = new Map<string, string[]>();
    for (const [pid, key] of row?.wanted ?? []) {
      const id = String(pid);
      members.set(id, [...(members.get(id) ?? []), ...(byKey.get(Number(key) | 0) ?? [])]);
    }
    const listed: ListedMember[] = [...members].map(([id, wanted]) => ({ id, roles: wanted }));
    return { self: String(row?.self), members: listed };
  }

  /** Gives up the shared locks of roles no longer awaited. */
  async #dropWanted(connection: Connection, keys: readonly number[]): Promise<void> {
    await this.#serial(() => connection.client.query("SELECT pg_advisory_unlock_shared($1, k) FROM unnest($2::int4[]) AS k", [wantedClass, keys]));
    for (const key of keys) connection.wanted.delete(key);
  }

  /** Stops being a member: drops its shared locks, and the connection once nothing else uses it. */
  async #leaveMembers(): Promise<void> {
    if (!this.#member) return;
    this.#member = false;
    const connection = await this.#connection?.catch(() => undefined);
    if (connection !== undefined && !connection.lost && connection.wanted.size > 0) {
      await this.#dropWanted(connection, [...connection.wanted]).catch(ignore);
    }
    await this.#leave();
  }

  /** Runs queries on the locking connection one after another: a pg client takes one query at a time. */
  #serial<R>(work: () => Promise<R>): Promise<R> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => {});
    return next;
  }

  /** The locking connection, opened on first use and watched for loss. */
  #connect(): Promise<Connection> {
    if (!this.#connection) {
      let connection: Connection | undefined;
      let diedEarly: Error | undefined;
      const lost = (err?: Error) => {
        if (!connection) {
          diedEarly = err ?? new Error("the locking connection ended as it was handed out");
          return;
        }
        if (connection.lost) return;
        connection.lost = true;
        if (this.#connection === connecting) this.#connection = undefined;
        detach();
        // A dead connection may report more errors as it closes; nobody else listens to it now.
        connection.client.on("error", ignore);
        connection.client.release(err ?? true);
        // The server dropped every lock with the session.
        const dropped = connection;
        this.#claims.loseEvery(
          (role) => new RoleLostError(role, "its lock went with the database connection", { cause: err }),
          (held) => held === dropped,
        );
      };
      const onEnd = () => lost();
      const detach = () => {
        connection?.client.removeListener("error", lost);
        connection?.client.removeListener("end", onEnd);
      };
      const connecting = checkOut(this.#pool, lost).then((client): Connection => {
        if (diedEarly) {
          client.on("error", ignore);
          client.release(diedEarly);
          throw diedEarly;
        }
        client.on("end", onEnd);
        connection = { client, lost: false, detach, wanted: new Set() };
        return connection;
      });
      connecting.catch(() => {
        if (this.#connection === connecting) this.#connection = undefined;
      });
      this.#connection = connecting;
    }
    return this.#connection;
  }

  /** Hands the connection back to the pool once nothing is held or awaited. */
  async #leave(): Promise<void> {
    this.#users--;
    if (this.#users > 0 || !this.#connection) return;
    const pending = this.#connection;
    this.#connection = undefined;
    const connection = await pending.catch(() => undefined);
    if (!connection || connection.lost) return;
    connection.lost = true;
    // Our listeners go before the client goes back: the pool hands it to someone else next.
    connection.detach();
    // A connection that may still hold shared locks must not go to the pool's next user.
    connection.client.release(connection.wanted.size > 0 ? new Error("its shared advisory locks could not be given up") : undefined);
  }
}

function ignore(): void {}
