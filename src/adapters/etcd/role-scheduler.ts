import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { throwIfAborted, untilAborted } from "../../abort.js";
import { RoleLostError } from "../../errors.js";
import { RoleClaims } from "../../role-claims.js";
import { decodeMemberRoles, encodeMemberRoles, type MemberListing } from "../../role-membership.js";
import type { Lease, RoleScheduler } from "../../rolescheduler.js";
import { InvalidOptionError } from "../../errors.js";
import type { EtcdClient } from "./driver.js";
import { KeyWatch } from "./key-watch.js";
import { Session } from "./session.js";

/** Options of {@link EtcdRoleScheduler}. */
export interface EtcdRoleSchedulerOptions {
  /** Your etcd client (`new Etcd3(...)` from `etcd3`, or a namespace of one); never closed by stepwise. */
  client: EtcdClient;
  /**
   * Seconds the lease lives without renewal: how long the roles of a process that died stay
   * taken. A whole number, at least 1; etcd may round it up to its minimum (2 s by default).
   * The scheduler's membership (which roles spread to it) is on the same lease. Default 5.
   */
  ttl?: number;
  /**
   * Put before every role name to make its key. Default "stepwise/roles/". The schedulers awaiting
   * roles are listed under `<prefix>~members/`.
   */
  prefix?: string;
}

/** A role's key as this process holds it. */
interface Hold {
  key: string;
  /** The key's create revision: the delete is conditional on it. */
  revision: bigint;
  session: Session;
  /** Stops following the key's deletions and the session's loss. */
  stopWatching(): void;
}

/**
 * A {@link RoleScheduler} on etcd, the counterpart of the Go library's rink scheduler. A role is
 * a key (`prefix + role`) created only if absent, in a transaction, and attached to the
 * scheduler's lease, which the client keeps alive; its value names the holder (host and process
 * id). Waiters watch the key and try again when it is deleted, so an abandoned wait leaves nothing
 * behind in etcd. A role is exclusive across every process on the cluster, and within this one.
 *
 * A lease's signal aborts when the role is released, when the signal given to `await` aborts, when
 * its key is deleted (by anyone), and when the etcd lease can no longer be trusted: etcd revoked or
 * expired it, a renewal failed, or none was confirmed within three quarters of the TTL. A process
 * that dies loses its roles when etcd expires its lease, after the TTL.
 *
 * Roles spread over the processes on the cluster, as rink does: each scheduler awaiting roles puts
 * a key `<prefix>~members/<id>` naming them on its lease, and lists those keys every quarter of
 * the TTL. It takes only the roles assigned to it, about its share, and hands a role over when the
 * assignment moves it. A dead scheduler's member key goes with its lease, so its roles are
 * reassigned at the first listing after etcd expires it.
 *
 * ```ts
 * import { Etcd3 } from "etcd3";
 * import { EtcdRoleScheduler } from "stepwise/etcd";
 * const client = new Etcd3({ hosts: "127.0.0.1:2379" });
 * const wf = b.build({ ...postgres({ pool }), roleScheduler: new EtcdRoleScheduler({ client, ttl: 5 }) });
 * ```
 */
export class EtcdRoleScheduler implements RoleScheduler {
  readonly #client: EtcdClient;
  readonly #ttl: number;
  readonly #prefix: string;
  readonly #holder = `${hostname()}:${process.pid}`;
  /** This scheduler's id among the members, the last part of its member key. */
  readonly #memberId = `${this.#holder}:${randomUUID()}`;
  /** Whether this scheduler is listed as a member, which keeps the session: one of the users. */
  #member = false;
  /** The member key's value as last put, and on which session's lease. */
  #written: { session: Session; value: string } | undefined;
  /** Await calls in progress plus leases not yet released; the session is closed when none is left. */
  #users = 0;
  #session: Promise<Session> | undefined;
  readonly #claims: RoleClaims<Hold>;

  constructor(options: EtcdRoleSchedulerOptions) {
    const ttl = options.ttl ?? 5;
    if (!Number.isInteger(ttl) || ttl < 1) throw new InvalidOptionError("ttl", `EtcdRoleScheduler: ttl must be a whole number of seconds, at least 1 (got ${ttl})`);
    this.#client = options.client;
    this.#ttl = ttl;
    this.#prefix = options.prefix ?? "stepwise/roles/";
    this.#claims = new RoleClaims<Hold>("EtcdRoleScheduler", {
      acquire: (role, signal) => this.#acquire(role, signal),
      release: (_role, hold) => this.#release(hold),
      members: {
        beatMs: (ttl * 1000) / 4,
        beat: (roles) => this.#beat(roles),
        leave: () => this.#leaveMembers(),
        watch: (changed) => this.#watchMembers(changed),
      },
    });
  }

  async await(role: string, signal: AbortSignal): Promise<Lease> {
    return this.#claims.await(role, signal);
  }

  #membersPrefix(): string {
    return `${this.#prefix}~members/`;
  }

  /** Puts our member key with the roles we await on the session's lease (when they changed), and lists the member keys. */
  async #beat(roles: readonly string[]): Promise<MemberListing> {
    if (!this.#member) {
      this.#member = true;
      this.#users++;
    }
    const session = await this.#currentSession();
    const value = encodeMemberRoles(roles);
    const key = this.#membersPrefix() + this.#memberId;
    if (this.#written?.session !== session || this.#written.value !== value) {
      try {
        await this.#client.put(key).value(value).lease(session.id).exec();
      } catch (err) {
        if (isLeaseNotFound(err)) session.lose(new Error(`the etcd lease ${session.id} is gone`, { cause: err }));
        throw err;
      }
      this.#written = { session, value };
    }
    const found = await this.#client.getAll().prefix(this.#membersPrefix()).strings();
    // Deleted by someone else: put it again at the next beat.
    if (found[key] === undefined) this.#written = undefined;
    const members = Object.entries(found).map(([memberKey, roleList]) => ({
      id: memberKey.slice(this.#membersPrefix().length),
      roles: decodeMemberRoles(roleList),
    }));
    return { self: this.#memberId, members };
  }

  /** Calls `changed` when a member key is put or deleted (a member joined, changed its roles, left or expired). */
  #watchMembers(changed: () => void): () => void {
    const watcher = this.#client.watch().prefix(this.#membersPrefix()).watcher();
    watcher.on("put", changed);
    watcher.on("delete", changed);
    // Never leave 'error' unheard: an EventEmitter with no listener for it ends the process. The beats go on without the watch.
    watcher.on("error", () => undefined);
    return () => void watcher.cancel().catch(() => undefined);
  }

  /** Deletes our member key, and closes the session once nothing else uses it. */
  async #leaveMembers(): Promise<void> {
    if (!this.#member) return;
    this.#member = false;
    const written = this.#written;
    this.#written = undefined;
    if (written !== undefined && !written.session.signal.aborted) {
      await this.#client
        .delete()
        .key(this.#membersPrefix() + this.#memberId)
        .exec()
        .catch(() => undefined);
    }
    await this.#leave();
  }

  /** Creates the role's key on the session's lease, trying again each time a watch sees it deleted. */
  async #acquire(role: string, signal: AbortSignal): Promise<Hold> {
    throwIfAborted(signal);
    const key = this.#prefix + role;
    this.#users++;
    let watch: KeyWatch | undefined;
    let hold: Hold | undefined;
    try {
      for (;;) {
        const session = await untilAborted(this.#currentSession(), signal);
        const reconnects = watch?.reconnects ?? 0;
        const client = this.#client;
        let revision: bigint;
        let created: boolean;
        try {
          const response = await client
            .if(key, "Create", "==", 0)
            .then(client.put(key).value(this.#holder).lease(session.id))
            .commit();
          revision = BigInt(response.header.revision);
          created = response.succeeded;
        } catch (err) {
          // The lease ended under us (revoked, expired) before the client noticed: start a new one.
          if (!isLeaseNotFound(err)) throw err;
          session.lose(new Error(`the etcd lease ${session.id} is gone`, { cause: err }));
          continue;
        }
        if (watch?.failure) {
          watch.close();
          watch = undefined;
        }
        if (created) {
          // The session was given up while the put was in flight: the key goes with its lease.
          if (session.signal.aborted) continue;
          // A put's revision is the key's create revision: later deletions are the ones that count.
          hold = this.#hold(role, key, revision, session, (watch ??= new KeyWatch(client, key, revision)));
          return hold;
        }
        const current = (watch ??= new KeyWatch(client, key, revision));
        // Another holder has the key: try again once it is deleted, or when the watch may have missed that.
        await current.until(() => current.isDeletedAfter(revision) || current.reconnects !== reconnects || current.failure !== undefined, signal);
      }
    } finally {
      if (!hold) {
        watch?.close();
        await this.#leave();
      }
    }
  }

  /** The role's key, created at `revision`, watched until the lease on it ends. */
  #hold(role: string, key: string, revision: bigint, session: Session, watch: KeyWatch): Hold {
    const lose = (reason: RoleLostError) => this.#claims.lose(role, reason, hold);
    const onSessionLost = () => lose(new RoleLostError(role, "its etcd lease ended", { cause: session.signal.reason }));
    let reconnects = watch.reconnects;
    const unsubscribe = watch.subscribe(() => {
      if (watch.isDeletedAfter(revision)) return lose(new RoleLostError(role, `its key ${key} was deleted`));
      if (watch.failure) return lose(new RoleLostError(role, `its watch on ${key} ended`, { cause: watch.failure }));
      if (watch.reconnects !== reconnects) {
        reconnects = watch.reconnects;
        // The watch may have missed a deletion while it was away: look at the key itself.
        this.#client
          .get(key)
          .exec()
          .then(({ kvs }) => {
            if (kvs[0]?.create_revision !== String(revision)) lose(new RoleLostError(role, `its key ${key} is gone`));
          })
          .catch(() => undefined); // etcd unreachable: the session's renewals decide then
      }
    });
    session.signal.addEventListener("abort", onSessionLost, { once: true });
    const hold: Hold = {
      key,
      revision,
      session,
      stopWatching: () => {
        unsubscribe();
        session.signal.removeEventListener("abort", onSessionLost);
        watch.close();
      },
    };
    return hold;
  }

  /** Gives the key up and the session, once nothing else uses it. */
  async #release(hold: Hold): Promise<void> {
    hold.stopWatching();
    // Conditional on the create revision, so it never deletes the key of a later holder.
    if (!hold.session.signal.aborted) {
      // Left behind, the key would keep the role taken for as long as the session lives.
      await this.#delete(hold.key, hold.revision).catch((err: unknown) => hold.session.lose(asError(err)));
    }
    await this.#leave();
  }

  /** Deletes the role's key if it is still the one created at `revision`. */
  async #delete(key: string, revision: bigint): Promise<void> {
    const client = this.#client;
    await client.if(key, "Create", "==", String(revision)).then(client.delete().key(key)).commit();
  }

  /** The live session, opening one when there is none or the last one was lost. */
  async #currentSession(): Promise<Session> {
    for (;;) {
      let pending = this.#session;
      if (!pending) {
        const opening = Session.open(this.#client, this.#ttl);
        opening.catch(() => {
          if (this.#session === opening) this.#session = undefined;
        });
        this.#session = pending = opening;
      }
      const session = await pending;
      if (!session.signal.aborted) return session;
      if (this.#session === pending) this.#session = undefined;
    }
  }

  /** Closes the session (revoking its lease) once nothing is awaited or held. */
  async #leave(): Promise<void> {
    this.#users--;
    if (this.#users > 0 || !this.#session) return;
    const pending = this.#session;
    this.#session = undefined;
    const session = await pending.catch(() => undefined);
    await session?.close();
  }
}

/** etcd refuses a put on a lease that no longer exists with "requested lease not found". */
function isLeaseNotFound(err: unknown): boolean {
  return err instanceof Error && /lease not found|expired or revoked/.test(err.message);
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
