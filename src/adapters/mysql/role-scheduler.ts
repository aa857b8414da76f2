import { createHash } from "node:crypto";
import { throwIfAborted, wallInterval } from "../../clock.js";
import type { Lease, RoleScheduler } from "../../rolescheduler.js";
import { ClosedError, InvalidOptionError } from "../../errors.js";
import { select, type MysqlPool, type MysqlPoolConnection } from "./driver.js";
import { defaultPrefix, mysqlTables } from "./schema.js";

/** Options of {@link MysqlRoleScheduler}. */
export interface MysqlRoleSchedulerOptions {
  /** The user's mysql2 promise pool; the scheduler keeps one of its connections until `close()`. */
  pool: MysqlPool;
  /**
   * Namespaces the lock names, as it prefixes the tables: schedulers with different prefixes
   * never contend. Default `"stepwise_"`.
   */
  prefix?: string;
  /**
   * How often, in ms, a role held elsewhere is tried again, and the scheduler's connection is
   * checked while it holds roles. Default 500.
   */
  pollingFrequency?: number;
}

/** One `await` call: waiting in a role's queue, holding the role, or done. */
interface Claim {
  state: "waiting" | "holding" | "done";
  /** The signal given to `await`. */
  readonly signal: AbortSignal;
  /** Aborts the lease's signal when the claim ends while holding. */
  readonly lease: AbortController;
  readonly grant: (lease: Lease) => void;
  readonly refuse: (reason: unknown) => void;
  readonly onAbort: () => void;
  /** The session whose lock the claim holds. */
  session?: Session;
}

/** A role this process holds or waits for. */
interface RoleEntry {
  readonly role: string;
  holder: Claim | undefined;
  readonly waiting: Claim[];
  /** A GET_LOCK or RELEASE_LOCK for this role is in flight; never two at once. */
  busy: boolean;
}

/** The connection the locks live on. Its locks end with it. */
interface Session {
  readonly connection: MysqlPoolConnection;
  lost: boolean;
  readonly onLost: (err?: unknown) => void;
}

/**
 * A {@link RoleScheduler} on MySQL/MariaDB user locks (`GET_LOCK`): a role is held by at most one
 * holder across every process sharing the database, and within this process.
 *
 * All locks live on one connection the scheduler takes from the pool on first use and keeps
 * (MySQL ties user locks to the session that took them). Locks are taken with `GET_LOCK(name, 0)`,
 * which never blocks that connection: a role held elsewhere is tried again every
 * `pollingFrequency`, so it changes hands across processes within that time; within this process a
 * released role goes to the next waiter at once. Waiting on one connection per role instead would
 * take a pool connection per role awaited. Lock names are a SHA-256 of the database, the prefix and
 * the role, so a role of any length fits MySQL's 64-character limit and two databases on one
 * server never share a lock.
 *
 * A second `await` of a role held in this process waits for it (user locks are re-entrant within a
 * session, so this is tracked here). When the connection is lost, the server frees its locks, so
 * every lease on it aborts; the connection is watched for errors and checked every
 * `pollingFrequency` while roles are held.
 *
 * Call `close()` after `wf.stop()`: it releases the locks and gives the connection back to the pool
 * (the pool itself is never ended).
 *
 * @example
 * ```ts
 * const roleScheduler = new MysqlRoleScheduler({ pool });
 * const wf = b.build({ recordStore, eventStreamer, roleScheduler });
 * await wf.run();
 * // …
 * await wf.stop();
 * await roleScheduler.close();
 * ```
 */
export class MysqlRoleScheduler implements RoleScheduler {
  private readonly pool: MysqlPool;
  private readonly prefix: string;
  private readonly pollingFrequencyMs: number;
  private readonly roles = new Map<string, RoleEntry>();
  private session: Session | undefined;
  private opening: Promise<Session> | undefined;
  private database: Promise<string> | undefined;
  private stopTicking: (() => void) | undefined;
  private closed = false;

  constructor(options: MysqlRoleSchedulerOptions) {
    this.pool = options.pool;
    this.prefix = options.prefix ?? defaultPrefix;
    mysqlTables(this.prefix); // the same rules as for table prefixes
    this.pollingFrequencyMs = options.pollingFrequency ?? 500;
    if (!Number.isFinite(this.pollingFrequencyMs) || this.pollingFrequencyMs <= 0) {
      throw new InvalidOptionError("pollingFrequency", `MysqlRoleScheduler: pollingFrequency must be a positive number of ms, got ${String(options.pollingFrequency)}`);
    }
  }

  /**
   * Resolves with a lease once `role` is free here and in the database. Rejects with the signal's
   * reason if it aborts first, with an Error once the scheduler is closed, and with the driver's
   * error when the database cannot be asked (the caller backs off and awaits again).
   */
  await(role: string, signal: AbortSignal): Promise<Lease> {
    return new Promise<Lease>((resolve, reject) => {
      throwIfAborted(signal);
      if (this.closed) throw new ClosedError("the MysqlRoleScheduler", `await role "${role}"`);
      let entry = this.roles.get(role);
      if (entry === undefined) {
        entry = { role, holder: undefined, waiting: [], busy: false };
        this.roles.set(role, entry);
      }
      const owner = entry;
      const claim: Claim = {
        state: "waiting",
        signal,
        lease: new AbortController(),
        grant: resolve,
        refuse: reject,
        onAbort: () => this.abandon(owner, claim),
      };
      signal.addEventListener("abort", claim.onAbort, { once: true });
      entry.waiting.push(claim);
      this.stopTicking ??= wallInterval(this.pollingFrequencyMs, () => this.tick());
      this.pump(entry);
    });
  }

  /**
   * The name of the user lock that stands for `role` in this database. `SELECT IS_USED_LOCK(name)`
   * gives the connection id holding it; for operations and tests.
   */
  async lockName(role: string): Promise<string> {
    this.database ??= select(this.pool, "SELECT DATABASE() AS db", [], "DATABASE()").then(([row]) => String(row?.db ?? ""));
    const database = await this.database.catch((err: unknown) => {
      this.database = undefined;
      throw err;
    });
    return createHash("sha256").update(`${database}\0${this.prefix}\0${role}`).digest("hex");
  }

  /**
   * Ends every lease (their signals abort) and pending await, releases the locks and gives the
   * connection back to the pool. Later awaits reject. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopTicking?.();
    this.stopTicking = undefined;
    const reason = new Error("the MysqlRoleScheduler was closed");
    for (const entry of this.roles.values()) {
      for (const claim of entry.waiting.splice(0)) this.finish(claim, reason);
      if (entry.holder !== undefined) this.finish(entry.holder, reason);
      entry.holder = undefined;
    }
    this.roles.clear();
    const session = this.session ?? (await this.opening?.catch(() => undefined));
    if (session === undefined || session.lost) return;
    this.forget(session);
    try {
      // A pooled connection must not carry locks to its next user.
      await select(session.connection, "SELECT RELEASE_ALL_LOCKS() AS released", [], "RELEASE_ALL_LOCKS()");
      session.connection.release();
    } catch {
      session.connection.destroy();
    }
  }

  /** Tries to take the role for its first waiter, unless it is held here or a lock call is in flight. */
  private pump(entry: RoleEntry): void {
    if (this.closed || entry.busy || entry.holder !== undefined || entry.waiting.length === 0) return;
    entry.busy = true;
    void this.tryLock(entry).then(
      (session) => {
        entry.busy = false;
        if (session === undefined || this.closed) return this.forgetIfUnused(entry);
        const next = entry.waiting.shift();
        // Everyone gave up while GET_LOCK ran: give the lock back.
        if (next === undefined) return void this.unlock(entry, session);
        next.state = "holding";
        next.session = session;
        entry.holder = next;
        next.grant({ signal: next.lease.signal, release: () => this.end(entry, next, new Error(`the lease on role "${entry.role}" was released`)) });
      },
      (err: unknown) => {
        entry.busy = false;
        // The database could not be asked: hand the error to the waiters, whose callers back off.
        for (const claim of entry.waiting.splice(0)) this.finish(claim, err);
        this.forgetIfUnused(entry);
      },
    );
  }

  /** GET_LOCK without waiting; resolves with the session that now holds the lock, or undefined. */
  private async tryLock(entry: RoleEntry): Promise<Session | undefined> {
    const name = await this.lockName(entry.role);
    const session = await this.openSession();
    if (this.closed || session.lost) return undefined;
    let got: unknown;
    try {
      const [row] = await select(session.connection, "SELECT GET_LOCK(?, 0) AS got", [name], "GET_LOCK()");
      got = row?.got;
    } catch (err) {
      // A lost connection is not the waiters' problem: the loss handler tries again on a new one.
      if (isFatal(err) || session.lost) {
        this.lose(session, err);
        return undefined;
      }
      throw err;
    }
    // A lock taken on a connection that has since been lost died with it.
    // Number(): a pool with bigNumberStrings returns the BIGINT result as "1".
    return Number(got) === 1 && !session.lost ? session : undefined;
  }

  /** Gives the role's lock back, then lets the next waiter try. */
  private async unlock(entry: RoleEntry, session: Session): Promise<void> {
    entry.busy = true;
    try {
      if (!session.lost && !this.closed) {
        await select(session.connection, "SELECT RELEASE_LOCK(?) AS released", [await this.lockName(entry.role)], "RELEASE_LOCK()");
      }
    } catch (err) {
      // Either the connection is gone, and its locks with it, or the lock's state is unknown: start afresh.
      this.lose(session, err);
    } finally {
      entry.busy = false;
    }
    this.pump(entry);
    this.forgetIfUnused(entry);
  }

  /** Ends a holder's lease: its signal aborts at once, and the lock is given back. Only the first end counts. */
  private async end(entry: RoleEntry, claim: Claim, reason: unknown): Promise<void> {
    if (claim.state !== "holding") return;
    this.finish(claim, reason);
    if (entry.holder === claim) entry.holder = undefined;
    if (claim.session !== undefined) await this.unlock(entry, claim.session);
  }

  /** The signal given to `await` aborted: leave the queue, or give the role up. */
  private abandon(entry: RoleEntry, claim: Claim): void {
    if (claim.state === "holding") {
      void this.end(entry, claim, claim.signal.reason);
      return;
    }
    if (claim.state !== "waiting") return;
    const index = entry.waiting.indexOf(claim);
    if (index >= 0) entry.waiting.splice(index, 1);
    this.finish(claim, claim.signal.reason);
    this.forgetIfUnused(entry);
  }

  /** Ends a claim: a waiter's await rejects with `reason`, a holder's lease signal aborts with it. */
  private finish(claim: Claim, reason: unknown): void {
    const state = claim.state;
    if (state === "done") return;
    claim.state = "done";
    claim.signal.removeEventListener("abort", claim.onAbort);
    if (state === "waiting") claim.refuse(reason);
    else claim.lease.abort(reason);
  }

  private openSession(): Promise<Session> {
    if (this.session !== undefined) return Promise.resolve(this.session);
    this.opening ??= (async () => {
      try {
        const connection = await this.pool.getConnection();
        const session: Session = { connection, lost: false, onLost: (err) => this.lose(session, err) };
        connection.on("error", session.onLost);
        connection.on("end", session.onLost);
        // Closed while connecting: hand the connection straight back.
        if (this.closed) {
          this.forget(session);
          connection.release();
          throw new ClosedError("the MysqlRoleScheduler", "open its lock connection");
        }
        this.session = session;
        return session;
      } finally {
        this.opening = undefined;
      }
    })();
    return this.opening;
  }

  /**
   * The connection broke (or is in an unknown state): the server frees its locks, so every lease
   * on it ends now, and waiters try again on a new connection.
   */
  private lose(session: Session, err: unknown): void {
    if (session.lost) return;
    session.lost = true;
    this.forget(session);
    session.connection.destroy();
    const reason = new Error("lost the MySQL connection holding the role locks", { cause: err });
    for (const entry of this.roles.values()) {
      if (entry.holder?.session === session) {
        this.finish(entry.holder, reason);
        entry.holder = undefined;
      }
    }
    for (const entry of [...this.roles.values()]) {
      this.pump(entry);
      this.forgetIfUnused(entry);
    }
  }

  /** Stops watching a session's connection and stops using it for new locks. */
  private forget(session: Session): void {
    session.connection.off("error", session.onLost);
    session.connection.off("end", session.onLost);
    if (this.session === session) this.session = undefined;
  }

  /** Every `pollingFrequency`: try roles held elsewhere again, and check the connection while holding. */
  private tick(): void {
    let holding = false;
    for (const entry of this.roles.values()) {
      if (entry.holder !== undefined) holding = true;
      this.pump(entry);
    }
    const session = this.session;
    if (holding && session !== undefined && !session.lost) {
      select(session.connection, "SELECT 1 AS alive", [], "SELECT 1").catch((err: unknown) => {
        if (isFatal(err) || session.lost) this.lose(session, err);
      });
    }
  }

  private forgetIfUnused(entry: RoleEntry): void {
    if (entry.holder !== undefined || entry.waiting.length > 0 || entry.busy) return;
    if (this.roles.get(entry.role) === entry) this.roles.delete(entry.role);
    if (this.roles.size === 0) {
      this.stopTicking?.();
      this.stopTicking = undefined;
    }
  }
}

/** mysql2 marks errors that leave the connection unusable (lost, killed, protocol errors) as fatal. */
function isFatal(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { fatal?: unknown }).fatal === true;
}
