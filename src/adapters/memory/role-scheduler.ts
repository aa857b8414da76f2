import { randomUUID } from "node:crypto";
import { throwIfAborted } from "../../abort.js";
import { RoleLostError } from "../../errors.js";
import { RoleClaims, type RoleLock } from "../../role-claims.js";
import type { Lease, RoleScheduler } from "../../rolescheduler.js";
import type { MemoryRoleCluster } from "./role-cluster.js";

/** Options of {@link MemoryRoleScheduler}. */
export interface MemoryRoleSchedulerOptions {
  /**
   * Makes this scheduler one of several standing in for processes on one engine: roles spread
   * over the schedulers of the cluster, each held by one of them at a time. Default: none, the
   * scheduler is on its own and every role it is asked for is its to give.
   */
  cluster?: MemoryRoleCluster;
}

/**
 * An in-process {@link RoleScheduler}: each role has at most one holder, and waiters get it in the
 * order they asked. A lease ends, and its signal aborts, when it is released, when the signal given
 * to `await` aborts, or when {@link MemoryRoleScheduler.revoke} takes it away; the role then passes
 * to the next waiter.
 *
 * On a {@link MemoryRoleCluster} it acts as one process of several: it takes only the roles
 * assigned to it (about its share of the roles that the cluster's schedulers await), hands a role
 * over when the assignment moves it to another scheduler, and takes over the roles of one that
 * stopped or crashed once that one's TTL ran out.
 */
export class MemoryRoleScheduler implements RoleScheduler {
  /** This scheduler's id as a member of its cluster. */
  readonly id = randomUUID();
  readonly #claims: RoleClaims<void>;
  #crashed = false;

  constructor(options: MemoryRoleSchedulerOptions = {}) {
    const { cluster } = options;
    // On its own, the in-process claims are the whole lock: the engine's part does nothing.
    const lock: RoleLock<void> =
      cluster === undefined ? { acquire: async () => undefined, release: async () => undefined } : this.#clusterLock(cluster);
    this.#claims = new RoleClaims("MemoryRoleScheduler", lock);
  }

  /**
   * Resolves with a lease once `role` is free and every earlier waiter has had it (and, on a
   * cluster, once the role is assigned to this scheduler). Rejects with the signal's reason if the
   * signal aborts first (the call then leaves the queue).
   */
  await(role: string, signal: AbortSignal): Promise<Lease> {
    return this.#claims.await(role, signal);
  }

  /**
   * Takes `role` away from its holder as if the lease had been lost (an expired lock, a network
   * split): the holder's lease signal aborts and the next waiter gets the role. Meant for tests of
   * what a process does when it loses its role. Does nothing when nobody holds the role.
   */
  revoke(role: string): void {
    this.#claims.lose(role, new RoleLostError(role, "it was revoked"));
  }

  /**
   * Stops this scheduler as if its process had crashed, for tests of a takeover: its leases'
   * signals abort and later awaits reject, but nothing is given back to the cluster, so its roles
   * and membership stay taken until the cluster's TTL runs out.
   */
  async crash(): Promise<void> {
    this.#crashed = true;
    await this.#claims.close();
  }

  #clusterLock(cluster: MemoryRoleCluster): RoleLock<void> {
    return {
      acquire: (role, signal) => this.#acquire(cluster, role, signal),
      release: async (role) => {
        if (!this.#crashed) cluster.release(role, this.id);
      },
      renewal: { ttlMs: () => cluster.ttlMs, renew: async (role) => !this.#crashed && cluster.renew(role, this.id) },
      members: {
        beatMs: cluster.ttlMs / 3,
        beat: async (roles) => cluster.beat(this.id, roles),
        leave: async () => {
          if (!this.#crashed) cluster.leave(this.id);
        },
      },
    };
  }

  /** Takes the role in the cluster, trying again when its holder releases it or its lease runs out. */
  async #acquire(cluster: MemoryRoleCluster, role: string, signal: AbortSignal): Promise<void> {
    for (;;) {
      throwIfAborted(signal);
      const leftMs = cluster.take(role, this.id);
      if (leftMs === undefined) return;
      await cluster.untilReleased(role, leftMs + 1, signal);
    }
  }
}
