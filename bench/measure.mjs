// The one measuring loop every benchmarked system goes through: stepwise's backends
// (bench/stepwise.ts) and the peers (bench/peers/*.mjs). Plain JavaScript, typed by
// measure.d.mts, so the peers run on plain node with no TypeScript loader in the measured process.
import { setMaxListeners } from "node:events";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import process from "node:process";
import { clearTimeout, setTimeout } from "node:timers";
import { setTimeout as delay } from "node:timers/promises";
/* global AbortSignal */

/** Step transitions per run: A → B, B → C, C → done. */
export const transitionsPerRun = 3;

/** parseArgs options every benchmark child understands. */
export const childOptions = {
  n: { type: "string", default: "2000" },
  seq: { type: "string", default: "200" },
  "warm-up": { type: "string", default: "20" },
  "timeout-s": { type: "string", default: "600" },
  /** Write a V8 CPU profile of the throughput phase alone (no start-up, no set-up) to this file. */
  "cpu-prof": { type: "string" },
};

/** The fields every result line starts with, in this order; a number each except `system`. */
export const resultFields = ["system", "n", "runs_per_s", "transitions_per_s", "seq_p50_ms", "seq_p99_ms", "rss_mb"];

/**
 * How long a child may take in all before it gives up: both phases at their bound, plus time to
 * start and to close. A parent waits a minute more before it kills the child.
 */
export function watchdogMs(timeoutS) {
  return 2 * timeoutS * 1000 + 180_000;
}

/** Nearest-rank percentile of an ascending array: the smallest value with at least p% at or below it. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Rounds to three decimals: a microsecond for milliseconds, a millisecond for seconds. */
export function round3(x) {
  return Math.round(x * 1000) / 1000;
}

/** Resolves with the promise's value, or rejects once `signal` aborts, whichever comes first. */
export async function bounded(promise, signal, what) {
  signal.throwIfAborted();
  let onAbort;
  const aborted = new Promise((_, reject) => {
    onAbort = () => reject(new Error(`${what}: gave up after the deadline`, { cause: signal.reason }));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** Polls `check` every `everyMs` until it returns true; rejects once `signal` aborts. */
export async function pollUntil(check, everyMs, signal) {
  for (;;) {
    signal.throwIfAborted();
    if (await check()) return;
    await delay(everyMs, undefined, { signal });
  }
}

/** Profiles what `fn` runs, into `file` when one is given. */
async function profiled(file, fn) {
  if (!file) return await fn();
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  try {
    return await fn();
  } finally {
    const { profile } = await session.post("Profiler.stop");
    session.disconnect();
    await writeFile(file, JSON.stringify(profile));
  }
}

/**
 * CPU seconds the whole machine has been busy (Linux /proc/stat, in USER_HZ = 1/100 s), or
 * undefined elsewhere. Differences of it count the database server's work too, which a
 * process's own CPU time leaves out; they also count whatever else runs meanwhile.
 */
function machineBusySeconds() {
  try {
    const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = cpu;
    return (user + nice + system + irq + softirq + (steal ?? 0)) / 100;
  } catch {
    return undefined;
  }
}

function cpuSeconds(usage) {
  return (usage.user + usage.system) / 1e6;
}

/**
 * Runs the workload on one system and prints its result as one JSON line on stdout.
 *
 * Throughput: `n` runs triggered at once on a fresh instance, timed from the first trigger to
 * the last completion. Latency: `warmUp` runs, then `seq` runs one after another on another fresh
 * instance, each timed from its trigger to its completion. CPU time covers both timed phases;
 * peak RSS is the whole process's.
 */
export async function runBenchmark({ system, open, args, extra = () => ({}) }) {
  const n = Number(args.n);
  const sequential = Number(args.seq);
  const warmUp = Number(args["warm-up"]);
  const timeoutMs = Number(args["timeout-s"]) * 1000;
  if (!(n > 0 && sequential > 0 && warmUp >= 0 && timeoutMs > 0)) throw new Error(`bad arguments: ${JSON.stringify(args)}`);
  // Every wait is bounded: the whole process by the watchdog, each phase and run by a signal.
  const watchdog = setTimeout(() => {
    process.stderr.write(`${system}: no result after ${watchdogMs(timeoutMs / 1000)} ms, giving up\n`);
    process.exit(2);
  }, watchdogMs(timeoutMs / 1000));
  watchdog.unref();

  // Other work on the machine skews every figure: the line keeps the load it started under.
  const loadAtStart = loadavg()[0];
  const ids = Array.from({ length: n }, (_, i) => `t-${i}`);

  /** Opens a fresh instance for one phase and closes it afterwards, after a failure too, so its schema or keys go. */
  async function phase(name, body) {
    const instance = await open(name);
    const close = () => bounded(instance.close(), AbortSignal.timeout(60_000), `${system}: closing after the ${name} phase`);
    let result;
    try {
      result = await body(instance);
    } catch (err) {
      await close().catch((closeErr) => process.stderr.write(`${closeErr.message}\n`));
      throw err;
    }
    await close();
    return result;
  }

  const throughput = await phase("throughput", async (instance) => {
    const cpuBefore = process.cpuUsage();
    const machineBefore = machineBusySeconds();
    const started = performance.now();
    const signal = AbortSignal.timeout(timeoutMs);
    // A system may hand this one signal to each of its n waits.
    setMaxListeners(0, signal);
    await profiled(args["cpu-prof"], () => bounded(instance.runAll(ids, signal), signal, `${system}: ${n} runs at once`));
    const seconds = (performance.now() - started) / 1000;
    const cpuS = cpuSeconds(process.cpuUsage(cpuBefore));
    const machineAfter = machineBusySeconds();
    const machineCpuS = machineBefore === undefined || machineAfter === undefined ? undefined : machineAfter - machineBefore;
    return { seconds, cpuS, machineCpuS };
  });

  const latency = await phase("latency", async (instance) => {
    const runMs = [];
    const cpuBefore = process.cpuUsage();
    for (let i = 0; i < warmUp + sequential; i++) {
      const measured = i >= warmUp;
      const runSignal = AbortSignal.timeout(30_000);
      const runStarted = performance.now();
      await bounded(instance.runOne(`l-${i}`, runSignal, measured), runSignal, `${system}: sequential run ${i}`);
      if (measured) runMs.push(performance.now() - runStarted);
    }
    return { runMs, cpuS: cpuSeconds(process.cpuUsage(cpuBefore)) };
  });

  const { seconds } = throughput;
  const { runMs } = latency;
  runMs.sort((a, b) => a - b);
  const result = {
    system,
    n,
    runs_per_s: Math.round(n / seconds),
    transitions_per_s: Math.round((transitionsPerRun * n) / seconds),
    seq_p50_ms: round3(percentile(runMs, 50)),
    seq_p99_ms: round3(percentile(runMs, 99)),
    rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    cpu_s: round3(throughput.cpuS + latency.cpuS),
    throughput_s: round3(seconds),
    throughput_cpu_s: round3(throughput.cpuS),
    ...(throughput.machineCpuS === undefined ? {} : { throughput_machine_cpu_s: round3(throughput.machineCpuS) }),
    seq_runs: sequential,
    load_avg_1m: round3(loadAtStart),
    ...extra(),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  clearTimeout(watchdog);
  // A library that leaves a timer or socket behind must not keep the child alive past its result.
  setTimeout(() => process.exit(0), 2000).unref();
  return result;
}
