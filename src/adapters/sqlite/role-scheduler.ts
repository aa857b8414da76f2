import { randomUUID } from "node:crypto";
import { systemClock, throwIfAborted, wallInterval } from "../../clock.js";
import type { Lease, RoleScheduler } from "../../rolescheduler.js";
import { InvalidOptionError } from "../../errors.js";
import type { SqliteDatabase } from "./driver.js";
import { defaultPrefix, sqliteTables, type SqliteTables } from "./schema.js";
import { integer, Statements } from "./statements.js";

/** Options of {@link SqliteRoleScheduler}. */
export interface SqliteRoleSchedulerOptions {
  /** The better-sqlite3 database; never closed by the scheduler. Run `migrate(db)` first. */
  db: SqliteDatabase;
  /** Prefix of every table name, as given to `migrate`. Default `"stepwise_"`. */
  prefix?: string;
  /**
   * How long a lease lasts unless renewed, in ms. Default 5000. The holder renews it every third of
   * that; when a process dies, its roles are free for others once its leases run out.
   */
  leaseTtl?: number;
  /**
   * How often, in ms, a role held by another process is tried again (sooner when its lease is due
   * to run out). Default 500.
   */
  pollingFrequency?: number;
}

/** A role held by this scheduler. */
interface Held {
  /** Resolves once the role is free again in this process. */
  released: Promise<void>;
  /** Ends the lease: stops renewing, gives the row up and aborts the lease's signal with `reason`. */
  end(reason: unknown): void;
}

/**
 * A {@link RoleScheduler} on a leases table in a SQLite file: a role is held by at most one holder
 * across every process sharing the file, and within this process.
 *
 * A lease is a row (role, owner, expires_at). `await` takes it with one atomic upsert that succeeds
 * only if the role has no row or its lease has expired; a role held elsewhere is tried again every
 * `pollingFrequency`, or right when its lease is due to run out. The holder renews its row every
 * `leaseTtl / 3`; a renewal that finds the row taken, or its own lease already expired (the event loop
 * was blocked for longer than the lease), or that fails, ends the lease and aborts its signal.
 * Release deletes the row, so a waiter elsewhere takes the role at its next try. When a process
 * exits without releasing (a crash, SIGKILL), its roles pass to another process once the leases
 * run out, within `leaseTtl` (plus at most one `pollingFrequency`).
 *
 * Expiry times are wall-clock milliseconds: every process on a file must share a clock, which
 * processes on one machine do (SQLite files are not for network file systems anyway).
 *
 * Call `close()` after `wf.stop()` to give up every lease at once; the `sqlite()` bundle's
 * `close()` does.
 *
 * @example
 * ```ts
 * const roleScheduler = new SqliteRoleScheduler({ db, leaseTtl: 2_000 });
 * const wf = b.build({ recordStore, eventStreamer, roleScheduler });
 * ```
 */
export class SqliteRoleScheduler implements RoleScheduler {
  /** The id this scheduler writes as the owner of its leases: the process id and a random UUID. */
  readonly owner = `${process.pid}-${randomUUID()}`;
  readonly #sql: Statements;
  readonly #t: SqliteTables;
  readonly #leaseTtlMs: number;
  readonly #pollingFrequencyMs: number;
  readonly #held = new Map<string, Held>();
  readonly #closing = new AbortController();

  constructor(options: SqliteRoleSchedulerOptions) {
    this.#sql = new Statements(options.db);
    this.#t = sqliteTables(options.prefix ?? defaultPrefix);
    this.#leaseTtlMs = positive(options.leaseTtl ?? 5_000, "leaseTtl");
    this.#pollingFrequencyMs = positive(options.pollingFrequency ?? 500, "pollingFrequency");
  }

  /**
   * Resolves with a lease once `role` is free here and in the file. Rejects with the signal's reason
   * if it aborts first, with an Error once the scheduler is closed, and with the driver's error when
   * the file cannot be asked (the caller backs off and awaits again).
   */
  async await(role: string, signal: AbortSignal): Promise<Lease> {
    for (;;) {
      throwIfAborted(signal);
      throwIfAborted(this.#closing.signal);
      const local = this.#held.get(role);
      if (local !== undefined) {
        await pause(undefined, local.released, [signal, this.#closing.signal]);
        continue;
      }
      // Synchronous from here to the lease: no other await in this process can slip in between.
      const heldUntilMs = this.#tryAcquire(role);
      if (heldUntilMs === undefined) return this.#lease(role, signal);
      const waitMs = Math.min(this.#pollingFrequencyMs, Math.max(1, heldUntilMs - systemClock.now().getTime() + 1));
      await pause(waitMs, undefined, [signal, this.#closing.signal]);
    }
  }

  /**
   * Ends every lease (their signals abort, their rows are deleted) and every pending await, which
   * rejects. Later awaits reject. The work is done before it returns; idempotent.
   */
  close(): Promise<void> {
    if (!this.#closing.signal.aborted) {
      const reason = new Error("the SqliteRoleScheduler was closed");
      this.#closing.abort(reason);
      for (const held of [...this.#held.values()]) held.end(reason);
    }
    return Promise.resolve();
  }

  /** Takes the role's row if it is free or expired; returns undefined when taken, else when the holder's lease runs out. */
  #tryAcquire(role: string): number | undefined {
    const t = this.#t;
    const nowMs = systemClock.now().getTime();
    const { changes } = this.#sql.run(
      `INSERT INTO ${t.leases} (role, owner, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (role) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
       WHERE ${t.leases}.expires_at <= ? OR ${t.leases}.owner = excluded.owner`,
      role,
      this.owner,
      nowMs + this.#leaseTtlMs,
      nowMs,
    );
    if (changes > 0) return undefined;
    const row = this.#sql.get(`SELECT expires_at FROM ${t.leases} WHERE role = ?`, role);
    // Released between the two statements: try again at once.
    return integer(row?.expires_at) ?? nowMs;
  }

  #lease(role: string, signal: AbortSignal): Lease {
    const t = this.#t;
    const controller = new AbortController();
    let free!: () => void;
    const released = new Promise<void>((resolve) => (free = resolve));
    let ended = false;
    const end = (reason: unknown) => {
      if (ended) return;
      ended = true;
      stopRenewing();
      signal.removeEventListener("abort", onAbort);
      if (this.#held.get(role) === held) this.#held.delete(role);
      try {
        // Only our own row: after a takeover the row belongs to the new holder.
        this.#sql.run(`DELETE FROM ${t.leases} WHERE role = ? AND owner = ?`, role, this.owner);
      } catch {
        // The file cannot be written (closed, busy): the lease then simply runs out.
      }
      controller.abort(reason);
      free();
    };
    const renew = () => {
      const nowMs = systemClock.now().getTime();
      try {
        // A lease that ran out is not renewed even if nobody took it yet: someone may be about to,
        // and for all we know it already ran work in the meantime.
        const { changes } = this.#sql.run(
          `UPDATE ${t.leases} SET expires_at = ? WHERE role = ? AND owner = ? AND expires_at > ?`,
          nowMs + this.#leaseTtlMs,
          role,
          this.owner,
          nowMs,
        );
        if (changes === 0) end(new Error(`lost the lease on role "${role}": it ran out before it was renewed, or another holder took it`));
      } catch (err) {
        end(new Error(`could not renew the lease on role "${role}"`, { cause: err }));
      }
    };
    const onAbort = () => end(signal.reason);
    const held: Held = { released, end };
    this.#held.set(role, held);
    const stopRenewing = wallInterval(this.#leaseTtlMs / 3, renew);
    signal.addEventListener("abort", onAbort, { once: true });
    return {
      signal: controller.signal,
      release: async () => end(new Error(`the lease on role "${role}" was released`)),
    };
  }
}

const pauseOver = new Error("the pause is over");

/**
 * Resolves after `ms` (when given) or once `until` settles, whichever comes first; rejects with the
 * reason of the first of `signals` to abort. Every listener is removed when it settles.
 */
function pause(ms: number | undefined, until: Promise<void> | undefined, signals: readonly AbortSignal[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    for (const signal of signals) if (signal.aborted) return reject(signal.reason);
    const timer = new AbortController();
    let settled = false;
    const listeners = signals.map((signal) => {
      const onAbort = () => settle(signal.reason, true);
      signal.addEventListener("abort", onAbort, { once: true });
      return () => signal.removeEventListener("abort", onAbort);
    });
    const settle = (reason: unknown, failed: boolean) => {
      if (settled) return;
      settled = true;
      timer.abort(pauseOver);
      for (const remove of listeners) remove();
      if (failed) reject(reason);
      else resolve();
    };
    if (ms !== undefined) systemClock.sleep(ms, timer.signal).then(() => settle(undefined, false), () => undefined);
    until?.then(() => settle(undefined, false));
  });
}

function positive(value: number, what: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new InvalidOptionError(what, `SqliteRoleScheduler: ${what} must be a positive number of ms, got ${String(value)}`);
  return value;
}
