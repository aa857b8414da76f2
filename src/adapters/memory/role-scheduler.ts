import { throwIfAborted } from "../../clock.js";
import type { Lease, RoleScheduler } from "../../rolescheduler.js";

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
}

/** Who holds a role and who waits for it, first come first served. */
interface RoleQueue {
  holder: Claim | undefined;
  readonly waiting: Claim[];
}

/**
 * An in-process {@link RoleScheduler}: each role has at most one holder, and waiters get it in the
 * order they asked. A lease ends, and its signal aborts, when it is released, when the signal given
 * to `await` aborts, or when {@link MemoryRoleScheduler.revoke} takes it away; the role then passes
 * to the next waiter.
 */
export class MemoryRoleScheduler implements RoleScheduler {
  /** Only roles that are held; an entry goes away with its last holder. */
  private readonly roles = new Map<string, RoleQueue>();

  /**
   * Resolves with a lease once `role` is free and every earlier waiter has had it. Rejects with the
   * signal's reason if the signal aborts first (the call then leaves the queue).
   */
  await(role: string, signal: AbortSignal): Promise<Lease> {
    return new Promise<Lease>((resolve, reject) => {
      throwIfAborted(signal);
      const claim: Claim = {
        state: "waiting",
        signal,
        lease: new AbortController(),
        grant: resolve,
        refuse: reject,
        onAbort: () => this.abandon(role, claim),
      };
      signal.addEventListener("abort", claim.onAbort, { once: true });
      let queue = this.roles.get(role);
      if (queue === undefined) {
        queue = { holder: undefined, waiting: [] };
        this.roles.set(role, queue);
      }
      if (queue.holder === undefined && queue.waiting.length === 0) this.grant(role, queue, claim);
      else queue.waiting.push(claim);
    });
  }

  /**
   * Takes `role` away from its holder as if the lease had been lost (an expired lock, a network
   * split): the holder's lease signal aborts and the next waiter gets the role. Meant for tests of
   * what a process does when it loses its role. Does nothing when nobody holds the role.
   */
  revoke(role: string): void {
    const holder = this.roles.get(role)?.holder;
    if (holder !== undefined) this.end(role, holder, new Error(`the lease on role "${role}" was lost (revoked)`));
  }

  private grant(role: string, queue: RoleQueue, claim: Claim): void {
    queue.holder = claim;
    claim.state = "holding";
    claim.grant({
      signal: claim.lease.signal,
      release: async () => this.end(role, claim, new Error(`the lease on role "${role}" was released`)),
    });
  }

  /** The signal given to `await` aborted: leave the queue, or give the role up. */
  private abandon(role: string, claim: Claim): void {
    if (claim.state === "holding") {
      this.end(role, claim, claim.signal.reason);
      return;
    }
    if (claim.state !== "waiting") return;
    claim.state = "done";
    const queue = this.roles.get(role);
    if (queue !== undefined) {
      const index = queue.waiting.indexOf(claim);
      if (index >= 0) queue.waiting.splice(index, 1);
    }
    claim.refuse(claim.signal.reason);
  }

  private end(role: string, claim: Claim, reason: unknown): void {
    // release() may be called after the lease was already lost or released; only the first end counts.
    if (claim.state !== "holding") return;
    claim.state = "done";
    claim.signal.removeEventListener("abort", claim.onAbort);
    const queue = this.roles.get(role);
    if (queue?.holder === claim) queue.holder = undefined;
    // Abort before handing the role on, so the old holder hears it has lost the role before the
    // new holder's lease resolves (a promise, delivered after this synchronous dispatch).
    claim.lease.abort(reason);
    if (queue === undefined || queue.holder !== undefined) return;
    const next = queue.waiting.shift();
    if (next !== undefined) this.grant(role, queue, next);
    else this.roles.delete(role);
  }
}
