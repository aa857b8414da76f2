import { RoleLostError } from "../../errors.js";
import { RoleClaims } from "../../role-claims.js";
import type { Lease, RoleScheduler } from "../../rolescheduler.js";

/**
 * An in-process {@link RoleScheduler}: each role has at most one holder, and waiters get it in the
 * order they asked. A lease ends, and its signal aborts, when it is released, when the signal given
 * to `await` aborts, or when {@link MemoryRoleScheduler.revoke} takes it away; the role then passes
 * to the next waiter.
 */
export class MemoryRoleScheduler implements RoleScheduler {
  // In one process the in-process claims are the whole lock: the engine's part does nothing.
  readonly #claims = new RoleClaims<void>("MemoryRoleScheduler", {
    acquire: async () => undefined,
    release: async () => undefined,
  });

  /**
   * Resolves with a lease once `role` is free and every earlier waiter has had it. Rejects with the
   * signal's reason if the signal aborts first (the call then leaves the queue).
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
}
