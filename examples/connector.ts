// A connector brings events from another system into the workflow; here a memory stream of
// payment events triggers one run per paid invoice.
import { Builder } from "stepwise";
import { memory, MemoryConnector } from "stepwise/memory";
import { waitFor } from "stepwise/testing";

enum Invoice { Unknown = 0, Paid = 1, Receipted = 2 }
type Receipt = { invoice: string; amount: number };

const payments = new MemoryConnector([
  { id: "evt-1", foreignId: "inv-1", type: "payment.succeeded", headers: { amount: "40" }, createdAt: new Date() },
  { id: "evt-2", foreignId: "inv-2", type: "payment.failed", headers: { amount: "15" }, createdAt: new Date() },
  { id: "evt-3", foreignId: "inv-3", type: "payment.succeeded", headers: { amount: "25" }, createdAt: new Date() },
]);

const b = new Builder<Receipt, Invoice>("invoices", Invoice);
b.addStep(Invoice.Paid, async () => Invoice.Receipted, Invoice.Receipted);
b.addConnector("payments", payments, async (api, event) => {
  if (event.type !== "payment.succeeded") return;
  await api.trigger(event.foreignId, { initialValue: { invoice: event.foreignId, amount: Number(event.headers.amount) } });
});

const adapters = memory();
const wf = b.build(adapters);
await wf.run();
try {
  for (const invoice of ["inv-1", "inv-3"]) {
    const { runId } = await waitFor(wf, invoice, () => true);
    const done = await wf.await(invoice, runId, Invoice.Receipted);
    console.log(`${done.object.invoice}: ${Invoice[done.status]} for ${done.object.amount}`);
  }
} finally {
  await wf.stop();
  await adapters.close();
}

