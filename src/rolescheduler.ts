/** Exclusive ownership of a role, until `release()` or until `signal` aborts (the role was lost). */
export interface Lease {
  signal: AbortSignal;
  release(): Promise<void>;
}

/**
 * Hands each role to one holder at a time, across every process sharing the scheduler.
 * `await` waits for the role (rejecting when `signal` aborts); the lease ends when it is released,
 * when `signal` aborts, or when the scheduler loses it, and its signal aborts then.
 */
export interface RoleScheduler {
  await(role: string, signal: AbortSignal): Promise<Lease>;
}
