import { systemClock } from "../../clock.js";
import { InvalidOptionError } from "../../errors.js";
import { KeyedWakers } from "../../keyed-wakers.js";
import type { MemberListing } from "../../role-membership.js";

/** Options of {@link MemoryRoleCluster}. */
export interface MemoryRoleClusterOptions {
  /**
   * How long a lease and a membership last without renewal, in ms: how long the roles of a
   * scheduler that crashed stay taken. Holders renew every third of it. Default 5000.
   */
  ttlMs?: number;
}

/**
 * In-memory stand-in for the engine that processes share, for tests and demos of several
 * processes in one: {@link MemoryRoleScheduler}s made on one cluster act as processes on one
 * server. A role has one holder among them (a lease that expires unless renewed), and roles spread
 * over the schedulers that await them. Like a real engine's, the state of a scheduler that
 * crashed (`scheduler.crash()`) stays until its TTL runs out.
 *
 * @example
 * ```ts
 * const cluster = new MemoryRoleCluster({ ttlMs: 1_000 });
 * const processes = [1, 2, 3].map(() => new MemoryRoleScheduler({ cluster }));
 * ```
 */
export class MemoryRoleCluster {
  readonly ttlMs: number;
  readonly #leases = new Map<string, { holder: string; expiresAtMs: number }>();
  readonly #members = new Map<string, { roles: readonly string[]; expiresAtMs: number }>();
  /** The schedulers waiting for a role, woken when it is released. */
  readonly #released = new KeyedWakers();

  constructor(options: MemoryRoleClusterOptions = {}) {
    const ttlMs = options.ttlMs ?? 5_000;
    if (!(ttlMs >= 10)) throw new InvalidOptionError("ttlMs", `MemoryRoleCluster: ttlMs must be at least 10, got ${String(options.ttlMs)}`);
    this.ttlMs = ttlMs;
  }

  /** The id of the scheduler holding `role`, or undefined when its lease was released or ran out. */
  holder(role: string): string | undefined {
    const lease = this.#leases.get(role);
    return lease !== undefined && lease.expiresAtMs > nowMs() ? lease.holder : undefined;
  }

  /** Takes `role` for `holder` if it is free: undefined then, else the ms until its holder's lease runs out. */
  take(role: string, holder: string): number | undefined {
    const lease = this.#leases.get(role);
    const now = nowMs();
    if (lease !== undefined && lease.expiresAtMs > now && lease.holder !== holder) return lease.expiresAtMs - now;
    this.#leases.set(role, { holder, expiresAtMs: now + this.ttlMs });
    return undefined;
  }

  /** Extends `holder`'s lease on `role`; false when it ran out or another holder has it. */
  renew(role: string, holder: string): boolean {
    const lease = this.#leases.get(role);
    const now = nowMs();
    if (lease === undefined || lease.holder !== holder || lease.expiresAtMs <= now) return false;
    lease.expiresAtMs = now + this.ttlMs;
    return true;
  }

  /** Frees `role` if `holder` has it, waking the schedulers waiting for it. */
  release(role: string, holder: string): void {
    if (this.#leases.get(role)?.holder !== holder) return;
    this.#leases.delete(role);
    this.#released.wake(role);
  }

  /** Resolves when `role` is released, or after `ms`; rejects with the signal's reason if it aborts first. */
  untilReleased(role: string, ms: number, signal: AbortSignal): Promise<void> {
    return this.#released.wait(role, ms, signal);
  }

  /** Lists `member` as wanting `roles` for another TTL, forgets members that ran out, and lists the rest. */
  beat(member: string, roles: readonly string[]): MemberListing {
    const now = nowMs();
    this.#members.set(member, { roles: [...roles], expiresAtMs: now + this.ttlMs });
    const members = [];
    for (const [id, entry] of this.#members) {
      if (entry.expiresAtMs <= now) this.#members.delete(id);
      else members.push({ id, roles: entry.roles, expiresInMs: entry.expiresAtMs - now });
    }
    return { self: member, members };
  }

  /** Stops listing `member`. */
  leave(member: string): void {
    this.#members.delete(member);
  }
}

function nowMs(): number {
  return systemClock.now().getTime();
}
