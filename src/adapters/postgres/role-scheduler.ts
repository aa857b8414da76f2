import { untilAborted } from "../../abort.js";
import { systemClock } from "../../clock.js";
import { RoleLostError } from "../../errors.js";
import { RoleClaims } from "../../role-claims.js";
import type { Lease, RoleScheduler } from "../../rolescheduler.js";
import { checkOut, type PgClient, type PgPool } from "./driver.js";

/** Options of {@link PostgresRoleScheduler}. */
export interface PostgresRoleSchedulerOptions {
  pool: PgPool;
  /** How often a waiting role tries its lock again, in ms. Default 500. */
  retryMs?: number;
}

interface Connection {
  client: PgClient;
  /** Set once the connection broke (its locks went with it) or went back to the pool. */
  lost: boolean;
  /** Removes our listeners from the client. */
  detach(): void;
}

/**
 * A {@link RoleScheduler} on PostgreSQL session advisory locks, held on one connection checked out
 * of the pool for as long as any role is held or awaited. A role is exclusive across every process
 * on the database (and within this one). If that connection is lost, the server drops its locks,
 * so every lease's signal aborts; the next await connects again.
 *
 * Locks are keyed by a 64-bit hash of the role name: two names that collide exclude each other,
 * which costs waiting, never safety.
 */
export class PostgresRoleScheduler implements RoleScheduler {
  readonly #pool: PgPool;
  readonly #retryMs: number;
  readonly #claims: RoleClaims<Connection>;
  /** Awaits taking a lock plus locks held; the connection goes back to the pool when none is left. */
  #users = 0;
  #connection: Promise<Connection> | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: PostgresRoleSchedulerOptions) {
    this.#pool = options.pool;
    this.#retryMs = options.retryMs ?? 500;
    this.#claims = new RoleClaims("PostgresRoleScheduler", {
      acquire: (role, signal) => this.#acquire(role, signal),
      release: (role, connection) => this.#release(role, connection),
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
        connection = { client, lost: false, detach };
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
    connection.client.release();
  }
}

function ignore(): void {}
