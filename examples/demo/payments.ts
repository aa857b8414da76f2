// A stand-in payment provider: it calls back for orders awaiting payment, as a webhook would.
// Most orders are paid; every 20th is declined, and every 25th is never paid, so the timeout
// cancels it.
import type { RecordStore, Workflow } from "stepwise";
import { RunState } from "stepwise";
import { OrderStatus, type Order } from "../orderprocessor.js";

export function paymentOutcome(orderNumber: number): "paid" | "declined" | "never" {
  if (orderNumber % 25 === 0) return "never";
  if (orderNumber % 20 === 0) return "declined";
  return "paid";
}

/** Calls back every order waiting for payment, until `signal` aborts. */
export async function payOrders(orders: Workflow<Order, OrderStatus>, recordStore: RecordStore, signal: AbortSignal): Promise<void> {
  const calledBack = new Set<string>();
  while (!signal.aborted) {
    const waiting = await recordStore.list({
      workflowName: orders.name,
      limit: 500,
      filter: { status: [OrderStatus.AwaitingPayment], runState: [RunState.Running] },
    });
    for (const run of waiting) {
      if (calledBack.has(run.runId)) continue;
      const outcome = paymentOutcome(Number(run.foreignId.replace(/\D/g, "")));
      calledBack.add(run.runId);
      if (outcome === "never") continue;
      await orders.callback(run.foreignId, OrderStatus.AwaitingPayment, { method: "card", ok: outcome === "paid" });
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
