// A worker process for the SQLite multi-process tests: runs the three-step line workflow on the
// SQLite file it is given, triggers runs if asked to, and reports on stdout ("ready", "triggered",
// "halfway" once its steps ran `halfway` times) and, over IPC, answers "states" with its
// processes' states and its role-lease owner id, and "trigger" by triggering runs.
//   sqlite-worker.ts <path> [--trigger N] [--halfway N] [--lease-ttl ms]
import { parseArgs } from "node:util";
import { sqlite } from "stepwise/sqlite";
import { lineWorkflowOn } from "./workflows.js";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    trigger: { type: "string", default: "0" },
    halfway: { type: "string", default: "0" },
    "lease-ttl": { type: "string", default: "1000" },
    prefix: { type: "string", default: "item" },
  },
});
const [path = ""] = positionals;
const adapters = sqlite(path, { leaseTtl: Number(values["lease-ttl"]), rolePollingFrequency: 50 });
const { wf, calls } = lineWorkflowOn(adapters, {
  name: "multi",
  stepOptions: { parallelCount: 2, errBackOff: 50, pollingFrequency: 50 },
  config: { logger: { debug: () => {}, error: () => {} } },
});
await wf.run();
process.stdout.write("ready\n");

/** Triggers all at once: the store commits them together, well before the steps catch up. */
async function trigger(prefix: string, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, (_, i) => wf.trigger(`${prefix}-${i}`, { initialValue: { id: `${prefix}-${i}`, count: 0 } })));
}

const triggerCount = Number(values.trigger);
if (triggerCount > 0) {
  await trigger(values.prefix, triggerCount);
  process.stdout.write("triggered\n");
}
const halfway = Number(values.halfway);
if (halfway > 0) {
  // Checked every millisecond rather than from the step: lineWorkflowOn owns the step functions.
  const watch = setInterval(() => {
    if (calls.size < halfway) return;
    clearInterval(watch);
    process.stdout.write("halfway\n");
  }, 1);
}

process.on("message", (message: { kind: string; id: number; prefix?: string; count?: number }) => {
  const reply = (body: object) => process.send?.({ id: message.id, ...body });
  if (message.kind === "states") reply({ states: wf.states(), owner: adapters.roleScheduler.owner });
  if (message.kind === "trigger") void trigger(message.prefix ?? "x", message.count ?? 0).then(() => reply({ done: true }));
});

process.on("SIGTERM", () => {
  void wf
    .stop()
    .then(() => adapters.close())
    .then(() => process.exit(0));
});
