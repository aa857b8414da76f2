export { Builder } from "./builder.js";
export type { StatusOf, Updater } from "./builder.js";
export type { AcceptsOwnOutput } from "./schema.js";
export type { BuildConfig, PauseRetryOptions } from "./build-config.js";
export { Workflow } from "./workflow.js";
export type { TriggerArgs, TriggerOptions } from "./workflow.js";
export type { AwaitOptions } from "./await.js";
export { isControl } from "./run.js";
export type { Control, ControlKind, Run, RunControlHooks, StepContext, TypedRecord } from "./run.js";
export type { StepFn } from "./step.js";
export type { CallbackFn, CallbackOptions, CallbackResult } from "./callback.js";
export type { ListOptions, RunPage } from "./list.js";
export { runControl } from "./run-control.js";
export type { RunControl, RunControlOptions } from "./run-control.js";
export { durationTimer, timeTimer } from "./timeout.js";
export type { TimerFn, TimeoutFn } from "./timeout.js";
export type { ConnectorConstructor, ConnectorConsumer, ConnectorEvent } from "./connector.js";
export type { ConnectorFn } from "./connector-fn.js";
export type { ConnectWorkflowConfig } from "./connect.js";
export type { HookedRunState, RunStateHook } from "./hook.js";
export type { ScheduleOptions } from "./schedule.js";
export { createDiagram } from "./diagram.js";
export type { MermaidDirection } from "./diagram.js";
export { RunState, canChangeRunState, isFinished, isStopped } from "./runstate.js";
export { ProcessState } from "./process-state.js";
export type { ProcessOptions } from "./options.js";
export type { BackOff, BackOffPolicy } from "./back-off.js";
export type { RateLimit } from "./rate-limit.js";
export { topic, deleteTopic, runStateChangeTopic } from "./topic.js";
export { outboxEventData, outboxTopic } from "./outbox-event.js";
export { HeaderKey } from "./event.js";
export type { Delivery, Event, EventReceiver, EventSender, EventStreamer, Headers, ReceiverOptions } from "./event.js";
export { copyRecord } from "./record.js";
export type { ListQuery, OutboxEvent, Record, RecordFilter, RecordMeta, RecordStore } from "./record.js";
export type { NewTimeout, TimeoutPage, TimeoutRecord, TimeoutStore } from "./timeout-store.js";
export type { Lease, RoleScheduler } from "./rolescheduler.js";
export type { Adapters } from "./adapters.js";
export type { Retention, RetentionOptions } from "./retention.js";
export { jsonCodec } from "./codec.js";
export type { Codec } from "./codec.js";
export { systemClock } from "./clock.js";
export type { Clock } from "./clock.js";
export type { LogFields, Logger } from "./logger.js";
export { TraceHeaderKey } from "./tracer.js";
export type { SpanAttributes, SpanKindName, SpanStart, TraceContext, Tracer } from "./tracer.js";
export type { SkipReason } from "./skip.js";
export type { Metrics, ProcessMetrics, TrackedWorkflow } from "./metrics.js";
export { fnv1a32 } from "./shard.js";
export type { StatusEnum } from "./graph.js";
export type { BuilderOptions, StatusMap, UpgradeMap } from "./upgrade.js";
export {
  AwaitTimeoutError,
  BuildError,
  ClosedError,
  InvalidObjectError,
  InvalidOptionError,
  InvalidPayloadError,
  InvalidResultError,
  InvalidScheduleError,
  MalformedRecordError,
  MalformedRowsError,
  NewerWorkflowVersionError,
  ObjectTooLargeError,
  SchemaMissingError,
  InvalidStatusError,
  InvalidTransitionError,
  ObjectDecodeError,
  OutboxRecordNotFoundError,
  RecordNotFoundError,
  RoleHandedOverError,
  RoleLostError,
  RoleReleasedError,
  RoleSchedulerClosedError,
  StaleReadError,
  StatusNotReachedError,
  StepwiseError,
  TimeoutNotFoundError,
  ValueNotStorableError,
  VersionConflictError,
  WorkflowConflictError,
  WorkflowInProgressError,
  WorkflowNotFoundError,
  WorkflowNotRunningError,
  hasErrorCode,
} from "./errors.js";
export type { MalformedRow } from "./errors.js";
