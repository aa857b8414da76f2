// An order processor: payment arrives by callback, an unpaid order is cancelled by a timeout,
// and fulfilment is a workflow of its own that the order waits for.
import { pathToFileURL } from "node:url";
import { Builder, durationTimer, type BuildConfig, type Workflow } from "stepwise";
import { memory } from "stepwise/memory";
import { waitFor } from "stepwise/testing";

export enum OrderStatus { Unknown = 0, Created = 1, AwaitingPayment = 2, Paid = 3, AwaitingShipment = 4, Delivered = 5, PaymentFailed = 6 }
export type Order = { id: string; items: number; paidWith?: string; trackingId?: string };

export enum ShipmentStatus { Unknown = 0, Requested = 1, Packed = 2, Dispatched = 3, Delivered = 4 }
export type Shipment = { orderId: string; items: number; trackingId?: string };

export type Adapters = Pick<BuildConfig<unknown>, "eventStreamer" | "recordStore" | "roleScheduler" | "timeoutStore">;

export interface OrderProcessor {
  orders: Workflow<Order, OrderStatus>;
  shipments: Workflow<Shipment, ShipmentStatus>;
}

/** Builds both workflows on the given adapters; `payWithinMs` is how long an order may stay unpaid. */
export function buildOrderProcessor(adapters: Adapters, options: { payWithinMs: number }): OrderProcessor {
  const fulfilment = new Builder<Shipment, ShipmentStatus>("shipments", ShipmentStatus);
  fulfilment.addStep(ShipmentStatus.Requested, async () => ShipmentStatus.Packed, ShipmentStatus.Packed);
  fulfilment.addStep(ShipmentStatus.Packed, async (run) => {
    run.object.trackingId = `TRK-${run.object.orderId}`;
    return ShipmentStatus.Dispatched;
  }, ShipmentStatus.Dispatched);
  fulfilment.addStep(ShipmentStatus.Dispatched, async () => ShipmentStatus.Delivered, ShipmentStatus.Delivered);
  const shipments = fulfilment.build(adapters as BuildConfig<Shipment>);

  const b = new Builder<Order, OrderStatus>("orders", OrderStatus);
  b.addStep(OrderStatus.Created, async (run) => (run.object.items > 0 ? OrderStatus.AwaitingPayment : OrderStatus.PaymentFailed),
    OrderStatus.AwaitingPayment, OrderStatus.PaymentFailed);
  b.addCallback(OrderStatus.AwaitingPayment, async (run, payload) => {
    const payment = payload as { method?: unknown; ok?: unknown };
    if (typeof payment.method !== "string") throw new TypeError("a payment needs a method");
    run.object.paidWith = payment.method;
    return payment.ok === true ? OrderStatus.Paid : OrderStatus.PaymentFailed;
  }, OrderStatus.Paid, OrderStatus.PaymentFailed);
  b.addTimeout(OrderStatus.AwaitingPayment, durationTimer(options.payWithinMs), async (run) => run.cancel("not paid in time"),
    OrderStatus.PaymentFailed).withOptions({ pollingFrequency: 50 });
  b.addStep(OrderStatus.Paid, async (run) => {
    // Starting a shipment twice for one order is refused, so a retried step does no harm.
    await shipments.trigger(run.object.id, { initialValue: { orderId: run.object.id, items: run.object.items } })
      .catch((err: { code?: string }) => { if (err.code !== "WORKFLOW_IN_PROGRESS") throw err; });
    return OrderStatus.AwaitingShipment;
  }, OrderStatus.AwaitingShipment);
  b.connectWorkflow<ShipmentStatus>({
    workflowName: "shipments",
    status: ShipmentStatus.Delivered,
    streamer: adapters.eventStreamer,
    from: OrderStatus.AwaitingShipment,
    to: OrderStatus.Delivered,
    filter: (event) => event.foreignId,
    consumer: async (run, event) => {
      run.object.trackingId = `TRK-${event.foreignId}`;
      return true;
    },
  });
  const orders = b.build(adapters as BuildConfig<Order>);
  return { orders, shipments };
}

async function main(): Promise<void> {
  const adapters = memory();
  const { orders, shipments } = buildOrderProcessor(adapters, { payWithinMs: 300 });
  await Promise.all([orders.run(), shipments.run()]);
  try {
    const paid = await orders.trigger("order-1", { initialValue: { id: "order-1", items: 2 } });
    const unpaid = await orders.trigger("order-2", { initialValue: { id: "order-2", items: 1 } });
    await orders.await("order-1", paid, OrderStatus.AwaitingPayment);
    await orders.callback("order-1", OrderStatus.AwaitingPayment, { method: "card", ok: true });
    const delivered = await orders.await("order-1", paid, OrderStatus.Delivered);
    console.log(`order-1: ${OrderStatus[delivered.status]}, paid by ${delivered.object.paidWith}, tracking ${delivered.object.trackingId}`);
    const cancelled = await waitFor(orders, "order-2", (r) => r.runId === unpaid && r.meta.runStateReason !== "");
    console.log(`order-2: ${OrderStatus[cancelled.status]}, ${cancelled.meta.runStateReason}`);
    console.log(orders.diagram());
  } finally {
    await Promise.all([orders.stop(), shipments.stop()]);
    await adapters.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
