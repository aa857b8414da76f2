// Prometheus metrics for a workflow: served on /metrics with node:http, as a service would, then
// scraped once by this script itself to show what Prometheus sees.
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { register } from "prom-client";
import { Builder } from "stepwise";
import { memory } from "stepwise/memory";
import { prometheus } from "stepwise/prometheus";

enum OrderStatus { Unknown = 0, Created = 1, Paid = 2, Shipped = 3, Failed = 4 }
type Order = { id: string; amount: number };

const b = new Builder<Order, OrderStatus>("order-processing", OrderStatus);
b.addStep(OrderStatus.Created, async (run) => (run.object.amount > 0 ? OrderStatus.Paid : OrderStatus.Failed), OrderStatus.Paid, OrderStatus.Failed);
b.addStep(OrderStatus.Paid, async () => OrderStatus.Shipped, OrderStatus.Shipped);

const adapters = memory();
// prometheus() registers on prom-client's global `register` unless given a registry.
const wf = b.build({ ...adapters, metrics: prometheus() });

const server = createServer((req, res) => {
  if (req.url !== "/metrics") {
    res.writeHead(404).end();
    return;
  }
  register.metrics().then(
    (text) => res.writeHead(200, { "content-type": register.contentType }).end(text),
    (err: unknown) => res.writeHead(500).end(String(err)),
  );
});
server.listen(0, "127.0.0.1");
await once(server, "listening");
const { port } = server.address() as AddressInfo;

await wf.run();
try {
  for (const [i, amount] of [10, 20, 0].entries()) {
    const foreignId = `order-${i + 1}`;
    const runId = await wf.trigger(foreignId, { initialValue: { id: foreignId, amount } });
    await wf.await(foreignId, runId, amount > 0 ? OrderStatus.Shipped : OrderStatus.Failed);
  }
  const scraped = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const lines = scraped.split("\n").filter((line) => /^workflow_(runs|run_state_changes)\{/.test(line));
  console.log(`GET http://127.0.0.1:${port}/metrics:`);
  for (const line of lines) console.log(`  ${line}`);
  const shipped = lines.find((line) => line.startsWith('workflow_runs{workflow_name="order-processing",status="Shipped"}'));
  if (!shipped) throw new Error("workflow_runs for Shipped is missing from /metrics");
  console.log(`metrics served: ${shipped}`);
} finally {
  await wf.stop();
  await adapters.close();
  server.close();
}
