export { FakeClock } from "./fake-clock.js";
export { requireStatus } from "./require-status.js";
export { waitFor } from "./wait-for.js";
export { triggerCallbackOn } from "./trigger-callback-on.js";
export { awaitTimeoutInsert } from "./await-timeout-insert.js";
export { newTestingRun } from "./new-testing-run.js";
export { newTestingContext } from "./new-testing-context.js";
export { chaos, type ChaosAdapters } from "./chaos.js";
export { chaosRecordStore } from "./chaos-record-store.js";
export { chaosEventStreamer } from "./chaos-event-streamer.js";
export { chaosTimeoutStore } from "./chaos-timeout-store.js";
export { chaosRoleScheduler } from "./chaos-role-scheduler.js";
export {
  type ChaosOptions,
  type ChaosStats,
  type ChaosCounts,
  type Chaotic,
  type ChaosMethod,
  type RecordStoreMethod,
  type EventStreamerMethod,
  type TimeoutStoreMethod,
  type RoleSchedulerMethod,
} from "./chaos-schedule.js";
export { InjectedFaultError } from "./injected-fault-error.js";
export { seededRandom } from "./seeded-random.js";
