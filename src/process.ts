import type { Clock } from "./clock.js";
import type { Delivery } from "./event.js";
import type { Logger } from "./logger.js";
import type { ResolvedOptions } from "./options.js";
import type { RoleScheduler } from "./rolescheduler.js";
import { isInShard } from "./shard.js";
import type { SkipReason } from "./skip.js";

/** What `Workflow.states()` reports for each process. */
export enum ProcessState {
  Unknown = 0,
  Shutdown = 1,
  Running = 2,
  Idle = 3,
}

/** Where a process gets its work: an event receiver, a connector, or a poller over a store. */
export interface Source<Item> {
  recv(signal: AbortSignal): Promise<Delivery<Item>>;
  close(): Promise<void>;
}

/** One background process: which role it needs, where its work comes from and what it does with it. */
export interface ProcessSpec<Item> {
  /** The key of `states()`: `paid-consumer-1-of-1`. */
  name: string;
  /** Unique across workflows on one RoleScheduler: `orders-2-consumer-1-of-1`. */
  role: string;
  options: ResolvedOptions;
  /** This process's shard (1-based) and the key that places an item in a shard. */
  shard?: { index: number; count: number; key(item: Item): string };
  /** When the item was made, for `lag`. */
  createdAt?(item: Item): Date;
  open(signal: AbortSignal): Promise<Source<Item>>;
  /**
   * Does the work; returning means the item may be acked, with the reason when the item was let go
   * without acting on it. A throw backs off and redelivers it.
   */
  handle(item: Item, signal: AbortSignal): Promise<SkipReason | void>;
  /** Names the item in debug lines: `{ eventId, runId }`. */
  describe?(item: Item): { readonly [key: string]: unknown };
}

export interface ProcessDeps {
  roleScheduler: RoleScheduler;
  clock: Clock;
  logger: Logger;
  /** `build({ debug: true })`: log each launch, role change, event, skip and back-off. */
  debug: boolean;
  setState(name: string, state: ProcessState): void;
}

/**
 * The one loop every process kind runs in: await the role, open the source, handle items one at a
 * time and ack each only after its work is done; on an error log it, back off and start again.
 * Only `stop` ends it.
 */
export async function runProcess<Item>(spec: ProcessSpec<Item>, deps: ProcessDeps, stop: AbortSignal): Promise<void> {
  const { logger } = deps;
  const process = { process: spec.name, role: spec.role };
  logger.debug("process launched", process);
  while (!stop.aborted) {
    deps.setState(spec.name, ProcessState.Idle);
    try {
      const lease = await deps.roleScheduler.await(spec.role, stop);
      logger.debug("role taken", process);
      try {
        await consume(spec, deps, AbortSignal.any([stop, lease.signal]));
      } finally {
        if (lease.signal.aborted && !stop.aborted) logger.debug("role lost", process);
        await lease.release();
      }
    } catch (err) {
      if (stop.aborted) break;
      logger.error(err, process);
      deps.setState(spec.name, ProcessState.Idle);
      logger.debug("backing off", { ...process, errBackOffMs: spec.options.errBackOff });
      await deps.clock.sleep(spec.options.errBackOff, stop).catch(() => {});
    }
  }
  deps.setState(spec.name, ProcessState.Shutdown);
  logger.debug("process shut down", process);
}

async function consume<Item>(spec: ProcessSpec<Item>, deps: ProcessDeps, signal: AbortSignal): Promise<void> {
  const source = await spec.open(signal);
  deps.setState(spec.name, ProcessState.Running);
  try {
    while (!signal.aborted) {
      const { event: item, ack } = await source.recv(signal);
      if (spec.shard && !isInShard(spec.shard.key(item), spec.shard.index, spec.shard.count)) {
        await ack();
        continue;
      }
      if (spec.options.lag > 0) await waitForLag(spec, deps.clock, item, signal);
      const skipped = await spec.handle(item, signal);
      // Checked first: the line's fields would cost an allocation per event for nobody.
      if (deps.debug) {
        const fields = { process: spec.name, ...spec.describe?.(item) };
        if (skipped) deps.logger.debug("event skipped", { ...fields, reason: skipped });
        else deps.logger.debug("event consumed", fields);
      }
      // Ack only after the work is stored: an un-acked item comes back, a lost one doesn't.
      await ack();
    }
  } catch (err) {
    // A lost role or a stop ends the loop quietly; the item in hand stays un-acked.
    if (!signal.aborted) throw err;
  } finally {
    await source.close();
  }
}

async function waitForLag<Item>(spec: ProcessSpec<Item>, clock: Clock, item: Item, signal: AbortSignal): Promise<void> {
  const lagMs = spec.options.lag;
  if (!spec.createdAt) return;
  const waitMs = spec.createdAt(item).getTime() + lagMs - clock.now().getTime();
  if (waitMs > 0) await clock.sleep(waitMs, signal);
}
