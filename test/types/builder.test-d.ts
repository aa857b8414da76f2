// Type rules of the builder, checked by `tsc --noEmit` in `npm test`: each @ts-expect-error line
// must fail to compile, and every other line must compile.
import { Builder, type BuildConfig, type Control, type Event, type EventStreamer, type Run } from "stepwise";

enum OrderStatus {
  Unknown = 0,
  Created = 1,
  Paid = 2,
  Shipped = 3,
  Failed = 4,
}
type Order = { id: string; amount: number; receipt?: string };

const b = new Builder<Order, OrderStatus>("order-processing", OrderStatus);

// Declared destinations and control results compile; the run is typed without annotations.
b.addStep(
  OrderStatus.Created,
  async (run) => {
    const amount: number = run.object.amount;
    if (amount <= 0) return OrderStatus.Failed;
    if (amount > 1000) return run.pause("too large");
    if (amount === 7) return run.skip();
    if (amount === 8) return run.cancel("unlucky");
    if (amount === 9) return run.saveAndRepeat();
    return OrderStatus.Paid;
  },
  OrderStatus.Paid,
  OrderStatus.Failed,
);

b.addStep(
  OrderStatus.Paid,
  // @ts-expect-error Shipped is not declared: TypeScript flags the function, not the return line.
  async (run) => (run.object.amount > 100 ? OrderStatus.Failed : OrderStatus.Shipped),
  OrderStatus.Failed,
);

// @ts-expect-error A step must declare at least one destination.
b.addStep(OrderStatus.Shipped, async () => OrderStatus.Failed);

b.addStep(
  OrderStatus.Failed,
  // @ts-expect-error A hand-made object is not a control result.
  async () => ({ kind: "skip" }),
  OrderStatus.Created,
);

b.addStep(
  OrderStatus.Created,
  async (run) => {
    // @ts-expect-error The object's fields keep their types.
    run.object.amount = "ten";
    return OrderStatus.Paid;
  },
  OrderStatus.Paid,
);

// Callbacks follow the same rule.
b.addCallback(OrderStatus.Created, async (_run, payload) => (payload === "ok" ? OrderStatus.Paid : OrderStatus.Failed), OrderStatus.Paid, OrderStatus.Failed);
// @ts-expect-error Shipped is not declared for this callback.
b.addCallback(OrderStatus.Created, async () => OrderStatus.Shipped, OrderStatus.Paid);

// `await` hands back the typed run.
declare const wf: ReturnType<typeof b.build>;
async function awaitIsTyped(): Promise<void> {
  const run: Run<Order, OrderStatus> = await wf.await("o-1", "run-1", OrderStatus.Shipped);
  const receipt: string | undefined = run.object.receipt;
  void receipt;
  // @ts-expect-error Statuses come from the workflow's enum.
  await wf.await("o-1", "run-1", 42);
  // @ts-expect-error initialValue must be an Order.
  await wf.trigger("o-1", { initialValue: { id: 1 } });
}
void awaitIsTyped;

const isControlResult = (value: Control): Control => value;
void isControlResult;

// connectWorkflow checks the other workflow's status against the type it is given.
enum PaymentStatus {
  Unknown = 0,
  Started = 1,
  Settled = 2,
}
declare const streamer: EventStreamer;
const connection = {
  workflowName: "payments",
  streamer,
  from: OrderStatus.Created,
  to: OrderStatus.Paid,
  filter: (event: Event) => event.foreignId,
  consumer: async () => true,
};
b.connectWorkflow<PaymentStatus>({ ...connection, status: PaymentStatus.Settled });
// @ts-expect-error 999 is no PaymentStatus.
b.connectWorkflow<PaymentStatus>({ ...connection, status: 999 });
// @ts-expect-error Without the other workflow's status type, no status is accepted.
b.connectWorkflow({ ...connection, status: 2 });

// trigger needs an initialValue when an empty object is not a valid object.
async function triggerNeedsAnObject(): Promise<void> {
  await wf.trigger("o-2", { initialValue: { id: "o-2", amount: 5 } });
  // @ts-expect-error An Order has required fields, so {} would lie about its type.
  await wf.trigger("o-2");
  // @ts-expect-error Options without initialValue are refused too.
  await wf.trigger("o-2", { startAt: OrderStatus.Created });
  const loose = new Builder<{ note?: string }, OrderStatus>("loose", OrderStatus).build({} as BuildConfig<{ note?: string }>);
  await loose.trigger("l-1");
}
void triggerNeedsAnObject;

// A step, callback or timeout that only pauses, cancels or skips names no destination.
b.addStep(OrderStatus.Shipped, async (run) => run.pause("inspect by hand"));
b.addCallback(OrderStatus.Shipped, async (run) => run.cancel("returned"));
b.addTimeout(OrderStatus.Shipped, (_run, now) => now, async (run) => run.cancel("lost in transit"));
// @ts-expect-error Without destinations, returning a status does not compile.
b.addTimeout(OrderStatus.Shipped, (_run, now) => now, async () => OrderStatus.Failed);
