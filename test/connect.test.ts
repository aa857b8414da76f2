import assert from "node:assert/strict";
import { test } from "node:test";
import { Builder, HeaderKey, RunState } from "stepwise";
import { memory } from "stepwise/memory";
import { waitFor } from "stepwise/testing";

enum Payment {
  Unknown = 0,
  Started = 1,
  Authorised = 2,
  Settled = 3,
}
enum Order {
  Unknown = 0,
  AwaitingPayment = 1,
  Paid = 2,
  Shipped = 3,
}
type PaymentData = { orderId: string; amount: number };
type OrderData = { id: string; paidAmount?: number };

function connected(consumer: (event: { foreignId: string }) => boolean = () => true) {
  const adapters = memory();
  const payments = new Builder<PaymentData, Payment>("payments", Payment);
  payments.addStep(Payment.Started, async () => Payment.Authorised, Payment.Authorised);
  // Authorised waits for a callback, so a test decides when the payment settles.
  payments.addCallback(Payment.Authorised, async () => Payment.Settled, Payment.Settled);
  const paymentWf = payments.build(adapters);

  const seen: string[] = [];
  const orders = new Builder<OrderData, Order>("orders", Order);
  orders.connectWorkflow<Payment>({
    workflowName: "payments",
    status: Payment.Settled,
    streamer: adapters.eventStreamer,
    from: Order.AwaitingPayment,
    to: Order.Paid,
    filter: (event) => event.foreignId.replace(/^payment-/, ""),
    consumer: async (run, event) => {
      seen.push(event.headers[HeaderKey.runId] ?? "");
      run.object.paidAmount = 10;
      return consumer(event);
    },
  });
  orders.addStep(Order.Paid, async () => Order.Shipped, Order.Shipped);
  const orderWf = orders.build(adapters);
  return { paymentWf, orderWf, seen };
}

test("a connected workflow moves only once the other workflow's run reaches the awaited status", async () => {
  const { paymentWf, orderWf, seen } = connected();
  try {
    await Promise.all([paymentWf.run(), orderWf.run()]);
    const orderRunId = await orderWf.trigger("o-1", { initialValue: { id: "o-1" } });
    const paymentRunId = await paymentWf.trigger("payment-o-1", { initialValue: { orderId: "o-1", amount: 10 } });
    await paymentWf.await("payment-o-1", paymentRunId, Payment.Authorised);
    // Authorised is not what the order waits for: it must still be waiting.
    assert.deepEqual(seen, []);
    assert.equal((await waitFor(orderWf, "o-1", () => true)).status, Order.AwaitingPayment);

    await paymentWf.callback("payment-o-1", Payment.Authorised, null);
    const shipped = await orderWf.await("o-1", orderRunId, Order.Shipped);
    assert.equal(shipped.object.paidAmount, 10);
    assert.deepEqual(seen, [paymentRunId]);
  } finally {
    await Promise.all([paymentWf.stop(), orderWf.stop()]);
  }
});

test("the consumer can decline an event, leaving the run where it waits", async () => {
  const { paymentWf, orderWf, seen } = connected(() => false);
  try {
    await Promise.all([paymentWf.run(), orderWf.run()]);
    await orderWf.trigger("o-2", { initialValue: { id: "o-2" } });
    const paymentRunId = await paymentWf.trigger("payment-o-2", { initialValue: { orderId: "o-2", amount: 5 } });
    await paymentWf.await("payment-o-2", paymentRunId, Payment.Authorised);
    await paymentWf.callback("payment-o-2", Payment.Authorised, null);
    await waitFor(paymentWf, "payment-o-2", (r) => r.runState === RunState.Completed);
    await waitFor(orderWf, "o-2", () => seen.length === 1);
    const order = await waitFor(orderWf, "o-2", () => true);
    assert.equal(order.status, Order.AwaitingPayment);
    assert.equal(order.meta.version, 1);
  } finally {
    await Promise.all([paymentWf.stop(), orderWf.stop()]);
  }
});
