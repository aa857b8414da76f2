import type { RunState } from "./runstate.js";
import type { RecordMeta } from "./record.js";
import type { Clock } from "./clock.js";
import type { Logger } from "./logger.js";

declare const controlBrand: unique symbol;

/** What a control result asks the engine to do instead of moving to a status. */
export type ControlKind = "skip" | "pause" | "cancel" | "saveAndRepeat";

/** Returned by a step instead of a status. Only a Run's methods make one. */
export type Control = { readonly kind: ControlKind; readonly reason?: string; readonly [controlBrand]: true };

/** The one class whose instances are control results: `#made in value` tells them from look-alikes. */
class ControlResult {
  readonly #made = true;
  constructor(
    readonly kind: ControlKind,
    readonly reason?: string,
  ) {}

  static isOne(value: unknown): boolean {
    return typeof value === "object" && value !== null && #made in value;
  }
}

function control(kind: ControlKind, reason?: string): Control {
  // The one cast: the brand exists only in types; at runtime ControlResult's private field is the proof.
  return new ControlResult(kind, reason) as unknown as Control;
}

/**
 * Tells a control result made by a run's `skip`, `pause`, `cancel` or `saveAndRepeat` from anything
 * else; a hand-made `{ kind: "skip" }` is not one.
 */
export function isControl(result: unknown): result is Control {
  return ControlResult.isOne(result);
}

/** A run with its object decoded: what hooks and `await` hand out. */
export interface TypedRecord<T, S extends number> {
  workflowName: string;
  foreignId: string;
  runId: string;
  runState: RunState;
  status: S;
  object: T;
  createdAt: Date;
  updatedAt: Date;
  meta: RecordMeta;
}

/** A run as a step sees it: change `object`, then return a status or one of these controls. */
export interface Run<T, S extends number> extends TypedRecord<T, S> {
  /** Leave the run as it is and go on to the next event. */
  skip(): Control;
  /** Pause the run; it is left alone until resumed. */
  pause(reason: string): Control;
  /** Cancel the run; it finishes without reaching a terminal status. */
  cancel(reason: string): Control;
  /** Store the object, stay in this status and be handed the run again. */
  saveAndRepeat(): Control;
}

/** Called when a step uses a control; `newTestingRun` uses these to let a test observe them. */
export interface RunControlHooks {
  onSkip?(): void;
  onPause?(reason: string): void;
  onCancel?(reason: string): void;
  onSaveAndRepeat?(): void;
}

/** Builds a Run around a decoded record. */
export function makeRun<T, S extends number>(record: TypedRecord<T, S>, hooks: RunControlHooks = {}): Run<T, S> {
  return new RunWithControls(record, hooks);
}

// A class rather than an object literal: runs are made for every event, and shared prototype
// methods cost less than fresh closures.
class RunWithControls<T, S extends number> implements Run<T, S> {
  workflowName: string;
  foreignId: string;
  runId: string;
  runState: RunState;
  status: S;
  object: T;
  createdAt: Date;
  updatedAt: Date;
  meta: RecordMeta;
  readonly #hooks: RunControlHooks;

  constructor(record: TypedRecord<T, S>, hooks: RunControlHooks) {
    this.workflowName = record.workflowName;
    this.foreignId = record.foreignId;
    this.runId = record.runId;
    this.runState = record.runState;
    this.status = record.status;
    this.object = record.object;
    this.createdAt = record.createdAt;
    this.updatedAt = record.updatedAt;
    this.meta = record.meta;
    this.#hooks = hooks;
  }

  skip(): Control {
    this.#hooks.onSkip?.();
    return control("skip");
  }

  pause(reason: string): Control {
    this.#hooks.onPause?.(reason);
    return control("pause", reason);
  }

  cancel(reason: string): Control {
    this.#hooks.onCancel?.(reason);
    return control("cancel", reason);
  }

  saveAndRepeat(): Control {
    this.#hooks.onSaveAndRepeat?.();
    return control("saveAndRepeat");
  }
}

/** What a step, callback or timeout function is handed beside the run. */
export interface StepContext {
  /** Aborts when the workflow stops or the process loses its role: pass it to your I/O. */
  signal: AbortSignal;
  logger: Logger;
  clock: Clock;
}
