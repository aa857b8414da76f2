import type { Lease, RoleScheduler } from "../rolescheduler.js";
import { ChaosSchedule, type ChaosOptions, type Chaotic, type RoleSchedulerMethod } from "./chaos-schedule.js";

const roleSchedulerMethods: readonly RoleSchedulerMethod[] = ["await"];

/**
 * Wraps a role scheduler so `await` fails, fails after getting the role (releasing it before it
 * throws), or waits, on a seeded schedule (see {@link ChaosOptions}). Leases pass through as they are.
 *
 * @example
 * ```ts
 * const roleScheduler = chaosRoleScheduler(adapters.roleScheduler, { seed: 7, failRate: 0.2 });
 * ```
 */
export function chaosRoleScheduler(scheduler: RoleScheduler, options: ChaosOptions<RoleSchedulerMethod>): RoleScheduler & Chaotic {
  const schedule = new ChaosSchedule("roleScheduler", roleSchedulerMethods, options);
  return {
    await: (role: string, signal: AbortSignal): Promise<Lease> =>
      // A lease nobody will use must be given back, or the role stays taken.
      schedule.call("await", () => scheduler.await(role, signal), { signal, undo: (lease) => lease.release() }),
    stats: () => schedule.stats(),
  };
}
