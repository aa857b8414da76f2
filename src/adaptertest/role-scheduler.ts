import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import type { Lease, RoleScheduler } from "../rolescheduler.js";
import type { ConformanceCase } from "./case.js";
import { roleSpreadCase, type RoleSpreadOptions } from "./role-spread.js";
import { withScope, type Defer } from "./scope.js";
import { uniqueName } from "./unique-name.js";
import { settle, whenAborted, within } from "./within.js";

/** Options of {@link roleSchedulerCases}. */
export interface RoleSchedulerCaseOptions<R extends RoleScheduler> {
  /**
   * Makes `scheduler` lose its lease on `role` the way the engine behind it can (a lock's session
   * ends, a lease expires). When given, a case checks that the holder hears of it through the
   * lease's signal and that another holder gets the role.
   */
  loseLease?: (scheduler: R, role: string) => Promise<void>;
  /**
   * How many times the listener-leak case awaits and releases a role on one signal. Default 1000;
   * lower it for an engine where a round trip is slow, as long as a leak would still show.
   */
  leakRounds?: number;
  /**
   * For a scheduler that spreads roles over the processes sharing its engine: how to make several
   * and crash one. When given, a case checks that 12 roles spread over 3 schedulers (4 each, give
   * or take one) with one holder each, and move on when one crashes or stops.
   */
  spread?: RoleSpreadOptions<R>;
}

/**
 * The behaviour every {@link RoleScheduler} must show. `make` is called once per case; cases use
 * their own role names, so a scheduler whose state outlives a case passes too.
 *
 * @example
 * ```ts
 * for (const c of roleSchedulerCases(async () => new MyRoleScheduler(pool), {
 *   loseLease: async (scheduler, role) => scheduler.dropSession(role),
 * })) test(`mine: ${c.name}`, c.run);
 * ```
 */
export function roleSchedulerCases<R extends RoleScheduler>(
  make: () => Promise<R>,
  options: RoleSchedulerCaseOptions<R> = {},
): ConformanceCase[] {
  /** A claimant: the signal it awaits with is aborted, and its lease released, when the case ends. */
  function claimant(defer: Defer) {
    const controller = new AbortController();
    defer(() => controller.abort(new Error("the conformance case ended")));
    return controller;
  }

  /** Awaits `role` with `controller`'s signal; the lease (once granted) is released when the case ends. */
  function claim(scheduler: R, role: string, controller: AbortController, defer: Defer): Pending {
    let lease: Lease | undefined;
    const promise = scheduler.await(role, controller.signal).then((granted) => {
      lease = granted;
      defer(() => granted.release());
      return granted;
    });
    // Observed here, so a case that fails before awaiting it leaves no unhandled rejection behind.
    promise.catch(() => undefined);
    return { promise, granted: () => lease };
  }

  const cases: ConformanceCase[] = [
    {
      name: "role scheduler: a role has one holder at a time; a waiter gets it on release",
      run: () =>
        withScope(async (defer) => {
          const scheduler = await make();
          const role = uniqueName("role");
          const first = await within("a free role", claim(scheduler, role, claimant(defer), defer).promise);
          const second = claim(scheduler, role, claimant(defer), defer);
          await settle();
          assert.equal(second.granted(), undefined, "a second await waits while the role is held");
          assert.equal(first.signal.aborted, false, "the holder's lease stays valid while another waits");

          await first.release();
          const lease = await within("the role after its holder released it", second.promise);
          assert.equal(lease.signal.aborted, false, "the new holder's lease is valid");
        }),
    },
    {
      name: "role scheduler: different roles do not block each other",
      run: () =>
        withScope(async (defer) => {
          const scheduler = await make();
          const a = await within("role A", claim(scheduler, uniqueName("role-a"), claimant(defer), defer).promise);
          const b = await within("role B while role A is held", claim(scheduler, uniqueName("role-b"), claimant(defer), defer).promise);
          assert.equal(a.signal.aborted, false, "lease A is valid");
          assert.equal(b.signal.aborted, false, "lease B is valid");
        }),
    },
    {
      name: "role scheduler: aborting a waiting await rejects it and leaves the queue",
      run: () =>
        withScope(async (defer) => {
          const scheduler = await make();
          const role = uniqueName("role");
          const holder = await within("a free role", claim(scheduler, role, claimant(defer), defer).promise);
          const quitter = claimant(defer);
          const waiting = claim(scheduler, role, quitter, defer);
          await settle();
          const reason = new Error("no longer interested");
          quitter.abort(reason);
          await within(
            "the aborted await to reject",
            assert.rejects(waiting.promise, (err) => err === reason, "the await rejects with the signal's reason"),
          );

          const next = claim(scheduler, role, claimant(defer), defer);
          await holder.release();
          const lease = await within("the role, skipping the waiter that gave up", next.promise);
          assert.equal(lease.signal.aborted, false);
          await assert.rejects(
            scheduler.await(role, AbortSignal.abort(reason)),
            (err) => err === reason,
            "an await with an already aborted signal rejects",
          );
        }),
    },
    {
      name: "role scheduler: aborting the holder's signal aborts its lease and hands the role on",
      run: () =>
        withScope(async (defer) => {
          const scheduler = await make();
          const role = uniqueName("role");
          const holderSignal = claimant(defer);
          const holder = await within("a free role", claim(scheduler, role, holderSignal, defer).promise);
          const waiter = claim(scheduler, role, claimant(defer), defer);
          await settle();
          assert.equal(waiter.granted(), undefined, "the waiter waits while the role is held");

          holderSignal.abort(new Error("holder shutting down"));
          await within("the holder's lease signal to abort after its await signal aborted", whenAborted(holder.signal));
          const lease = await within("the role after the holder's signal aborted", waiter.promise);
          assert.equal(lease.signal.aborted, false);
        }),
    },
    {
      name: "role scheduler: release aborts the lease signal and is idempotent",
      run: () =>
        withScope(async (defer) => {
          const scheduler = await make();
          const role = uniqueName("role");
          const lease = await within("a free role", claim(scheduler, role, claimant(defer), defer).promise);
          await lease.release();
          await within("the lease signal to abort after release", whenAborted(lease.signal));
          await lease.release();
          const again = await within("the released role", claim(scheduler, role, claimant(defer), defer).promise);
          assert.equal(again.signal.aborted, false, "the role can be held again");
          await lease.release(); // a stale lease's release must not free the role of its new holder
          assert.equal(again.signal.aborted, false, "a second release of the old lease leaves the new holder alone");
        }),
    },
    {
      name: "role scheduler: awaits repeated on one signal leave no more abort listeners on it than one await",
      run: () =>
        withScope(async (defer) => {
          const scheduler = await make();
          const role = uniqueName("role");
          // One long-lived signal, as a workflow's stop signal is: each round holds the role once and
          // waits for it once in this process, which is where a scheduler listens to the signal.
          const signal = claimant(defer).signal;
          const round = async () => {
            const first = await scheduler.await(role, signal);
            const second = scheduler.await(role, signal);
            second.catch(() => undefined);
            await settle();
            await first.release();
            const next = await second;
            await next.release();
          };
          await within("the first round", round());
          const afterOne = getEventListeners(signal, "abort").length;
          const rounds = options.leakRounds ?? 1000;
          for (let i = 1; i < rounds; i++) await within(`round ${i + 1}`, round());
          assert.ok(
            getEventListeners(signal, "abort").length <= afterOne,
            `${getEventListeners(signal, "abort").length} abort listeners after ${rounds} rounds, ${afterOne} after one`,
          );
        }),
    },
  ];

  const { loseLease } = options;
  if (loseLease !== undefined) {
    cases.push({
      name: "role scheduler: a lost lease aborts its signal and lets another holder in",
      run: () =>
        withScope(async (defer) => {
          const scheduler = await make();
          const role = uniqueName("role");
          const holder = await within("a free role", claim(scheduler, role, claimant(defer), defer).promise);
          const waiter = claim(scheduler, role, claimant(defer), defer);
          await loseLease(scheduler, role);
          await within("the lost lease's signal to abort", whenAborted(holder.signal));
          const lease = await within("the role after the lease was lost", waiter.promise);
          assert.equal(lease.signal.aborted, false);
        }),
    });
  }
  if (options.spread !== undefined) cases.push(roleSpreadCase(options.spread));
  return cases;
}

/** An await in progress: its promise, and the lease once granted. */
interface Pending {
  promise: Promise<Lease>;
  granted(): Lease | undefined;
}
