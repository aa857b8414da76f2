// Types of measure.mjs, for bench/*.ts.

/** Step transitions per run: A → B, B → C, C → done. */
export declare const transitionsPerRun: number;

/** parseArgs options every benchmark child understands. */
export declare const childOptions: {
  readonly n: { type: "string"; default: string };
  readonly seq: { type: "string"; default: string };
  readonly "warm-up": { type: "string"; default: string };
  readonly "timeout-s": { type: "string"; default: string };
  /** Write a V8 CPU profile of the throughput phase alone (no start-up, no set-up) to this file. */
  readonly "cpu-prof": { type: "string" };
};

/** The fields every result line starts with, in this order; a number each except `system`. */
export declare const resultFields: readonly string[];

/** One system's figures: the fields the issue names, then extras such as `cpu_s` or `hop_p50_ms`. */
export interface BenchResult {
  system: string;
  n: number;
  runs_per_s: number;
  transitions_per_s: number;
  seq_p50_ms: number;
  seq_p99_ms: number;
  rss_mb: number;
  cpu_s: number;
  [extra: string]: string | number;
}

/** One fresh instance of the system under test. */
export interface SystemUnderTest {
  /** Triggers every run at once; resolves when the last one has completed. */
  runAll(ids: readonly string[], signal: AbortSignal): Promise<void>;
  /** Triggers one run; resolves when it has completed. `measured` is false during the warm-up. */
  runOne(id: string, signal: AbortSignal, measured: boolean): Promise<void>;
  /** Stops the instance and removes what it stored. */
  close(): Promise<void>;
}

/** How long a child may take in all before it gives up; a parent waits a minute more before it kills it. */
export declare function watchdogMs(timeoutS: number): number;
export declare function percentile(sorted: readonly number[], p: number): number;
export declare function round3(x: number): number;
export declare function bounded<R>(promise: Promise<R>, signal: AbortSignal, what: string): Promise<R>;
export declare function pollUntil(check: () => boolean | Promise<boolean>, everyMs: number, signal: AbortSignal): Promise<void>;

/** Runs the workload on one system and prints its result as one JSON line on stdout. */
export declare function runBenchmark(options: {
  system: string;
  open(phase: "throughput" | "latency"): Promise<SystemUnderTest>;
  args: { n: string; seq: string; "warm-up": string; "timeout-s": string; "cpu-prof"?: string | undefined };
  extra?(): { [field: string]: number | string };
}): Promise<BenchResult>;
