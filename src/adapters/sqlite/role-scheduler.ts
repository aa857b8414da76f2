import { randomUUID } from "node:crypto";
import { throwIfAborted } from "../../abort.js";
import { systemClock } from "../../clock.js";
import { RoleClaims } from "../../role-claims.js";
import { decodeMemberRoles, encodeMemberRoles, type MemberListing } from "../../role-membership.js";
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
   * that; when a process dies, its roles are free for others once its leases run out. A
   * scheduler's membership (which roles spread to it) lasts as long, renewed as often.
   */
  leaseTtl?: number;
  /**
   * How often, in ms, a role held by another process is tried again (sooner when its lease is due
   * to run out). Default 500.
   */
  pollingFrequency?: number;
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
 * Roles spread over the processes sharing the file: each scheduler keeps a row in the members
 * table (the roles it awaits, renewed every `leaseTtl / 3`) and takes only the roles assigned to
 * it, about its share; a process joining gets its share within a third of `leaseTtl`, and a dead
 * one's roles are reassigned once its row expires, as its leases do.
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
  readonly #claims: RoleClaims<void>;

  constructor(options: SqliteRoleSchedulerOptions) {
    this.#sql = new Statements(options.db);
    this.#t = sqliteTables(options.prefix ?? defaultPrefix);
    this.#leaseTtlMs = positive(options.leaseTtl ?? 5_000, "leaseTtl");
    this.#pollingFrequencyMs = positive(options.pollingFrequency ?? 500, "pollingFrequency");
    this.#claims = new RoleClaims("SqliteRoleScheduler", {
      acquire: (role, signal) => this.#acquire(role, signal),
      release: async (role) => this.#release(role),
      renewal: { ttlMs: () => this.#leaseTtlMs, renew: async (role) => this.#renew(role) },
      members: {
        beatMs: this.#leaseTtlMs / 3,
        beat: async (roles) => this.#beat(roles),
        leave: async () => this.#leave(),
      },
    });
  }

  /**
   * Resolves with a lease once `role` is free here and in the file. Rejects with the signal's reason
   * if it aborts first, with RoleSchedulerClosedError once the scheduler is closed, and with the
   * driver's error when the file cannot be asked (the caller backs off and awaits again).
   */
  await(role: string, signal: AbortSignal): Promise<Lease> {
    return this.#claims.await(role, signal);
  }

  /**
   * Ends every lease (their signals abort, their rows are deleted) and every pending await, which
   * rejects. Later awaits reject with RoleSchedulerClosedError. Idempotent.
   */
  close(): Promise<void> {
    return this.#claims.close();
  }

  /** Takes the role's row, trying again until its holder's lease runs out or it is released. */
  async #acquire(role: string, signal: AbortSignal): Promise<void> {
    for (;;) {
      throwIfAborted(signal);
      const heldUntilMs = this.#tryAcquire(role);
      if (heldUntilMs === undefined) return;
      const waitMs = Math.min(this.#pollingFrequencyMs, Math.max(1, heldUntilMs - systemClock.now().getTime() + 1));
      await systemClock.sleep(waitMs, signal);
    }
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

  /** Extends our row; false when it is no longer ours or already ran out. */
  #renew(role: string): boolean {
    const nowMs = systemClock.now().getTime();
    // A lease that ran out is not renewed even if nobody took it yet: someone may be about to,
    // and for all we know it already ran work in the meantime.
    const { changes } = this.#sql.run(
      `UPDATE ${this.#t.leases} SET expires_at = ? WHERE role = ? AND owner = ? AND expires_at > ?`,
      nowMs + this.#leaseTtlMs,
      role,
      this.owner,
      nowMs,
    );
    return changes > 0;
  }

  /** Renews our member row with the roles we await, forgets expired rows, and lists the rest. */
  #beat(roles: readonly string[]): MemberListing {
    const t = this.#t;
    const nowMs = systemClock.now().getTime();
    return this.#sql.db.transaction(() => {
      this.#sql.run(
        `INSERT INTO ${t.members} (member, roles, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (member) DO UPDATE SET roles = excluded.roles, expires_at = excluded.expires_at`,
        this.owner,
        encodeMemberRoles(roles),
        nowMs + this.#leaseTtlMs,
      );
      this.#sql.run(`DELETE FROM ${t.members} WHERE expires_at <= ?`, nowMs);
      const rows = this.#sql.all(`SELECT member, roles, expires_at FROM ${t.members}`);
      const members = rows.map((row) => ({
        id: String(row.member),
        roles: decodeMemberRoles(row.roles),
        expiresInMs: (integer(row.expires_at) ?? nowMs) - nowMs,
      }));
      return { self: this.owner, members };
    }).immediate();
  }

  #leave(): void {
    try {
      this.#sql.run(`DELETE FROM ${this.#t.members} WHERE member = ?`, this.owner);
    } catch {
      // The file cannot be written: the row then simply expires.
    }
  }

  #release(role: string): void {
    try {
      // Only our own row: after a takeover the row belongs to the new holder.
      this.#sql.run(`DELETE FROM ${this.#t.leases} WHERE role = ? AND owner = ?`, role, this.owner);
    } catch {
      // The file cannot be written (closed, busy): the lease then simply runs out.
    }
  }
}

function positive(value: number, what: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new InvalidOptionError(what, `SqliteRoleScheduler: ${what} must be a positive number of ms, got ${String(value)}`);
  return value;
}
