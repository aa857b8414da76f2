// A run waits in AwaitingApproval until someone calls back, as a webhook handler would.
import { Builder } from "stepwise";
import { memory } from "stepwise/memory";

enum Expense { Unknown = 0, AwaitingApproval = 1, Approved = 2, Rejected = 3 }
type Claim = { amount: number; approver?: string };

const b = new Builder<Claim, Expense>("expenses", Expense);

// The payload comes from outside, so check it: a throw rejects it and the run stays where it is.
b.addCallback(Expense.AwaitingApproval, async (run, payload) => {
  const decision = payload as { approver?: unknown; approved?: unknown };
  if (typeof decision.approver !== "string") throw new TypeError("payload needs an approver");
  run.object.approver = decision.approver;
  return decision.approved === true ? Expense.Approved : Expense.Rejected;
}, Expense.Approved, Expense.Rejected);

const adapters = memory();
const wf = b.build(adapters);
await wf.run();
try {
  const runId = await wf.trigger("claim-7", { initialValue: { amount: 120 } });
  await wf.callback("claim-7", Expense.AwaitingApproval, { approved: true }).catch((err: Error) => {
    console.log(`refused: ${err.message}`);
  });
  await wf.callback("claim-7", Expense.AwaitingApproval, { approver: "ana", approved: true });
  const done = await wf.await("claim-7", runId, Expense.Approved);
  console.log(`claim-7 is ${Expense[done.status]} by ${done.object.approver}`);
} finally {
  await wf.stop();
  await adapters.close();
}
