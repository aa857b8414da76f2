import type { BuildConfig } from "stepwise";
import { memory } from "stepwise/memory";

/** The adapters a benchmark run builds its workflow on, and how to let go of them afterwards. */
export interface Backend {
  config: Pick<BuildConfig<unknown>, "eventStreamer" | "recordStore" | "roleScheduler" | "timeoutStore" | "outbox">;
  close(): Promise<void>;
}

export const backends: { readonly [name: string]: () => Promise<Backend> } = {
  memory: async () => ({ config: memory(), close: async () => {} }),
};
