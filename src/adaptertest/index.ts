export type { ConformanceCase } from "./case.js";
export { eventStreamerCases } from "./event-streamer.js";
export { connectorCases } from "./connector.js";
export { recordStoreCases, type RecordStoreCaseOptions } from "./record-store.js";
export { makeRecord, type RecordOverrides } from "./record-fixture.js";
export { timeoutStoreCases } from "./timeout-store.js";
export { bundleCases, type Bundle } from "./bundle.js";
export { roleSchedulerCases, type RoleSchedulerCaseOptions } from "./role-scheduler.js";
export type { RoleSpreadOptions } from "./role-spread.js";
