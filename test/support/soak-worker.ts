// What a soak worker runs, wherever it runs: in a process of its own (line-worker.ts --workflow
// soak) or, on the memory backend, in the soak driver's process (bench/soak-memory.ts), whose
// workers cannot share memory with other processes. Each reports on `say`, one line each:
// "held <role>" and "ended <role>" as it takes and loses a role, "receiving <topic> <name>" and
// "closed <topic> <name>" for its receivers, "chaos <delayed> <failed>" every second under chaos,
// and "error …" lines of its own.
import { setTimeout as delay } from "node:timers/promises";
import type { BuildConfig, EventStreamer, RoleScheduler } from "stepwise";
import { chaos } from "stepwise/testing";
import type { Effects } from "./effects.js";
import { soakWorkflowsOn } from "./soak-workflow.js";
import type { Item } from "./workflows.js";

/** Prints one line of a worker's report. */
export type Say = (line: string) => void;

/** What the "trigger" request starts: `count` runs named after `prefix`, or the runs `ids`. */
export type Trigger = (request: { prefix?: string; count?: number; ids?: readonly string[] }) => Promise<void>;

/** A worker's running workflows. */
export interface Running {
  stop(): Promise<void>;
  states(): object;
  trigger: Trigger;
}

/** The roles and receivers the workflow takes, each reported as it is taken and as it ends. */
export function reporting(adapters: BuildConfig<Item>, say: Say): BuildConfig<Item> {
  const { eventStreamer, roleScheduler } = adapters;
  const streamer: EventStreamer = {
    newSender: (topic) => eventStreamer.newSender(topic),
    newReceiver: async (topic, name, options) => {
      const receiver = await eventStreamer.newReceiver(topic, name, options);
      say(`receiving ${topic} ${name}`);
      return {
        recv: (signal) => receiver.recv(signal),
        close: async () => {
          await receiver.close();
          say(`closed ${topic} ${name}`);
        },
      };
    },
  };
  const roles: RoleScheduler | undefined = roleScheduler && {
    await: async (role, signal) => {
      const lease = await roleScheduler.await(role, signal);
      say(`held ${role}`);
      // Roles move between workers as they join, so a test needs to know which are held now.
      lease.signal.addEventListener("abort", () => say(`ended ${role}`), { once: true });
      return lease;
    },
  };
  return { ...adapters, eventStreamer: streamer, ...(roles ? { roleScheduler: roles } : {}) };
}

/**
 * The adapters wrapped in stepwise/testing's chaos() for the soak's `--chaos` kinds: "slow" delays
 * 5% of the calls by 1–50 ms, "failing" fails 1% before and 1% after the real call. Reports what
 * it injected every second until `signal` aborts, and once more then.
 */
export function soakChaos(adapters: BuildConfig<Item>, kinds: readonly string[], seed: number, say: Say, signal?: AbortSignal): BuildConfig<Item> {
  if (kinds.length === 0) return adapters;
  // chaos() takes a whole bundle; the worker closes its clients itself.
  const chaotic = chaos({ ...adapters, close: async () => {} }, {
    seed,
    ...(kinds.includes("slow") ? { delayMs: [1, 50] as const, delayRate: 0.05 } : {}),
    ...(kinds.includes("failing") ? { failRate: 0.01, failAfterRate: 0.01 } : {}),
  });
  const report = () => {
    const stats = chaotic.stats();
    say(`chaos ${stats.delayed} ${stats.failedBefore + stats.failedAfter}`);
  };
  const every = setInterval(report, 1_000).unref();
  signal?.addEventListener("abort", () => {
    clearInterval(every);
    report();
  });
  return chaotic;
}

/** Options of {@link runSoak}. */
export interface SoakWorkerOptions {
  parallelCount: number;
  timeoutMs: number;
  /** How many triggers a request keeps going at once, as a busy service would. */
  inFlight: number;
  config: Partial<BuildConfig<Item>>;
  say: Say;
  /** Ends the worker's retries and its settling loop: an in-process worker that was killed. */
  signal?: AbortSignal;
}

/** The soak's two workflows on `adapters`, running, and the loop that settles the payments of waiting orders. */
export async function runSoak(adapters: BuildConfig<Item>, effects: () => Effects | Promise<Effects>, options: SoakWorkerOptions): Promise<Running> {
  const { say, signal } = options;
  const retrying = <R>(attempt: () => Promise<R>) => untilDone(attempt, say, signal);
  const { order, payment, settleWaiting, trigger } = soakWorkflowsOn(reporting(adapters, say), await retrying(async () => effects()), {
    parallelCount: options.parallelCount,
    timeoutMs: options.timeoutMs,
    config: options.config,
  });
  // Under the soak's faults the first run() may lose its connection; run() can be called again.
  await retrying(async () => {
    await Promise.all([order.run(), payment.run()]);
  });
  const settling = new AbortController();
  const stopSettling = signal ? AbortSignal.any([settling.signal, signal]) : settling.signal;
  const settler = (async () => {
    while (!stopSettling.aborted) {
      try {
        // Waits only when nothing waited, so a backlog is settled as fast as it forms.
        if ((await settleWaiting()) === 0) await delay(20, undefined, { signal: stopSettling }).catch(() => {});
      } catch (err) {
        // A fault (a killed connection) fails some calls of a round; their payments are settled on the
        // next. Each failed call has a line of its own, so that the soak's error counts name the causes.
        const failures: unknown[] = err instanceof AggregateError ? err.errors : [err];
        for (const failure of failures) say(`error settling: ${String(failure)}`);
        await delay(50);
      }
    }
  })();
  return {
    stop: async () => {
      settling.abort();
      await settler;
      await Promise.all([order.stop(), payment.stop()]);
    },
    states: () => ({ ...order.states(), ...payment.states() }),
    trigger: ({ prefix = "x", count = 0, ids }) => inFlight(ids ?? named(prefix, count), options.inFlight, (id) => retrying(() => trigger(id))),
  };
}

/** Runs `start` for each of `ids`, `count` at a time. */
export async function inFlight(ids: readonly string[], count: number, start: (id: string) => Promise<unknown>): Promise<void> {
  const pending = [...ids];
  await Promise.all(
    Array.from({ length: count }, async () => {
      for (let id = pending.shift(); id !== undefined; id = pending.shift()) await start(id);
    }),
  );
}

/** The foreign ids `<prefix>-0` … `<prefix>-<count - 1>`. */
export const named = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

/** Tries `attempt` until it succeeds (under the soak's faults a call fails now and then), or `signal` aborts. */
export async function untilDone<R>(attempt: () => Promise<R>, say: Say, signal?: AbortSignal): Promise<R> {
  for (;;) {
    signal?.throwIfAborted();
    try {
      return await attempt();
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      say(`error retrying: ${String(err)}`);
      await delay(50);
    }
  }
}
