import { setTimeout as delay } from "node:timers/promises";
import { Builder, type BuildConfig, type ProcessOptions } from "stepwise";
import { memory } from "stepwise/memory";

export enum Status {
  Unknown = 0,
  Created = 1,
  Processed = 2,
  Shipped = 3,
  Done = 4,
  Failed = 5,
}

export type Item = { id: string; count: number };

/**
 * A three-step line, Created → Processed → Shipped → Done, each step adding one to `count`;
 * `calls` counts the step invocations per run and status.
 */
export function lineWorkflow(options: LineOptions = {}) {
  const adapters = memory();
  return { ...lineWorkflowOn(adapters, options), adapters };
}

interface LineOptions {
  config?: Partial<BuildConfig<Item>>;
  stepOptions?: ProcessOptions;
  name?: string;
  /** Each step first waits this long, as a call to another service would; default 0, no wait. */
  stepDelayMs?: number;
}

/** The same line on other adapters. */
export function lineWorkflowOn(adapters: BuildConfig<Item>, options: LineOptions = {}) {
  const calls = new Map<string, number>();
  const count = (runId: string, status: Status) => {
    const key = `${runId}:${status}`;
    calls.set(key, (calls.get(key) ?? 0) + 1);
  };
  const b = new Builder<Item, Status>(options.name ?? "line", Status);
  const steps: [Status, Status][] = [
    [Status.Created, Status.Processed],
    [Status.Processed, Status.Shipped],
    [Status.Shipped, Status.Done],
  ];
  for (const [from, to] of steps) {
    b.addStep(
      from,
      async (run) => {
        count(run.runId, from);
        if (options.stepDelayMs) await delay(options.stepDelayMs);
        run.object.count++;
        return to;
      },
      to,
    ).withOptions(options.stepOptions ?? {});
  }
  const wf = b.build({ ...adapters, ...options.config });
  return { wf, calls };
}
