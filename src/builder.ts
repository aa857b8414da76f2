import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { BuildConfig } from "./build-config.js";
import { BuildError, InvalidStatusError } from "./errors.js";
import { Graph, type StatusEnum } from "./graph.js";
import { checkDuration, stepOnlyOptions, validateOptions, type ProcessOptions } from "./options.js";
import { checkStorableText } from "./storable-text.js";
import type { StepDefinition, StepFn } from "./step.js";
import type { CallbackDefinition, CallbackFn, CallbackOptions } from "./callback.js";
import type { ConnectionDefinition, ConnectWorkflowConfig } from "./connect.js";
import type { ConnectorConstructor, ConnectorDefinition } from "./connector.js";
import type { ConnectorFn } from "./connector-fn.js";
import type { HookedRunState, RunStateHook } from "./hook.js";
import { RunState, runStateName } from "./runstate.js";
import { unsupportedTimeoutOptions, type TimeoutDefinition, type TimeoutFn, type TimerFn } from "./timeout.js";
import { checkedVersion, checkUpgradeChain, upgradeDefinition, type BuilderOptions, type UpgradeDefinition, type UpgradeMap, type UpgradeMapNamingOnlyOldT } from "./upgrade.js";
import { Workflow } from "./workflow.js";
import type { AcceptsOwnOutput } from "./schema.js";

/** The status type of an enum object: `StatusOf<typeof OrderStatus>` is `OrderStatus`. */
export type StatusOf<E extends StatusEnum> = Extract<E[keyof E], number>;

/** Returned by the builder's add methods to set that process's options. */
export interface Updater {
  withOptions(options: ProcessOptions): void;
}

/**
 * Defines a workflow: a typed state machine over objects of type `T` and statuses `S`.
 *
 * ```ts
 * const b = new Builder<Order, OrderStatus>("order-processing", OrderStatus);
 * b.addStep(OrderStatus.Created, async (run) => OrderStatus.Paid, OrderStatus.Paid);
 * const wf = b.build(memory());
 * ```
 */
export class Builder<T, S extends number> {
  readonly #name: string;
  readonly #graph: Graph;
  readonly #steps: StepDefinition<T>[] = [];
  readonly #callbacks: CallbackDefinition<T>[] = [];
  readonly #timeouts: TimeoutDefinition<T>[] = [];
  readonly #connectors: ConnectorDefinition<Workflow<T, number>>[] = [];
  readonly #connections: ConnectionDefinition<T>[] = [];
  readonly #hooks = new Map<HookedRunState, RunStateHook<T, number>>();
  readonly #problems: Error[] = [];
  /** Set only by `withSchema`. */
  #schema: StandardSchemaV1<unknown, T> | undefined;
  readonly #version: number;
  readonly #upgrades = new Map<number, UpgradeDefinition>();

  /**
   * `options.version` (default 1) is this definition's version: see {@link Builder.upgrade} for how
   * runs written by older versions carry on under this one.
   */
  constructor(name: string, statusEnum?: StatusEnum, options: BuilderOptions = {}) {
    if (name.trim() === "") throw new BuildError("a workflow needs a non-empty name");
    try {
      checkStorableText("the workflow name", name);
    } catch (err) {
      throw new BuildError(`workflow name ${JSON.stringify(name)}: ${(err as Error).message}`, { cause: err });
    }
    this.#name = name;
    this.#graph = new Graph(statusEnum);
    this.#version = checkedVersion(name, options.version ?? 1);
  }

  /**
   * A builder whose object type is the schema's output (any Standard Schema: zod, valibot,
   * arktype, …) and whose status type is the enum's. Every object is validated before it is
   * stored and the schema's output is what is stored: `trigger` refuses an invalid `initialValue`
   * with InvalidObjectError, and an object a step, callback, timeout or connection leaves invalid
   * is that function's error (a step's is backed off and counts toward `pauseAfterErrCount`).
   *
   * ```ts
   * const Order = z.object({ id: z.string(), amount: z.number().positive(), receipt: z.string().optional() });
   * const b = Builder.withSchema("order-processing", OrderStatus, Order); // Builder<z.output<typeof Order>, OrderStatus>
   * ```
   *
   * `options` are the constructor's (`{ version }`). An upgraded object is validated like any other
   * before it is stored.
   */
  static withSchema<Schema extends StandardSchemaV1, E extends StatusEnum>(
    name: string,
    statusEnum: E,
    schema: Schema & AcceptsOwnOutput<Schema>,
    options: BuilderOptions = {},
  ): Builder<StandardSchemaV1.InferOutput<Schema>, StatusOf<E>> {
    const builder = new Builder<StandardSchemaV1.InferOutput<Schema>, StatusOf<E>>(name, statusEnum, options);
    // The one cast: a Standard Schema's output is InferOutput<Schema> by the standard's own definition.
    builder.#schema = schema as StandardSchemaV1<unknown, StandardSchemaV1.InferOutput<Schema>>;
    return builder;
  }

  /**
   * Adds the step that consumes runs entering `from`. The function may only return the statuses
   * listed after it (checked by the compiler and again at runtime) or a control result of the run.
   */
  addStep<To extends S>(from: S, fn: StepFn<T, S, To>, ...to: [To, ...To[]]): Updater;
  /** A step that never moves the run to another status: it only skips, pauses, cancels or repeats. */
  addStep(from: S, fn: StepFn<T, S, never>): Updater;
  addStep(from: S, fn: StepFn<T, S, S>, ...to: S[]): Updater {
    this.#checkStatuses(from, ...to);
    if (this.#steps.some((s) => s.from === from)) {
      this.#problems.push(new BuildError(`a step for ${this.#graph.statusName(from)} was already added: one step per status`));
    }
    const step: StepDefinition<T> = {
      from,
      to: new Set<number>(to),
      fn: fn as StepDefinition<T>["fn"],
      options: {},
    };
    this.#steps.push(step);
    this.#graph.addTransitions(from, to);
    return {
      withOptions: (options) => {
        validateOptions(`step ${this.#graph.statusName(from)}`, options);
        step.options = { ...step.options, ...options };
      },
    };
  }

  /**
   * Adds a callback for runs waiting in `from`, invoked in the caller's process by
   * `Workflow.callback(foreignId, from, payload)`. A status may have several.
   */
  addCallback<To extends S>(from: S, fn: CallbackFn<T, S, To>, ...to: [To, ...To[]]): void;
  /** A callback that never moves the run to another status: it only skips, pauses, cancels or repeats. */
  addCallback(from: S, fn: CallbackFn<T, S, never>): void;
  /**
   * A callback whose payload is validated by a Standard Schema first and handed over as the
   * schema's output; a payload it refuses is an InvalidPayloadError to the caller of
   * `Workflow.callback`, and the run is left as it was.
   *
   * ```ts
   * b.addCallback(Expense.AwaitingApproval, { payload: z.object({ approver: z.string() }) }, async (run, decision) => …, Expense.Approved);
   * ```
   */
  addCallback<Schema extends StandardSchemaV1, To extends S>(
    from: S,
    options: CallbackOptions<Schema>,
    fn: CallbackFn<T, S, To, StandardSchemaV1.InferOutput<Schema>>,
    ...to: [To, ...To[]]
  ): void;
  /** A validated callback that never moves the run to another status. */
  addCallback<Schema extends StandardSchemaV1>(from: S, options: CallbackOptions<Schema>, fn: CallbackFn<T, S, never, StandardSchemaV1.InferOutput<Schema>>): void;
  addCallback(
    from: S,
    ...args: [fn: CallbackFn<T, S, S>, ...to: S[]] | [options: CallbackOptions<StandardSchemaV1>, fn: CallbackFn<T, S, S>, ...to: S[]]
  ): void {
    // TypeScript does not narrow a union of tuples by the type of one element, so the two forms are told apart here.
    const [options, fn, ...to] = (typeof args[0] === "function" ? [undefined, ...args] : args) as [CallbackOptions<StandardSchemaV1> | undefined, CallbackFn<T, S, S>, ...S[]];
    this.#checkStatuses(from, ...to);
    this.#callbacks.push({ from, to: new Set<number>(to), payload: options?.payload, fn: fn as CallbackDefinition<T>["fn"] });
    this.#graph.addTransitions(from, to);
  }

  /**
   * Adds a timeout for runs entering `from`: `timer` decides when (null: none for this run), and
   * once that time has passed `fn` runs if the run is still there. A status may have several (a
   * reminder and an expiry); they share one auto-inserter and one poller, so their options merge.
   *
   * ```ts
   * b.addTimeout(OrderStatus.Created, durationTimer(60 * 60_000), async (run) => run.cancel("unpaid"), OrderStatus.Failed);
   * ```
   */
  addTimeout<To extends S>(from: S, timer: TimerFn<T, S>, fn: TimeoutFn<T, S, To>, ...to: [To, ...To[]]): Updater;
  /** A timeout that never moves the run to another status, e.g. `async (run) => run.cancel("expired")`. */
  addTimeout(from: S, timer: TimerFn<T, S>, fn: TimeoutFn<T, S, never>): Updater;
  addTimeout(from: S, timer: TimerFn<T, S>, fn: TimeoutFn<T, S, S>, ...to: S[]): Updater {
    this.#checkStatuses(from, ...to);
    const timeout: TimeoutDefinition<T> = {
      from,
      to: new Set<number>(to),
      timer: timer as TimeoutDefinition<T>["timer"],
      fn: fn as TimeoutDefinition<T>["fn"],
      options: {},
    };
    this.#timeouts.push(timeout);
    this.#graph.addTransitions(from, to);
    return {
      withOptions: (options) => {
        validateOptions(`timeout ${this.#graph.statusName(from)}`, options, unsupportedTimeoutOptions);
        timeout.options = { ...timeout.options, ...options };
      },
    };
  }

  /** Consumes an external stream: `fn` gets this workflow's API and each event, to trigger or call back. */
  addConnector(name: string, constructor: ConnectorConstructor, fn: ConnectorFn<T, S>): Updater {
    // Roles and process names are lower case, so names differing only in case would share a role.
    if (this.#connectors.some((c) => c.name.toLowerCase() === name.toLowerCase())) {
      this.#problems.push(new BuildError(`a connector named "${name}" was already added: connector names must be unique (ignoring case)`));
    }
    const connector: ConnectorDefinition<Workflow<T, number>> = { name, constructor, fn: fn as unknown as ConnectorDefinition<Workflow<T, number>>["fn"], options: {} };
    this.#connectors.push(connector);
    return {
      withOptions: (options) => {
        // A connector event is no run, so there is nothing to pause.
        validateOptions(`connector ${name}`, options, ["pauseAfterErrCount", ...stepOnlyOptions]);
        connector.options = { ...connector.options, ...options };
      },
    };
  }

  /**
   * Makes runs wait in `config.from` until a run of another workflow reaches `config.status`;
   * `filter` names which of this workflow's runs an event concerns and `consumer` decides. Name the
   * other workflow's status type so `status` is checked against it:
   *
   * ```ts
   * b.connectWorkflow<PaymentStatus>({ workflowName: "payments", status: PaymentStatus.Settled, … });
   * ```
   */
  connectWorkflow<OtherS extends number = never>(config: ConnectWorkflowConfig<T, S, OtherS>): Updater {
    this.#checkStatuses(config.from, config.to);
    const connection: ConnectionDefinition<T> = { config: config as unknown as ConnectionDefinition<T>["config"], options: {} };
    this.#connections.push(connection);
    this.#graph.addTransitions(config.from, [config.to]);
    return {
      withOptions: (options) => {
        validateOptions(`connection to ${config.workflowName}`, options, stepOnlyOptions);
        connection.options = { ...connection.options, ...options };
      },
    };
  }

  /**
   * Describes how a run written by version `fromVersion` of this workflow becomes a run of version
   * `fromVersion + 1`: `object` maps its object, `status` maps each member of the old version's
   * status enum (by name, all but the 0 member) to a status of the next version. A version-3
   * builder declares `upgrade(1, …)` and `upgrade(2, …)`; a run of version 1 goes through both.
   *
   * The last upgrade maps to this builder's `T` and `S`. An earlier one maps to the types of the
   * version after it, which you name: `upgrade<V1Order, typeof V1Status, V2Order, V2Status>(1, …)`.
   *
   * The compiler checks the status map for completeness when it knows the old enum's type: give
   * no type arguments and annotate the object function's parameter, or name both old types
   * (`upgrade<V1Order, typeof V1Status>`). Naming only the old object type (`upgrade<V1Order>`)
   * also compiles, as TypeScript infers nothing once some type arguments are given; `build()`
   * then refuses an incomplete map instead.
   *
   * ```ts
   * const b = new Builder<Order, OrderStatus>("orders", OrderStatus, { version: 2 });
   * b.upgrade(1, V1OrderStatus, {
   *   object: (old: V1Order) => ({ id: old.id, amount: old.cents / 100 }),
   *   status: { Created: OrderStatus.Created, Charging: OrderStatus.Created, Shipped: OrderStatus.Shipped },
   * });
   * ```
   */
  upgrade<OldT>(fromVersion: number, oldStatusEnum: StatusEnum, map: UpgradeMapNamingOnlyOldT<NoInfer<OldT>, T, S>): Updater;
  upgrade<OldT, OldEnum extends StatusEnum, NewT = T, NewS extends number = S>(
    fromVersion: number,
    oldStatusEnum: OldEnum,
    map: UpgradeMap<OldT, OldEnum, NoInfer<NewT>, NoInfer<NewS>>,
  ): Updater;
  upgrade(
    fromVersion: number,
    oldStatusEnum: StatusEnum,
    map: { object: (old: never) => unknown; status: { readonly [name: string]: number } },
  ): Updater {
    const upgrade = upgradeDefinition(this.#version, fromVersion, oldStatusEnum, map);
    if (upgrade instanceof BuildError) {
      this.#problems.push(upgrade);
      return { withOptions: () => {} };
    }
    if (this.#upgrades.has(fromVersion)) this.#problems.push(new BuildError(`an upgrade from version ${fromVersion} was already added: one per version`));
    this.#upgrades.set(fromVersion, upgrade);
    return {
      withOptions: (options) => {
        validateOptions(`upgrade(${fromVersion}, …)`, options, ["lag", ...stepOnlyOptions]);
        upgrade.options = { ...upgrade.options, ...options };
      },
    };
  }

  /** Calls `hook` once for each run that pauses. */
  onPause(hook: RunStateHook<T, S>): void {
    this.#addHook(RunState.Paused, hook);
  }

  /** Calls `hook` once for each run that is cancelled. */
  onCancel(hook: RunStateHook<T, S>): void {
    this.#addHook(RunState.Cancelled, hook);
  }

  /** Calls `hook` once for each run that completes. */
  onComplete(hook: RunStateHook<T, S>): void {
    this.#addHook(RunState.Completed, hook);
  }

  /** Checks the definition and returns the runnable workflow. Throws naming the first problem found. */
  build(config: BuildConfig<T>): Workflow<T, S> {
    const [problem] = this.#problems;
    if (problem) throw problem;
    if (this.#steps.length + this.#callbacks.length + this.#timeouts.length + this.#connections.length === 0) {
      throw new BuildError(`workflow "${this.#name}" has no steps, callbacks or timeouts`);
    }
    for (const key of ["eventStreamer", "recordStore", "roleScheduler"] as const) {
      if (!config[key]) throw new BuildError(`workflow "${this.#name}": build() needs ${key}`);
    }
    if (this.#timeouts.length > 0 && !config.timeoutStore) {
      throw new BuildError(`workflow "${this.#name}" has timeouts, so build() needs a timeoutStore`);
    }
    const brokenChain = checkUpgradeChain(this.#name, this.#version, this.#upgrades, this.#graph);
    if (brokenChain) throw brokenChain;
    if (config.defaultOptions) validateOptions("defaultOptions", config.defaultOptions);
    if (config.pauseRetry && config.pauseRetry.resumeAfter !== undefined) {
      checkDuration("pauseRetry", "resumeAfter", config.pauseRetry.resumeAfter);
    }
    return new Workflow<T, S>({
      name: this.#name,
      graph: this.#graph,
      schema: this.#schema,
      config,
      steps: [...this.#steps],
      callbacks: [...this.#callbacks],
      timeouts: [...this.#timeouts],
      connectors: [...this.#connectors],
      connections: [...this.#connections],
      hooks: new Map(this.#hooks),
      version: this.#version,
      upgrades: new Map(this.#upgrades),
    });
  }

  #addHook(runState: HookedRunState, hook: RunStateHook<T, S>): void {
    if (this.#hooks.has(runState)) {
      this.#problems.push(new BuildError(`an on${runStateName(runState)} hook was already added: one hook per run state`));
    }
    this.#hooks.set(runState, hook as RunStateHook<T, number>);
  }

  #checkStatuses(...statuses: number[]): void {
    for (const status of statuses) {
      if (!Number.isInteger(status) || status <= 0) {
        this.#problems.push(new InvalidStatusError(status, "0 and negative statuses are reserved; use whole numbers from 1"));
      }
    }
  }
}
