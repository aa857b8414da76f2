import { adoptClock, FollowingClock, type Clock, type ClockAdopter } from "../../clock.js";
import { TimeoutNotFoundError } from "../../errors.js";
import type { NewTimeout, TimeoutPage, TimeoutRecord, TimeoutStore } from "../../timeout-store.js";

/** Options of {@link MemoryTimeoutStore}. */
export interface MemoryTimeoutStoreOptions {
  /** Stamps `TimeoutRecord.createdAt`. Default: the system clock. */
  clock?: Clock;
}

/**
 * An in-process {@link TimeoutStore}. Only active timeouts are kept: completing or cancelling one
 * forgets it, so memory follows the number of live timeouts. Results are copies.
 */
export class MemoryTimeoutStore implements TimeoutStore, ClockAdopter {
  private readonly clock: Clock;
  /** Id → active timeout. */
  private readonly active = new Map<string, TimeoutRecord>();
  private nextId = 1;

  constructor(options: MemoryTimeoutStoreOptions = {}) {
    this.clock = options.clock ?? new FollowingClock();
  }
  /** Stamps times with the workflow's clock when this store was given none. */
  [adoptClock](clock: Clock): void {
    if (this.clock instanceof FollowingClock) this.clock.adopt(clock);
  }


  /** Adds an active timeout with a new id (increasing decimal strings). */
  async create(timeout: NewTimeout): Promise<void> {
    const id = String(this.nextId++);
    this.active.set(id, {
      id,
      workflowName: timeout.workflowName,
      foreignId: timeout.foreignId,
      runId: timeout.runId,
      status: timeout.status,
      index: timeout.index ?? 0,
      completed: false,
      expireAt: new Date(timeout.expireAt.getTime()),
      createdAt: this.clock.now(),
    });
  }

  /** Marks the timeout as fired; TimeoutNotFoundError when it is unknown or no longer active. */
  async complete(id: string): Promise<void> {
    this.remove(id);
  }

  /** Withdraws the timeout; TimeoutNotFoundError when it is unknown or no longer active. */
  async cancel(id: string): Promise<void> {
    this.remove(id);
  }

  /** The workflow's active timeouts, soonest expiry first. */
  async list(workflowName: string): Promise<TimeoutRecord[]> {
    return this.select((t) => t.workflowName === workflowName);
  }

  /** The workflow's active timeouts for `status` that expire at or before `now`, soonest first. */
  async listValid(workflowName: string, status: number, now: Date, page?: TimeoutPage): Promise<TimeoutRecord[]> {
    const nowMs = now.getTime();
    const after = page?.after;
    const listed = this.select(
      (t) => t.workflowName === workflowName && t.status === status && t.expireAt.getTime() <= nowMs && (!after || compareTimeouts(t, after) > 0),
    );
    return page ? listed.slice(0, page.limit) : listed;
  }

  private remove(id: string): void {
    if (!this.active.delete(id)) throw new TimeoutNotFoundError(id);
  }

  private select(keep: (timeout: TimeoutRecord) => boolean): TimeoutRecord[] {
    const selected: TimeoutRecord[] = [];
    for (const t of this.active.values()) {
      if (keep(t)) selected.push({ ...t, expireAt: new Date(t.expireAt.getTime()), createdAt: new Date(t.createdAt.getTime()) });
    }
    return selected.sort(compareTimeouts);
  }
}

/** Expiry order, ties by id: ids are increasing decimal strings, so shorter is older. */
function compareTimeouts(a: { expireAt: Date; id: string }, b: { expireAt: Date; id: string }): number {
  return a.expireAt.getTime() - b.expireAt.getTime() || a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
