import type { Logger } from "../logger.js";
import type { StepContext } from "../run.js";
import { FakeClock } from "./fake-clock.js";

const quietLogger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/**
 * The `ctx` a step, callback or timeout function is handed, for calling one alone in a unit test:
 * a signal that never aborts, a logger that drops everything and a FakeClock at the Unix epoch,
 * each replaceable.
 *
 * ```ts
 * const ctx = newTestingContext({ clock: new FakeClock(new Date("2026-01-01T00:00:00Z")) });
 * const next = await chargeStep(newTestingRun({ status: OrderStatus.Created }, order), ctx);
 * ```
 */
export function newTestingContext(overrides: Partial<StepContext> = {}): StepContext {
  return {
    signal: overrides.signal ?? new AbortController().signal,
    logger: overrides.logger ?? quietLogger,
    clock: overrides.clock ?? new FakeClock(new Date(0)),
  };
}
