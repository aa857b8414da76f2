import { setMaxListeners } from "node:events";
import { linkSignals, throwIfAborted, untilWoken, type LinkedSignal } from "./abort.js";
import type { RoleLostError } from "./errors.js";
import { RoleHandedOverError, RoleReleasedError, RoleSchedulerClosedError } from "./errors.js";
import { renewLease, type LeaseRenewal } from "./lease-renewal.js";
import { RoleMembership, type RoleMembers } from "./role-membership.js";
import type { Lease } from "./rolescheduler.js";

/**
 * The engine's part of a role scheduler: its own lease or lock on a role, taken and given back.
 * {@link RoleClaims} does the rest, the same for every engine.
 */
export interface RoleLock<Hold> {
  /**
   * Takes `role` in the engine, trying again for as long as another process holds it; rejects
   * with the signal's reason once it aborts. Never called twice at once for one role in a
   * process, nor while this process holds it: the lock need not be exclusive within a process.
   */
  acquire(role: string, signal: AbortSignal): Promise<Hold>;
  /**
   * Gives the role back in the engine. Called once per hold when its lease ends, also after it
   * was lost; the next holder in this process waits for it. A failure is ignored: the engine's
   * lease then runs out by itself.
   */
  release(role: string, hold: Hold): Promise<void>;
  /** Renews each hold while its lease lasts, for engines whose leases expire. */
  renewal?: LeaseRenewal<Hold>;
  /**
   * Lists this process among the others sharing the engine, so that roles spread over them: a
   * role is then only taken by the member it is assigned to. Without it, every role goes to
   * whichever process asks first (for an engine that only one process can use).
   */
  members?: RoleMembers;
}

/**
 * One `await` call: waiting its turn in this process, waiting until the role is assigned to this
 * process, taking the role in the engine, holding it, or done.
 */
interface Claim<Hold> {
  state: "waiting" | "assigning" | "acquiring" | "holding" | "done";
  /** Aborts when the signal given to `await` aborts or the scheduler closes. */
  readonly link: LinkedSignal;
  /** Aborts the lease's signal when the claim ends while holding. */
  readonly lease: AbortController;
  /** Called when the claim's turn comes, and while assigning, when the assignment may have changed. */
  wake?: () => void;
  /** While acquiring: aborts when the role is assigned to another member meanwhile. */
  moved?: AbortController;
  hold?: Hold;
  /** The renewal loop of a held lease; settles soon after the lease's signal aborts. */
  renewing?: Promise<unknown>;
  /** Settles once the engine has the role back and the next waiter has its turn. */
  ended?: Promise<void>;
}

/** The claims on one role in this process: the one whose turn it is, then the waiters in order. */
interface RoleQueue<Hold> {
  turn: Claim<Hold> | undefined;
  readonly waiting: Claim<Hold>[];
}

/**
 * The in-process side of every role scheduler, written once: per role at most one claim in this
 * process holds it or is taking it from the engine, and the others wait their turn, first come
 * first served. An abort of a waiter's signal takes it out of the line; the end of a lease (a
 * release, an abort of the signal given to `await`, a lost or unrenewed engine lease, `close`)
 * aborts the lease's signal first, gives the role back to the engine, then hands the turn on.
 * Each claim listens to the caller's signal only while it lasts, so one long-lived signal given
 * to any number of awaits keeps no listener from a finished one.
 *
 * With {@link RoleLock.members}, roles are spread over the processes sharing the engine: a claim
 * whose turn came waits until the role is assigned to this process before taking it, and a lease
 * on a role assigned elsewhere ends (with {@link RoleHandedOverError}) so that its new member can
 * take it. The engine's lock still keeps each role to one holder while processes disagree.
 *
 * @example
 * ```ts
 * class MyRoleScheduler implements RoleScheduler {
 *   readonly #claims = new RoleClaims("MyRoleScheduler", { acquire: …, release: … });
 *   await(role: string, signal: AbortSignal) { return this.#claims.await(role, signal); }
 * }
 * ```
 */
export class RoleClaims<Hold> {
  readonly #scheduler: string;
  readonly #lock: RoleLock<Hold>;
  /** Only roles claimed in this process; an entry goes away with its last claim. */
  readonly #roles = new Map<string, RoleQueue<Hold>>();
  readonly #closing = new AbortController();
  readonly #membership: RoleMembership | undefined;

  /** `scheduler` names the scheduler in errors (its class name). */
  constructor(scheduler: string, lock: RoleLock<Hold>) {
    this.#scheduler = scheduler;
    this.#lock = lock;
    // Every live claim listens for the close.
    setMaxListeners(0, this.#closing.signal);
    if (lock.members !== undefined) this.#membership = new RoleMembership(lock.members, () => this.#reassign());
  }

  /** Whether {@link RoleClaims.close} was called. */
  get isClosed(): boolean {
    return this.#closing.signal.aborted;
  }

  /**
   * Resolves with a lease once every earlier claim in this process has had the role and the
   * engine gave it. Rejects with the signal's reason if it aborts first, with
   * {@link RoleSchedulerClosedError} once closed, and with the engine's error (the caller backs
   * off and awaits again).
   */
  async await(role: string, signal: AbortSignal): Promise<Lease> {
    throwIfAborted(signal);
    if (this.isClosed) throw new RoleSchedulerClosedError(this.#scheduler, role);
    let queue = this.#roles.get(role);
    if (queue === undefined) {
      queue = { turn: undefined, waiting: [] };
      this.#roles.set(role, queue);
      this.#membership?.want(role);
    }
    const claim: Claim<Hold> = { state: "waiting", link: linkSignals(signal, this.#closing.signal), lease: new AbortController() };
    try {
      if (queue.turn === undefined) queue.turn = claim;
      else {
        const waiting = queue.waiting;
        waiting.push(claim);
        await untilWoken((wake) => {
          claim.wake = wake;
          return () => {
            const index = waiting.indexOf(claim);
            if (index >= 0) waiting.splice(index, 1);
          };
        }, claim.link.signal);
      }
      const hold = await this.#take(role, claim);
      claim.hold = hold;
      if (claim.link.signal.aborted) {
        // Given up while the engine granted it: give it straight back.
        await this.#lock.release(role, hold).catch(ignore);
        throwIfAborted(claim.link.signal);
      }
    } catch (err) {
      claim.state = "done";
      claim.link.unlink();
      this.#passTurn(role, queue, claim);
      throw this.isClosed ? new RoleSchedulerClosedError(this.#scheduler, role, { cause: err }) : err;
    }
    return this.#holding(role, queue, claim, claim.hold);
  }

  /**
   * Ends the lease on `role` as lost, with `reason` as its signal's reason: for an engine that
   * learns it no longer holds the role (a dropped connection, a deleted key). With `hold`, only
   * if that is still the hold of the lease; a later holder is left alone.
   */
  lose(role: string, reason: RoleLostError, hold?: Hold): void {
    const claim = this.#roles.get(role)?.turn;
    if (claim?.state !== "holding" || (hold !== undefined && claim.hold !== hold)) return;
    void this.#end(role, claim, reason);
  }

  /** Ends as lost every lease whose hold `isLost` says is gone (every lease, without it). */
  loseEvery(reason: (role: string) => RoleLostError, isLost: (hold: Hold) => boolean = () => true): void {
    for (const [role, queue] of [...this.#roles]) {
      const claim = queue.turn;
      if (claim?.state === "holding" && isLost(claim.hold as Hold)) void this.#end(role, claim, reason(role));
    }
  }

  /**
   * Ends every lease (their signals abort, the engine gets the roles back) and every waiting
   * await, which rejects with {@link RoleSchedulerClosedError}, as do later awaits. Resolves once
   * the engine has every role back. Idempotent.
   */
  async close(): Promise<void> {
    const holders: [string, Claim<Hold>][] = [];
    for (const [role, { turn }] of this.#roles) if (turn?.state === "holding") holders.push([role, turn]);
    // Each claim hears the close through its linked signal and ends itself.
    if (!this.isClosed) this.#closing.abort(new RoleSchedulerClosedError(this.#scheduler));
    await Promise.all(holders.map(([role, claim]) => this.#end(role, claim, undefined)));
    await this.#membership?.close();
  }

  /** Takes the role in the engine, once it is this process's to take. */
  async #take(role: string, claim: Claim<Hold>): Promise<Hold> {
    const membership = this.#membership;
    if (membership === undefined) {
      claim.state = "acquiring";
      return this.#lock.acquire(role, claim.link.signal);
    }
    for (;;) {
      claim.state = "assigning";
      await this.#untilAssigned(role, claim, membership);
      claim.state = "acquiring";
      const moved = new AbortController();
      claim.moved = moved;
      const link = linkSignals(claim.link.signal, moved.signal);
      try {
        const hold = await this.#lock.acquire(role, link.signal);
        if (!moved.signal.aborted) return hold;
        // Assigned elsewhere while the engine granted it: give it back, and wait for it to return.
        await this.#lock.release(role, hold).catch(ignore);
      } catch (err) {
        if (!moved.signal.aborted || claim.link.signal.aborted) throw err;
      } finally {
        link.unlink();
        claim.moved = undefined;
      }
    }
  }

  /** Resolves once the latest listing assigns `role` to this process; rejects if the beat for it failed. */
  async #untilAssigned(role: string, claim: Claim<Hold>, membership: RoleMembership): Promise<void> {
    for (;;) {
      const assignment = membership.assignment(role);
      if (assignment.kind === "mine") return;
      if (assignment.kind === "unknown" && assignment.failure !== undefined) throw assignment.failure;
      await untilWoken((wake) => {
        claim.wake = wake;
        return () => {
          claim.wake = undefined;
        };
      }, claim.link.signal);
    }
  }

  /** After each listing: hands over the leases on roles now assigned elsewhere, and wakes the claims waiting for theirs. */
  #reassign(): void {
    const membership = this.#membership as RoleMembership;
    for (const [role, { turn: claim }] of [...this.#roles]) {
      if (claim === undefined) continue;
      if (claim.state === "assigning") {
        claim.wake?.();
        continue;
      }
      const assignment = membership.assignment(role);
      if (assignment.kind !== "theirs") continue;
      const reason = new RoleHandedOverError(role, assignment.member);
      if (claim.state === "holding") void this.#end(role, claim, reason);
      else if (claim.state === "acquiring") claim.moved?.abort(reason);
    }
  }

  #holding(role: string, queue: RoleQueue<Hold>, claim: Claim<Hold>, hold: Hold | undefined): Lease {
    claim.state = "holding";
    const onAbort = () => void this.#end(role, claim, claim.link.signal.reason);
    claim.link.signal.addEventListener("abort", onAbort, { once: true });
    const renewal = this.#lock.renewal;
    if (renewal !== undefined) {
      const renewing = renewLease(role, renewal, hold as Hold, claim.lease.signal);
      claim.renewing = renewing;
      void renewing.then((lost) => lost && this.#end(role, claim, lost));
    }
    return {
      signal: claim.lease.signal,
      release: () => this.#end(role, claim, new RoleReleasedError(role)),
    };
  }

  /** Ends a held lease; only the first end counts, later calls share its outcome. */
  #end(role: string, claim: Claim<Hold>, reason: unknown): Promise<void> {
    if (claim.state !== "holding") return claim.ended ?? Promise.resolve();
    claim.state = "done";
    claim.link.unlink();
    // Abort before the role passes on, so the old holder hears it lost the role before the new
    // holder's lease resolves.
    claim.lease.abort(reason ?? claim.link.signal.reason);
    claim.ended = (async () => {
      // A renewal in flight finishes first, so the release acts on what the engine has now.
      await claim.renewing;
      await this.#lock.release(role, claim.hold as Hold).catch(ignore);
      const queue = this.#roles.get(role);
      if (queue !== undefined) this.#passTurn(role, queue, claim);
      // With nothing left to hold, this process leaves the members before the release resolves, so
      // that a process listing them next does not wait for a member that is gone.
      await this.#membership?.settled();
    })();
    return claim.ended;
  }

  /** The claim whose turn it was is done: the next waiter's turn, or the role is forgotten. */
  #passTurn(role: string, queue: RoleQueue<Hold>, claim: Claim<Hold>): void {
    if (queue.turn !== claim) return;
    const next = queue.waiting.shift();
    queue.turn = next;
    if (next !== undefined) next.wake?.();
    else if (this.#roles.get(role) === queue) {
      this.#roles.delete(role);
      this.#membership?.unwant(role);
    }
  }
}

function ignore(): void {}
