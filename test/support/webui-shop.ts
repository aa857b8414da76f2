// A shop's order workflow with runs spread over every status and several run states, for the web
// UI's browser tests and its screenshots. Runs move only by callbacks, so nothing happens between
// the calls and each run's status is known.
import { Builder, type RecordStore, type Workflow } from "stepwise";
import { memory, type MemoryAdapters } from "stepwise/memory";
import { FakeClock } from "stepwise/testing";

export enum OrderStatus {
  Created = 1,
  Paid = 2,
  Packed = 3,
  Shipped = 4,
  Delivered = 5,
  Declined = 6,
}

export interface Order {
  orderId: string;
  customer: { name: string; email: string };
  lines: { sku: string; quantity: number; unitPrice: number }[];
  total: number;
  currency: string;
  paymentId?: string;
  parcel?: { carrier: string; trackingCode: string };
  declined?: string;
}

/** Where each order ends up: its status by its index (1-based), plus a few paused or cancelled. */
export function destination(index: number): OrderStatus {
  if (index % 7 === 0) return OrderStatus.Declined;
  if (index % 5 === 0) return OrderStatus.Created;
  if (index % 4 === 0) return OrderStatus.Paid;
  if (index % 3 === 0) return OrderStatus.Packed;
  if (index % 2 === 0) return OrderStatus.Shipped;
  return OrderStatus.Delivered;
}

export const foreignIdOf = (index: number) => `order-${1000 + index}`;

export interface Shop {
  wf: Workflow<Order, OrderStatus>;
  clock: FakeClock;
  /** Where the runs are, for a web UI that serves the store without the workflow (as the CLI does). */
  recordStore: RecordStore;
  /** Run ids by foreign id. */
  runIds: Map<string, string>;
  stop(): Promise<void>;
}

function build(adapters: MemoryAdapters, clock: FakeClock): Workflow<Order, OrderStatus> {
  const b = new Builder<Order, OrderStatus>("orders", OrderStatus);
  b.addCallback(
    OrderStatus.Created,
    async (run, payload) => {
      const payment = payload as { paymentId?: string; declined?: string };
      if (payment.declined) {
        run.object.declined = payment.declined;
        return OrderStatus.Declined;
      }
      run.object.paymentId = payment.paymentId;
      return OrderStatus.Paid;
    },
    OrderStatus.Paid,
    OrderStatus.Declined,
  );
  b.addCallback(OrderStatus.Paid, async () => OrderStatus.Packed, OrderStatus.Packed);
  b.addCallback(
    OrderStatus.Packed,
    async (run, payload) => {
      run.object.parcel = payload as Order["parcel"];
      return OrderStatus.Shipped;
    },
    OrderStatus.Shipped,
  );
  b.addCallback(OrderStatus.Shipped, async () => OrderStatus.Delivered, OrderStatus.Delivered);
  return b.build({ ...adapters, clock });
}

const customers = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov", "Ken Thompson", "Margaret Hamilton"];

function order(index: number): Order {
  const name = customers[index % customers.length] ?? "Customer";
  const quantity = 1 + (index % 3);
  const unitPrice = 12.5 + (index % 4) * 7;
  return {
    orderId: foreignIdOf(index),
    customer: { name, email: `${name.split(" ")[0]?.toLowerCase()}@example.com` },
    lines: [
      { sku: `SKU-${200 + (index % 9)}`, quantity, unitPrice },
      { sku: "SKU-GIFTWRAP", quantity: 1, unitPrice: 3 },
    ],
    total: quantity * unitPrice + 3,
    currency: "EUR",
  };
}

/** Moves a fresh run along the callbacks until it reaches `to`. */
async function advance(wf: Workflow<Order, OrderStatus>, foreignId: string, to: OrderStatus): Promise<void> {
  if (to === OrderStatus.Created) return;
  if (to === OrderStatus.Declined) {
    await wf.callback(foreignId, OrderStatus.Created, { declined: "card declined by issuer" });
    return;
  }
  await wf.callback(foreignId, OrderStatus.Created, { paymentId: `pay_${foreignId.replace("order-", "")}` });
  if (to === OrderStatus.Paid) return;
  await wf.callback(foreignId, OrderStatus.Paid, {});
  if (to === OrderStatus.Packed) return;
  await wf.callback(foreignId, OrderStatus.Packed, { carrier: "DHL", trackingCode: `JD0146000${foreignId.replace("order-", "")}` });
  if (to === OrderStatus.Shipped) return;
  await wf.callback(foreignId, OrderStatus.Shipped, {});
}

/**
 * Starts the workflow on memory() and places `count` orders, `order-1001` first, 37 seconds apart
 * on a fake clock, each moved to `destination(index)`.
 */
export async function openShop(count: number, start = new Date("2026-11-20T09:00:00Z")): Promise<Shop> {
  const clock = new FakeClock(start);
  const adapters = memory({ clock });
  const wf = build(adapters, clock);
  await wf.run();
  const runIds = new Map<string, string>();
  try {
    for (let index = 1; index <= count; index++) {
      const foreignId = foreignIdOf(index);
      runIds.set(foreignId, await wf.trigger(foreignId, { initialValue: order(index) }));
      clock.advance(37_000);
      await advance(wf, foreignId, destination(index));
      clock.advance(11_000);
    }
  } catch (err) {
    await wf.stop();
    await adapters.close();
    throw err;
  }
  return {
    wf,
    clock,
    recordStore: adapters.recordStore,
    runIds,
    stop: async () => {
      await wf.stop();
      await adapters.close();
    },
  };
}
