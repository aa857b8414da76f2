// The soak's storage on the memory backend (npm run soak -- --backend memory). A memory() bundle
// lives in one process, so its workers cannot be processes: each worker is the soak's workflows
// (test/support/soak-worker.ts, as line-worker.ts runs them) built in the driver's process on one
// shared memory() bundle, with a MemoryRoleScheduler of its own on one MemoryRoleCluster, so that
// roles spread over the workers and pass between them as they would over processes on one server.
//
// A kill is the in-process stand-in for SIGKILL: the worker is cut off from everything it shares,
// at once and without telling anyone:
// - every later call of its record store, timeout store, event streamer (senders, receivers and
//   acks) and effects is refused, so a handler in flight, a write still batched in the worker or a
//   call still in a chaos delay never reaches the shared state, as the work of a killed process
//   never reaches its server; a call that already reached the bundle stands, as a statement that
//   reached the server before the kill does;
// - its receivers are closed underneath it, as a server drops the consumers of a dead connection:
//   what it received and never acked goes back to the receiver name's cursor;
// - its role scheduler crashes (MemoryRoleScheduler.crash()): its leases end in the worker but stay
//   taken in the cluster, and so does its membership, until the cluster's TTL runs out;
// - its retries and its settling loop end, and its workflows are stopped in the background only so
//   that their loops end: everything they still try is refused;
// - it reports nothing more: its lines end at the kill, as a dead process's output does.
// A new worker is then started in its place.
import type { BuildConfig, EventReceiver, EventStreamer, RecordStore, TimeoutStore } from "stepwise";
import { memory, MemoryRoleCluster, MemoryRoleScheduler } from "stepwise/memory";
import { memoryEffects, type Effects } from "../test/support/effects.js";
import { quietLogger } from "../test/support/logger.js";
import { soakNames } from "../test/support/soak-workflow.js";
import { runSoak, soakChaos } from "../test/support/soak-worker.js";
import { until } from "../test/support/until.js";
import type { Line } from "../test/support/workers.js";
import type { Item } from "../test/support/workflows.js";
import type { SoakWorker, SoakWorkers, SoakWorkerSettings, Storage } from "./soak.js";

/** The memory backend's storage: one bundle and effects set shared by in-process workers. */
export function memoryStorage(): Storage {
  const adapters = memory();
  const effects = memoryEffects();
  const workers = inProcessWorkers(adapters, effects);
  return {
    worker: workers,
    args: [],
    store: adapters.recordStore,
    effects,
    // One process, no connection to cut: the workers' own deaths are its faults.
    faults: {},
    // The store keeps every version of each run: the versions it went through.
    eventVersions: async () => {
      const versions = new Map<string, number[]>();
      for (const workflowName of [soakNames.order, soakNames.payment]) {
        for (const record of await adapters.recordStore.list({ workflowName, limit: Number.MAX_SAFE_INTEGER })) {
          versions.set(record.runId, adapters.recordStore.snapshots(record.runId).map((r) => r.meta.version));
        }
      }
      return versions;
    },
    // soak.ts has killed the workers by then.
    drop: () => adapters.close(),
  };
}

/** Workers started with the soak's settings, each a set of workflows in this process. */
function inProcessWorkers(shared: BuildConfig<Item>, effects: Effects): SoakWorkers {
  let cluster: MemoryRoleCluster | undefined;
  const started: { kill(): Promise<void>; stopped: Promise<void> }[] = [];
  return {
    start: (settings) => {
      // Every worker's TTL is the same: the first one's makes the cluster.
      cluster ??= new MemoryRoleCluster({ ttlMs: settings.ttlMs });
      const worker = inProcessWorker(shared, effects, cluster, settings);
      started.push(worker);
      return worker;
    },
    killAll: async () => {
      await Promise.all(started.map((w) => w.kill()));
      await Promise.all(started.map((w) => w.stopped));
    },
  };
}

/** One worker: the soak's workflows on the shared bundle, seen through a cut-off it can be killed by. */
function inProcessWorker(shared: BuildConfig<Item>, effects: Effects, cluster: MemoryRoleCluster, options: SoakWorkerSettings): SoakWorker & { stopped: Promise<void> } {
  const lines: Line[] = [];
  let dead = false;
  // A killed process says nothing more, its last chaos counts included.
  const say = (text: string) => void (dead || lines.push({ text, atMs: Date.now() }));
  const killed = new AbortController();
  const cutOff = new CutOff();
  const roleScheduler = new MemoryRoleScheduler({ cluster });
  const adapters = soakChaos(
    {
      ...shared,
      recordStore: cutOff.wrap(shared.recordStore),
      timeoutStore: shared.timeoutStore && cutOff.wrap(shared.timeoutStore),
      eventStreamer: cutOff.streamer(shared.eventStreamer),
      roleScheduler,
    },
    options.chaos,
    options.chaosSeed,
    say,
    killed.signal,
  );
  const running = runSoak(adapters, () => cutOff.wrap(effects), {
    ...options,
    config: {
      defaultOptions: { pollingFrequency: 50, errBackOff: 50 },
      logger: { ...quietLogger, error: (message: unknown) => say(`error ${String(message)}`) },
    },
    say,
    signal: killed.signal,
  });
  running.then(
    () => say("ready"),
    (err: unknown) => say(`error starting: ${String(err)}`),
  );
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= running.then((r) => r.stop(), () => {}));
  return {
    lines,
    said: (text, timeoutMs = 60_000) => until(`an in-process worker to say "${text}"`, () => lines.some((l) => l.text === text), timeoutMs),
    triggerIds: async (ids) => (await running).trigger({ ids }),
    kill: async () => {
      if (killed.signal.aborted) return;
      dead = true;
      await cutOff.cut();
      await roleScheduler.crash();
      killed.abort(new Error("the in-process worker was killed"));
      void stop();
    },
    stop: async () => {
      killed.abort(new Error("the in-process worker was stopped"));
      await stop();
    },
    get stopped() {
      return stop();
    },
  };
}

/** Refuses every call through it once cut, and closes the receivers opened through it then. */
class CutOff {
  #cut = false;
  readonly #receivers = new Set<EventReceiver>();

  /** From now on every call is refused; the receivers are closed underneath. */
  async cut(): Promise<void> {
    this.#cut = true;
    await Promise.all([...this.#receivers].map((r) => r.close()));
  }

  /**
   * `target` with every method refused once cut. Symbol-keyed members (the clock adoption) pass
   * as they are; the record store's kept-records access does not, since its methods are wrapped.
   */
  wrap<T extends RecordStore | TimeoutStore | Effects>(target: T): T {
    return new Proxy(target, {
      get: (object, key) => {
        const value: unknown = Reflect.get(object, key);
        if (typeof value !== "function" || typeof key === "symbol") return typeof value === "function" ? value.bind(object) : value;
        return (...args: unknown[]) => this.#call(() => (value as (...a: unknown[]) => Promise<unknown>).apply(object, args));
      },
    });
  }

  streamer(streamer: EventStreamer): EventStreamer {
    return {
      newSender: async (topic) => {
        const sender = await this.#call(() => streamer.newSender(topic));
        return { send: (...args) => this.#call(() => sender.send(...args)), close: () => sender.close() };
      },
      newReceiver: async (topic, name, opts) => {
        const receiver = await this.#call(() => streamer.newReceiver(topic, name, opts));
        this.#receivers.add(receiver);
        return {
          recv: async (signal) => {
            const { event, ack } = await this.#call(() => receiver.recv(signal));
            return { event, ack: () => this.#call(ack) };
          },
          close: async () => {
            this.#receivers.delete(receiver);
            await receiver.close();
          },
        };
      },
    };
  }

  #call<R>(real: () => Promise<R>): Promise<R> {
    return this.#cut ? Promise.reject(new Error("the worker was killed")) : real();
  }
}
