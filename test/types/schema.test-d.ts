// Type rules of schemas (`Builder.withSchema`, callback payload schemas), checked by `tsc --noEmit`
// in `npm test`: each @ts-expect-error line must fail to compile, and every other line must compile.
import { Builder, type Run } from "stepwise";
import * as v from "valibot";
import { z } from "zod";

enum OrderStatus {
  Unknown = 0,
  Created = 1,
  Paid = 2,
  Shipped = 3,
}

const Order = z.object({
  id: z.string(),
  amount: z.number(),
  currency: z.string().default("EUR"),
  receipt: z.string().optional(),
});

// The object type is the schema's output and the status type the enum's, with no annotation.
const b = Builder.withSchema("orders", OrderStatus, Order);
const sameBuilder: Builder<{ id: string; amount: number; currency: string; receipt?: string | undefined }, OrderStatus> = b;
void sameBuilder;

b.addStep(
  OrderStatus.Created,
  async (run) => {
    // A defaulted field is there in the output type.
    const currency: string = run.object.currency;
    void currency;
    run.object.receipt = `r-${run.object.id}`;
    return OrderStatus.Paid;
  },
  OrderStatus.Paid,
);

b.addStep(
  OrderStatus.Paid,
  async (run) => {
    // @ts-expect-error The schema says amount is a number.
    run.object.amount = "ten";
    return OrderStatus.Shipped;
  },
  OrderStatus.Shipped,
);

// @ts-expect-error Statuses come from the enum the builder was given.
b.addStep(42, async () => OrderStatus.Paid, OrderStatus.Paid);

// A payload schema types the callback's payload.
const Decision = z.object({ approver: z.string(), approved: z.boolean() });
b.addCallback(
  OrderStatus.Created,
  { payload: Decision },
  async (run, decision) => {
    const approver: string = decision.approver;
    run.object.receipt = approver;
    return decision.approved ? OrderStatus.Paid : run.cancel("declined");
  },
  OrderStatus.Paid,
);

b.addCallback(
  OrderStatus.Created,
  { payload: Decision },
  async (_run, decision) => {
    // @ts-expect-error approved is a boolean, not a string.
    const approved: string = decision.approved;
    void approved;
    return OrderStatus.Paid;
  },
  OrderStatus.Paid,
);

b.addCallback(OrderStatus.Created, { payload: Decision }, async (_run, decision) => {
  // @ts-expect-error The payload has no field the schema lacks.
  void decision.amount;
  return _run.skip();
});

// @ts-expect-error Transitions stay checked in the schema form: Shipped is not declared.
b.addCallback(OrderStatus.Created, { payload: Decision }, async () => OrderStatus.Shipped, OrderStatus.Paid);

// The form without a schema is unchanged: the payload is unknown.
b.addCallback(
  OrderStatus.Created,
  async (_run, payload) => {
    // @ts-expect-error An unvalidated payload must be narrowed first.
    void payload.approver;
    return OrderStatus.Paid;
  },
  OrderStatus.Paid,
);

// trigger's initialValue is the schema's output type.
declare const wf: ReturnType<typeof b.build>;
async function triggerIsTyped(): Promise<void> {
  await wf.trigger("o-1", { initialValue: { id: "o-1", amount: 10, currency: "EUR" } });
  // @ts-expect-error amount must be a number.
  await wf.trigger("o-1", { initialValue: { id: "o-1", amount: "10", currency: "EUR" } });
  const run: Run<z.output<typeof Order>, OrderStatus> = await wf.await("o-1", "run-1", OrderStatus.Shipped);
  void run;
}
void triggerIsTyped;

// valibot infers the same way.
const Claim = v.object({ amount: v.number(), approver: v.optional(v.string()) });
const claims = Builder.withSchema("claims", OrderStatus, Claim);
claims.addStep(
  OrderStatus.Created,
  async (run) => {
    const amount: number = run.object.amount;
    // @ts-expect-error approver is a string when present.
    run.object.approver = amount;
    return OrderStatus.Paid;
  },
  OrderStatus.Paid,
);
claims.addCallback(
  OrderStatus.Created,
  { payload: v.object({ approver: v.string() }) },
  async (run, payload) => {
    run.object.approver = payload.approver;
    return OrderStatus.Paid;
  },
  OrderStatus.Paid,
);

// A schema that turns its input into another type could not validate its own output again,
// which is what each step's object is: it does not compile.
// @ts-expect-error The schema must accept its own output.
Builder.withSchema("parsed", OrderStatus, z.object({ amount: z.string().transform(Number) }));
// @ts-expect-error The same rule with valibot.
Builder.withSchema("parsed", OrderStatus, v.object({ amount: v.pipe(v.string(), v.transform(Number)) }));
