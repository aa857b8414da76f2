import { createHash, randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { untilAborted } from "../../abort.js";
import { systemClock, wallInterval } from "../../clock.js";
import { RoleClaims } from "../../role-claims.js";
import { decodeMemberRoles, encodeMemberRoles, type MemberListing } from "../../role-membership.js";
import type { Lease, RoleScheduler } from "../../rolescheduler.js";
import { InvalidOptionError, RoleLostError, RoleSchedulerClosedError } from "../../errors.js";
import { select, type MysqlPool, type MysqlPoolConnection, type MysqlValue, type Row } from "./driver.js";
import { defaultPrefix, mysqlTables, type MysqlTables } from "./schema.js";

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
   * How often, in ms, a role held elsewhere is tried again, the scheduler's connection is checked
   * while it holds roles, and the members awaiting roles are listed. Default 500.
   */
  pollingFrequency?: number;
}

/** The connection the locks live on. Its locks end with it. */
interface Session {
  readonly connection: MysqlPoolConnection;
  lost: boolean;
  /** Aborts when the session is lost: a query in flight on it then gets no answer, so none is waited for after. */
  readonly ended: AbortController;
  readonly onLost: (err?: unknown) => void;
  /** The user lock that keeps this scheduler's row in the members table live, once taken on this session. */
  memberLock?: string;
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
 * Roles spread over the processes on the database: a scheduler that awaits roles keeps a row in
 * `<prefix>role_members` (run `migrate` first) naming them, alive while its session holds a user
 * lock of its own, and lists the live rows every `pollingFrequency`. It takes only the roles
 * assigned to it, about its share, and hands a role over when the assignment moves it. A process
 * that dies takes its session and that lock with it, so its roles are reassigned at the next look.
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
  private readonly tables: MysqlTables;
  private readonly pollingFrequencyMs: number;
  /** This scheduler's row in the members table: the same across sessions, so its share stays where it is. */
  private readonly memberId = randomUUID();
  private readonly claims: RoleClaims<Session>;
  private session: Session | undefined;
  private opening: Promise<Session> | undefined;
  private database: Promise<string> | undefined;
  /** Locks held on the session; it is checked every `pollingFrequency` while there are any. */
  private holds = 0;
  private stopChecking: (() => void) | undefined;

  constructor(options: MysqlRoleSchedulerOptions) {
    this.pool = options.pool;
    this.prefix = options.prefix ?? defaultPrefix;
    this.tables = mysqlTables(this.prefix);
    this.pollingFrequencyMs = options.pollingFrequency ?? 500;
    if (!Number.isFinite(this.pollingFrequencyMs) || this.pollingFrequencyMs <= 0) {
      throw new InvalidOptionError("pollingFrequency", `MysqlRoleScheduler: pollingFrequency must be a positive number of ms, got ${String(options.pollingFrequency)}`);
    }
    this.claims = new RoleClaims("MysqlRoleScheduler", {
      acquire: (role, signal) => this.acquire(role, signal),
      release: (role, session) => this.release(role, session),
      members: {
        beatMs: this.pollingFrequencyMs,
        beat: (roles) => this.beat(roles),
        leave: () => this.leaveMembers(),
      },
    });
  }

  /**
   * Resolves with a lease once `role` is free here and in the database. Rejects with the signal's
   * reason if it aborts first, with RoleSchedulerClosedError once the scheduler is closed, and
   * with the driver's error when the database cannot be asked (the caller backs off and awaits again).
   */
  await(role: string, signal: AbortSignal): Promise<Lease> {
    return this.claims.await(role, signal);
  }

  /**
   * The name of the user lock that stands for `role` in this database. `SELECT IS_USED_LOCK(name)`
   * gives the connection id holding it; for operations and tests.
   */
  lockName(role: string): Promise<string> {
    return this.hashedName(role);
  }

  /** A user lock name for `parts` in this database and prefix: 64 hex digits, MySQL's limit. */
  private async hashedName(...parts: string[]): Promise<string> {
    this.database ??= select(this.pool, "SELECT DATABASE() AS db", [], "DATABASE()").then(([row]) => String(row?.db ?? ""));
    const database = await this.database.catch((err: unknown) => {
      this.database = undefined;
      throw err;
    });
    return createHash("sha256").update([database, this.prefix, ...parts].join("\0")).digest("hex");
  }

  /**
   * Ends every lease (their signals abort) and pending await, releases the locks and gives the
   * connection back to the pool. Later awaits reject with RoleSchedulerClosedError. Idempotent.
   */
  async close(): Promise<void> {
    if (this.claims.isClosed) return;
    await this.claims.close();
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

  /**
   * Keeps our row in the members table with the roles we await (taking the row's lock on a new
   * session first), and lists the rows whose lock is held: the live members. Rows whose lock is
   * free belong to sessions that ended, and are deleted.
   */
  private async beat(roles: readonly string[]): Promise<MemberListing> {
    const table = this.tables.roleMembers;
    const session = await this.openSession();
    try {
      let lockName = session.memberLock;
      if (lockName === undefined) {
        // A lock of this session's own: an earlier session that is not quite gone keeps its lock.
        lockName = await this.hashedName("member", this.memberId, randomUUID());
        const [row] = await this.query(session, "SELECT GET_LOCK(?, 0) AS got", [lockName], "GET_LOCK()");
        if (Number(row?.got) !== 1) throw new Error(`mysql: could not take the member lock ${lockName}`);
        session.memberLock = lockName;
      }
      await this.query(
        session,
        `INSERT INTO \`${table}\` (member, lock_name, roles) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE lock_name = VALUES(lock_name), roles = VALUES(roles)`,
        [this.memberId, lockName, encodeMemberRoles(roles)],
        table,
      );
      const rows = await this.query(session, `SELECT member, roles, IS_USED_LOCK(lock_name) IS NOT NULL AS live FROM \`${table}\``, [], table);
      const gone = rows.filter((row) => Number(row.live) !== 1).map((row) => String(row.member));
      if (gone.length > 0) {
        await this.query(session, `DELETE FROM \`${table}\` WHERE member IN (?) AND IS_USED_LOCK(lock_name) IS NULL`, [gone], table);
      }
      const members = rows.filter((row) => Number(row.live) === 1).map((row) => ({ id: String(row.member), roles: decodeMemberRoles(row.roles) }));
      return { self: this.memberId, members };
    } catch (err) {
      if (isFatal(err) || session.lost) this.lose(session, err);
      throw err;
    }
  }

  /** Deletes our row and gives its lock back; a closing scheduler releases every lock at once after. */
  private async leaveMembers(): Promise<void> {
    const session = this.session;
    const lockName = session?.memberLock;
    if (session === undefined || lockName === undefined || session.lost) return;
    session.memberLock = undefined;
    try {
      await this.query(session, `DELETE FROM \`${this.tables.roleMembers}\` WHERE member = ?`, [this.memberId], this.tables.roleMembers);
      await this.query(session, "SELECT RELEASE_LOCK(?) AS released", [lockName], "RELEASE_LOCK()");
    } catch (err) {
      // The row is dead once the lock is free, whoever notices first deletes it.
      if (isFatal(err)) this.lose(session, err);
    }
  }

  /** GET_LOCK without waiting, tried again every `pollingFrequency`; resolves with the session that holds the lock. */
  private async acquire(role: string, signal: AbortSignal): Promise<Session> {
    const name = await untilAborted(this.lockName(role), signal);
    for (;;) {
      const session = await untilAborted(this.openSession(), signal);
      let got: unknown;
      try {
        const [row] = await this.query(session, "SELECT GET_LOCK(?, 0) AS got", [name], "GET_LOCK()");
        got = row?.got;
      } catch (err) {
        // A lost connection is not the waiters' problem: try again on a new one.
        if (!isFatal(err) && !session.lost) throw err;
        this.lose(session, err);
      }
      // A lock taken on a connection that has since been lost died with it.
      // Number(): a pool with bigNumberStrings returns the BIGINT result as "1".
      if (Number(got) === 1 && !session.lost) {
        if (this.holds++ === 0) this.stopChecking = wallInterval(this.pollingFrequencyMs, () => this.check());
        return session;
      }
      await systemClock.sleep(this.pollingFrequencyMs, signal);
    }
  }

  /** Gives the role's lock back; a closing scheduler releases them all at once instead. */
  private async release(role: string, session: Session): Promise<void> {
    if (--this.holds === 0) {
      this.stopChecking?.();
      this.stopChecking = undefined;
    }
    if (session.lost || this.claims.isClosed) return;
    try {
      await this.query(session, "SELECT RELEASE_LOCK(?) AS released", [await this.lockName(role)], "RELEASE_LOCK()");
    } catch (err) {
      // Either the connection is gone, and its locks with it, or the lock's state is unknown: start afresh.
      this.lose(session, err);
    }
  }

  private openSession(): Promise<Session> {
    if (this.session !== undefined) return Promise.resolve(this.session);
    this.opening ??= (async () => {
      try {
        const connection = await this.pool.getConnection();
        const session: Session = { connection, lost: false, ended: new AbortController(), onLost: (err) => this.lose(session, err) };
        // Every statement in flight on the session listens for its loss until it settles: one
        // GET_LOCK per role being taken at once, besides the beat and the check.
        setMaxListeners(0, session.ended.signal);
        connection.on("error", session.onLost);
        connection.on("end", session.onLost);
        // Closed while connecting: hand the connection straight back.
        if (this.claims.isClosed) {
          this.forget(session);
          connection.release();
          throw new RoleSchedulerClosedError("MysqlRoleScheduler");
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
    session.ended.abort(new Error("the MySQL connection holding the role locks was lost", { cause: err }));
    this.forget(session);
    session.connection.destroy();
    this.claims.loseEvery(
      (role) => new RoleLostError(role, "its lock went with the MySQL connection", { cause: err }),
      (held) => held === session,
    );
  }

  /** A statement on the session's connection; rejects at once if the session is lost, as a dead connection may never answer. */
  private query(session: Session, sql: string, values: MysqlValue[], what: string): Promise<Row[]> {
    return untilAborted(select(session.connection, sql, values, what), session.ended.signal);
  }

  /** Stops watching a session's connection and stops using it for new locks. */
  private forget(session: Session): void {
    session.connection.off("error", session.onLost);
    session.connection.off("end", session.onLost);
    if (this.session === session) this.session = undefined;
  }

  /** Every `pollingFrequency` while holding: the connection is alive, or its locks are gone. */
  private check(): void {
    const session = this.session;
    if (session === undefined || session.lost) return;
    select(session.connection, "SELECT 1 AS alive", [], "SELECT 1").catch((err: unknown) => {
      if (isFatal(err) || session.lost) this.lose(session, err);
    });
  }
}

/** mysql2 marks errors that leave the connection unusable (lost, killed, protocol errors) as fatal. */
function isFatal(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { fatal?: unknown }).fatal === true;
}
