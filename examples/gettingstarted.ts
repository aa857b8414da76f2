import { Builder } from "stepwise";
import { memory } from "stepwise/memory";

enum OrderStatus { Unknown = 0, Created = 1, Paid = 2, Shipped = 3, Failed = 4 }
type Order = { id: string; amount: number; receipt?: string };

// Stands in for a payment provider. A real call would pass `signal` on, to give up on shutdown.
async function charge(order: Order, signal: AbortSignal): Promise<string> {
  signal.throwIfAborted();
  return `receipt-${order.id}`;
}

const b = new Builder<Order, OrderStatus>("order-processing", OrderStatus);

b.addStep(OrderStatus.Created, async (run, ctx) => {
  if (run.object.amount <= 0) return OrderStatus.Failed;
  run.object.receipt = await charge(run.object, ctx.signal);
  return OrderStatus.Paid;
}, OrderStatus.Paid, OrderStatus.Failed);

b.addStep(OrderStatus.Paid, async () => OrderStatus.Shipped, OrderStatus.Shipped);

const adapters = memory();
const wf = b.build(adapters);
await wf.run();
try {
  const runId = await wf.trigger("order-1", { initialValue: { id: "order-1", amount: 10 } });
  const done = await wf.await("order-1", runId, OrderStatus.Shipped);
  console.log(`order ${done.object.id} is ${OrderStatus[done.status]} with ${done.object.receipt}`);
} finally {
  await wf.stop();
  await adapters.close();
}
