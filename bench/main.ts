// npm run bench [-- --backend memory] [--n 10000] [--seq 200] [--json]
// Throughput: n runs of a three-step workflow triggered at once, from the first trigger to the
// last completion. Latency: runs one after another; a hop is the time from one step starting to
// the next step starting (store, outbox, stream, receive, look up).
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { Builder } from "stepwise";
import { backends, type Backend } from "./backends.js";

enum Step {
  Unknown = 0,
  A = 1,
  B = 2,
  C = 3,
  Done = 4,
}
type Counter = { id: string; count: number };

const { values } = parseArgs({
  options: {
    backend: { type: "string", multiple: true },
    n: { type: "string", default: "10000" },
    seq: { type: "string", default: "200" },
    json: { type: "boolean", default: false },
  },
});
const n = Number(values.n);
const sequential = Number(values.seq);
const warmUp = 20;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

function buildWorkflow(backend: Backend, name: string, onStep: (runId: string) => void) {
  const b = new Builder<Counter, Step>(name, Step);
  for (const [from, to] of [
    [Step.A, Step.B],
    [Step.B, Step.C],
    [Step.C, Step.Done],
  ] as const) {
    b.addStep(
      from,
      async (run) => {
        onStep(run.runId);
        run.object.count++;
        return to;
      },
      to,
    );
  }
  return b.build(backend.config as Backend["config"] & { recordStore: Backend["config"]["recordStore"] });
}

async function throughput(backend: Backend): Promise<{ seconds: number }> {
  const wf = buildWorkflow(backend, "bench-throughput", () => {});
  await wf.run();
  const started = performance.now();
  const runIds = await Promise.all(Array.from({ length: n }, (_, i) => wf.trigger(`t-${i}`, { initialValue: { id: `t-${i}`, count: 0 } })));
  await Promise.all(runIds.map((runId, i) => wf.await(`t-${i}`, runId, Step.Done)));
  const seconds = (performance.now() - started) / 1000;
  await wf.stop();
  return { seconds };
}

async function latency(backend: Backend): Promise<{ runMs: number[]; hopMs: number[] }> {
  let lastStepAt = 0;
  const hopMs: number[] = [];
  let measuring = false;
  const wf = buildWorkflow(backend, "bench-latency", () => {
    const now = performance.now();
    if (measuring && lastStepAt > 0) hopMs.push(now - lastStepAt);
    lastStepAt = now;
  });
  await wf.run();
  const runMs: number[] = [];
  for (let i = 0; i < warmUp + sequential; i++) {
    measuring = i >= warmUp;
    lastStepAt = 0;
    const started = performance.now();
    const runId = await wf.trigger(`l-${i}`, { initialValue: { id: `l-${i}`, count: 0 } });
    await wf.await(`l-${i}`, runId, Step.Done);
    if (measuring) runMs.push(performance.now() - started);
  }
  await wf.stop();
  return { runMs, hopMs };
}

const names = values.backend ?? Object.keys(backends);
for (const name of names) {
  const make = backends[name];
  if (!make) throw new Error(`unknown backend "${name}"; known: ${Object.keys(backends).join(", ")}`);
  const cpuBefore = process.cpuUsage();
  const forThroughput = await make();
  const { seconds } = await throughput(forThroughput);
  await forThroughput.close();
  const forLatency = await make();
  const { runMs, hopMs } = await latency(forLatency);
  await forLatency.close();
  const cpu = process.cpuUsage(cpuBefore);
  runMs.sort((a, b) => a - b);
  hopMs.sort((a, b) => a - b);
  const result = {
    system: `stepwise-${name}`,
    n,
    runs_per_s: Math.round(n / seconds),
    transitions_per_s: Math.round((3 * n) / seconds),
    seq_p50_ms: Number(percentile(runMs, 50).toFixed(3)),
    seq_p99_ms: Number(percentile(runMs, 99).toFixed(3)),
    hop_p50_ms: Number(percentile(hopMs, 50).toFixed(3)),
    hop_p99_ms: Number(percentile(hopMs, 99).toFixed(3)),
    rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    cpu_s: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
  };
  if (values.json) {
    console.log(JSON.stringify(result));
  } else {
    console.log(`${result.system}: ${n} runs in ${seconds.toFixed(2)} s`);
    console.log(`  throughput   ${result.runs_per_s} runs/s, ${result.transitions_per_s} transitions/s`);
    console.log(`  sequential   run p50 ${result.seq_p50_ms} ms, p99 ${result.seq_p99_ms} ms (${sequential} runs)`);
    console.log(`  one hop      p50 ${result.hop_p50_ms} ms, p99 ${result.hop_p99_ms} ms`);
    console.log(`  process      peak RSS ${result.rss_mb} MB, CPU ${result.cpu_s} s`);
  }
}
