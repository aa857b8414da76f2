import { systemClock } from "../../clock.js";
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
  /** Removes our listeners from the client. */
  detach(): void;
}

interface Held {
  controller: AbortController;
  /** Resolves when the role is free again in this process. */
  released: Promise<void>;
  free: () => void;
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
  readonly #held = new Map<string, Held>();
  #users = 0;
  #client: Promise<Connection> | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: PostgresRoleSchedulerOptions) {
    this.#pool = options.pool;
    this.#retryMs = options.retryMs ?? 500;
  }

  async await(role: string, signal: AbortSignal): Promise<Lease> {
    this.#users++;
    try {
      for (;;) {
        signal.throwIfAborted();
        const local = this.#held.get(role);
        if (local) {
          await Promise.race([local.released, abortion(signal)]);
          continue;
        }
        const client = await this.#connection();
        signal.throwIfAborted();
        if (this.#held.has(role)) continue;
        const { rows } = await this.#serial(() =>
          client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked", [role]),
        );
        if (rows[0]?.locked) {
          if (signal.aborted) {
            await this.#serial(() => client.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [role])).catch(() => {});
            signal.throwIfAborted();
          }
          this.#users++;
          return this.#lease(role, client, signal);
        }
        await systemClock.sleep(this.#retryMs, signal);
      }
    } finally {
      await this.#leave();
    }
  }

  #lease(role: string, client: PgClient, signal: AbortSignal): Lease {
    const controller = new AbortController();
    let free!: () => void;
    const released = new Promise<void>((resolve) => (free = resolve));
    const held: Held = { controller, released, free };
    this.#held.set(role, held);
    let ended = false;
    const release = async () => {
      if (ended) return;
      ended = true;
      signal.removeEventListener("abort", release);
      if (!controller.signal.aborted) controller.abort(new Error(`role "${role}" was released`));
      if (this.#held.get(role) === held) {
        this.#held.delete(role);
        await this.#serial(() => client.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [role])).catch(() => {});
      }
      free();
      await this.#leave();
    };
    signal.addEventListener("abort", release, { once: true });
    return { signal: controller.signal, release };
  }

  /** Runs queries on the locking connection one after another: a pg client takes one query at a time. */
  #serial<R>(work: () => Promise<R>): Promise<R> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => {});
    return next;
  }

  /** The locking connection, opened on first use and watched for loss. */
  async #connection(): Promise<PgClient> {
    if (!this.#client) {
      let client: PgClient | undefined;
      let diedEarly: Error | undefined;
      const lost = (err?: Error) => {
        if (!client) {
          diedEarly = err ?? new Error("the locking connection ended as it was handed out");
          return;
        }
        if (this.#client !== connecting) return;
        this.#client = undefined;
        detach();
        // A dead connection may report more errors as it closes; nobody else listens to it now.
        client.on("error", ignore);
        client.release(err ?? true);
        // The server dropped every lock with the session.
        for (const [role, held] of this.#held) {
          this.#held.delete(role);
          held.controller.abort(new Error(`role "${role}" was lost with the database connection`, { cause: err }));
          held.free();
        }
      };
      const onEnd = () => lost();
      const detach = () => {
        client?.removeListener("error", lost);
        client?.removeListener("end", onEnd);
      };
      const connecting = checkOut(this.#pool, lost).then((checkedOut): Connection => {
        if (diedEarly) {
          checkedOut.on("error", ignore);
          checkedOut.release(diedEarly);
          throw diedEarly;
        }
        client = checkedOut;
        checkedOut.on("end", onEnd);
        return { client: checkedOut, detach };
      });
      connecting.catch(() => {
        if (this.#client === connecting) this.#client = undefined;
      });
      this.#client = connecting;
    }
    return (await this.#client).client;
  }

  /** Hands the connection back to the pool once nothing is held or awaited. */
  async #leave(): Promise<void> {
    this.#users--;
    if (this.#users > 0 || this.#held.size > 0 || !this.#client) return;
    const pending = this.#client;
    this.#client = undefined;
    const connection = await pending.catch(() => undefined);
    if (!connection) return;
    // Our listeners go before the client goes back: the pool hands it to someone else next.
    connection.detach();
    connection.client.release();
  }
}

function ignore(): void {}

function abortion(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}
