// `npm start`: the order processor on a SQLite file in the working directory, with live progress.
// Stop it at any point (Ctrl-C, or kill -9) and start it again: it finishes the unfinished orders.
import { relative, resolve } from "node:path";
import { createDiagram, isFinished, RunState, type Record } from "stepwise";
import { sqlite } from "stepwise/sqlite";
import { buildOrderProcessor, OrderStatus } from "../orderprocessor.js";
import { payOrders } from "./payments.js";
import { Progress } from "./progress.js";

const path = resolve(process.env.STEPWISE_DEMO_DB ?? "stepwise-demo.db");
const batchSize = Number(process.env.STEPWISE_DEMO_ORDERS ?? 500);

const adapters = sqlite(path);
const { orders, shipments } = buildOrderProcessor(adapters, { payWithinMs: 1500 });
const stopping = new AbortController();

async function shutDown(code: number): Promise<never> {
  stopping.abort();
  await Promise.all([orders.stop(), shipments.stop()]);
  await adapters.close();
  process.exit(code);
}
process.once("SIGINT", () => {
  process.stdout.write(`\nStopped. Run npm start again to finish the unfinished orders in ${path}.\n`);
  void shutDown(130);
});

const allOrders = () => adapters.recordStore.list({ workflowName: orders.name, limit: 1_000_000 });

await Promise.all([orders.run(), shipments.run()]);
const before = await allOrders();
const unfinished = before.filter((r) => !isFinished(r.runState));
let batchStart: Date;
if (unfinished.length > 0) {
  batchStart = new Date(Math.min(...unfinished.map((r) => r.createdAt.getTime())));
  console.log(`Resuming ${unfinished.length} unfinished orders from the last run in ${path}.`);
} else {
  batchStart = new Date();
  const first = before.length + 1;
  console.log(`Processing ${batchSize} orders in ${path} (orders ${first} to ${first + batchSize - 1}).`);
  for (let n = first; n < first + batchSize; n++) {
    await orders.trigger(`order-${n}`, { initialValue: { id: `order-${n}`, items: 1 + (n % 3) } });
  }
}
void payOrders(orders, adapters.recordStore, stopping.signal);

const label = (r: Record) => (r.runState === RunState.Cancelled ? "Cancelled" : OrderStatus[r.status] ?? String(r.status));
const progress = new Progress(process.stdout);
for (;;) {
  const batch = (await allOrders()).filter((r) => r.createdAt >= batchStart);
  const counts = new Map<string, number>();
  for (const r of batch) counts.set(label(r), (counts.get(label(r)) ?? 0) + 1);
  const finished = batch.filter((r) => isFinished(r.runState)).length;
  const done = finished === batch.length;
  progress.show({ counts, finished, total: batch.length }, done);
  if (done) {
    const seconds = (Date.now() - batchStart.getTime()) / 1000;
    const diagram = resolve("stepwise-demo.mmd");
    await createDiagram(orders, diagram);
    console.log(
      `Done: ${counts.get("Delivered") ?? 0} delivered, ${counts.get("PaymentFailed") ?? 0} payments declined, ` +
        `${counts.get("Cancelled") ?? 0} cancelled unpaid, in ${seconds.toFixed(1)} s.`,
    );
    console.log(`The workflow's diagram (Mermaid) is in ${diagram}.`);
    console.log(`To look at the runs in the web UI: npx stepwise ui --sqlite ${shellWord(relative(process.cwd(), path))}`);
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
}
await shutDown(0);

/** The path as one word of a shell command, quoted only when it has to be. */
function shellWord(text: string): string {
  return /^[\w./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
