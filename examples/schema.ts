// The object's type comes from a schema (zod here; valibot, arktype or any Standard Schema work
// the same way), and nothing the schema refuses is ever stored.
import { Builder, InvalidObjectError, InvalidPayloadError } from "stepwise";
import { memory } from "stepwise/memory";
import { z } from "zod";

enum Expense { Unknown = 0, Submitted = 1, AwaitingApproval = 2, Approved = 3, Rejected = 4 }

const Claim = z.object({
  employee: z.string().trim().min(1),
  amount: z.number().positive(),
  currency: z.string().length(3).toUpperCase(),
  approver: z.string().optional(),
});

// Builder<z.output<typeof Claim>, Expense>: no type is written by hand.
const b = Builder.withSchema("expenses", Expense, Claim);

b.addStep(Expense.Submitted, async (run) => (run.object.amount > 10_000 ? run.cancel("over the limit") : Expense.AwaitingApproval), Expense.AwaitingApproval);

// The payload is validated before the run is read; the callback is handed the schema's output.
const Decision = z.object({ approver: z.string().min(1), approved: z.boolean() });
b.addCallback(Expense.AwaitingApproval, { payload: Decision }, async (run, decision) => {
  run.object.approver = decision.approver;
  return decision.approved ? Expense.Approved : Expense.Rejected;
}, Expense.Approved, Expense.Rejected);

const adapters = memory();
const wf = b.build(adapters);
await wf.run();
try {
  try {
    await wf.trigger("claim-1", { initialValue: { employee: " ", amount: -5, currency: "eur" } });
  } catch (err) {
    if (!(err instanceof InvalidObjectError)) throw err;
    console.log(`trigger refused (${err.code}): ${err.message}`);
  }

  const runId = await wf.trigger("claim-1", { initialValue: { employee: "  ana ", amount: 120, currency: "eur" } });
  await wf.await("claim-1", runId, Expense.AwaitingApproval);
  try {
    await wf.callback("claim-1", Expense.AwaitingApproval, { approver: "bo", approved: "yes" });
  } catch (err) {
    if (!(err instanceof InvalidPayloadError)) throw err;
    console.log(`callback refused (${err.code}): ${err.message}`);
  }
  await wf.callback("claim-1", Expense.AwaitingApproval, { approver: "bo", approved: true });
  const done = await wf.await("claim-1", runId, Expense.Approved);
  // The stored object is the schema's output: trimmed and upper-cased.
  console.log(`claim of ${done.object.employee} for ${done.object.amount} ${done.object.currency} is ${Expense[done.status]} by ${done.object.approver}`);
} finally {
  await wf.stop();
  await adapters.close();
}
