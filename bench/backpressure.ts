// npm run bench:backpressure [-- --backend NAME ...] [--runs 1000,10000,50000] [--step-ms 2000] [--window-s 6]
//
// Slow consumers: a workflow of one step (Created → Done) that takes --step-ms per run, with the
// library's defaults (batchSize 100, concurrency 100). For each backend and each count in --runs,
// a child process of its own starts the workflow and triggers that many runs (500 at a time, so the
// caller's own in-flight triggers stay the same for every count) while the step is already slow,
// then lets them wait for --window-s. RSS and heap in use are sampled every 100 ms, their peaks
// reported apart for the trigger phase and the waiting phase; at the end, with the runs still
// waiting, garbage is collected and the heap left is `retained_heap_mb`. One JSON line per child.
// Flat figures across counts mean memory does not follow the number of runs waiting; the memory
// backend's store holds every run in the process, so its figures grow with the count by design.
// Children run under the tsx loader (about 50 MB of RSS of its own, the same for every count).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import process from "node:process";
import { setTimeout as delay } from "node:timers/promises";
import { Builder } from "stepwise";
import { backends } from "./backends.js";

const { values } = parseArgs({
  options: {
    backend: { type: "string", multiple: true },
    runs: { type: "string", default: "1000,10000,50000" },
    "step-ms": { type: "string", default: "2000" },
    "window-s": { type: "string", default: "6" },
    child: { type: "boolean", default: false },
  },
});

const round1 = (x: number) => Math.round(x * 10) / 10;
const mb = (bytes: number) => round1(bytes / 2 ** 20);

/** The highest RSS and heap in use seen by `sample`. */
class Peaks {
  rss = 0;
  heap = 0;

  sample(): void {
    const now = process.memoryUsage();
    this.rss = Math.max(this.rss, now.rss);
    this.heap = Math.max(this.heap, now.heapUsed);
  }
}

enum Status {
  Unknown = 0,
  Created = 1,
  Done = 2,
}

/** One backend, one count: the child's JSON line. */
async function measure(name: string, runs: number, stepMs: number, windowMs: number): Promise<object> {
  const backend = await backends[name]!();
  const b = new Builder<{ id: string }, Status>("backpressure", Status);
  let started = 0;
  let finished = 0;
  b.addStep(
    Status.Created,
    async () => {
      started++;
      await delay(stepMs);
      finished++;
      return Status.Done;
    },
    Status.Done,
  );
  const wf = b.build(backend.config as Parameters<typeof b.build>[0]);
  const trigger = new Peaks();
  const waiting = new Peaks();
  let phase = trigger;
  const sampler = setInterval(() => phase.sample(), 100);
  try {
    await wf.run();
    const triggerStart = performance.now();
    const chunk = 500;
    for (let i = 0; i < runs; i += chunk) {
      const ids = Array.from({ length: Math.min(chunk, runs - i) }, (_, j) => `run-${i + j}`);
      await Promise.all(ids.map((id) => wf.trigger(id, { initialValue: { id } })));
      // The caller's garbage is no part of what the engine holds: collected now, it cannot pile
      // up into a high-water mark of RSS that grows with the number of triggers.
      globalThis.gc?.();
    }
    const triggerS = (performance.now() - triggerStart) / 1000;
    trigger.sample();
    phase = waiting;
    await delay(windowMs);
    waiting.sample();
    // What stays once garbage is collected, with the runs still waiting: what the process holds for them.
    globalThis.gc?.();
    const retained = process.memoryUsage();
    return {
      system: `stepwise-${name}`,
      runs,
      step_ms: stepMs,
      trigger_s: round1(triggerS),
      // Of the runs, those not through the step when sampling ended.
      runs_waiting_at_end: runs - finished,
      steps_started: started,
      trigger_peak_rss_mb: mb(trigger.rss),
      trigger_peak_heap_mb: mb(trigger.heap),
      waiting_peak_rss_mb: mb(waiting.rss),
      waiting_peak_heap_mb: mb(waiting.heap),
      retained_heap_mb: mb(retained.heapUsed),
    };
  } finally {
    clearInterval(sampler);
    await wf.stop();
    await backend.close();
  }
}

/** Runs this script as a child for one backend and count; resolves with its JSON line. */
async function runChild(name: string, runs: number): Promise<string> {
  const argv = ["--expose-gc", "--conditions=source", "--import", "tsx", fileURLToPath(import.meta.url), "--child", "--backend", name, "--runs", String(runs)];
  argv.push("--step-ms", values["step-ms"], "--window-s", values["window-s"]);
  const child = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "inherit"] });
  let stdout = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => (stdout += chunk));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const line = stdout.split("\n").find((l) => l.startsWith("{"));
  if (code !== 0 || !line) throw new Error(`${name} with ${runs} runs exited with ${code}${line ? "" : " without a result line"}`);
  return line;
}

const names = values.backend ?? ["memory", "sqlite", "postgres", "redis"];
for (const name of names) {
  if (!backends[name]) throw new Error(`unknown backend "${name}"; known: ${Object.keys(backends).join(", ")}`);
}
const counts = values.runs.split(",").map(Number);
if (values.child) {
  const result = await measure(names[0]!, counts[0]!, Number(values["step-ms"]), Number(values["window-s"]) * 1000);
  console.log(JSON.stringify(result));
} else {
  let failed = false;
  for (const name of names) {
    for (const runs of counts) {
      try {
        console.log(await runChild(name, runs));
      } catch (err) {
        failed = true;
        console.error(err instanceof Error ? err.message : String(err));
      }
    }
  }
  if (failed) process.exitCode = 1;
}
