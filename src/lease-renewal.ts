import { systemClock } from "./clock.js";
import { RoleLostError } from "./errors.js";

/** How an engine whose leases expire keeps one: {@link RoleLock.renewal}. */
export interface LeaseRenewal<Hold> {
  /**
   * How long the engine keeps the lease after a renewal was sent, in ms (its TTL). It is renewed
   * every third of that, which leaves room for one renewal to fail, and ends as lost when no
   * renewal was confirmed within the TTL less a tenth, before the engine could let another
   * process take the role.
   */
  ttlMs(hold: Hold): number;
  /**
   * Extends the lease: resolves true when the engine did, false when the role is no longer this
   * hold's (it expired, or another holder has it). A rejection counts as lost too.
   */
  renew(role: string, hold: Hold): Promise<boolean>;
  /**
   * When the request that granted `hold` was sent, by the system clock: the engine's TTL started
   * between then and the answer, so the lease's first term counts from it. Without it, from when
   * the hold was handed over, which trusts the answer to have come at once.
   */
  askedAtMs?(hold: Hold): number;
}

/**
 * Renews `hold`'s lease every third of its TTL until `leased` aborts. Resolves with why the lease was
 * lost (a renewal was refused, failed, or came too late), or with undefined once `leased` aborted.
 * It never renews after `leased` aborted, and waits for a renewal in flight before it resolves.
 */
export async function renewLease<Hold>(role: string, renewal: LeaseRenewal<Hold>, hold: Hold, leased: AbortSignal): Promise<RoleLostError | undefined> {
  const ttlMs = renewal.ttlMs(hold);
  // Our clock and the engine's need not agree to the millisecond: stop a little early.
  const marginMs = ttlMs / 10;
  let validUntilMs = (renewal.askedAtMs?.(hold) ?? systemClock.now().getTime()) + ttlMs;
  for (;;) {
    try {
      await systemClock.sleep(ttlMs / 3, leased);
    } catch {
      return undefined;
    }
    const sentAtMs = systemClock.now().getTime();
    const late = new AbortController();
    let outcome: "renewed" | "refused" | "late" | { failure: unknown };
    try {
      outcome = await Promise.race([
        renewal.renew(role, hold).then((renewed) => (renewed ? "renewed" : "refused")),
        systemClock.sleep(validUntilMs - marginMs - sentAtMs, late.signal).then(() => "late" as const),
      ]);
    } catch (err) {
      outcome = { failure: err };
    } finally {
      late.abort();
    }
    if (leased.aborted) return undefined;
    if (outcome === "renewed") {
      // The engine extended the lease after we sent the renewal, so it lasts at least this long.
      validUntilMs = sentAtMs + ttlMs;
      continue;
    }
    if (outcome === "refused") return new RoleLostError(role, "it expired, or another holder has it");
    if (outcome === "late") return new RoleLostError(role, "no renewal succeeded before it could expire");
    const detail = outcome.failure instanceof Error ? outcome.failure.message : String(outcome.failure);
    return new RoleLostError(role, `renewing it failed (${detail})`, { cause: outcome.failure });
  }
}
