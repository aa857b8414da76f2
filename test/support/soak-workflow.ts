// The soak's workflows (npm run soak, test/soak.test.ts): every kind of handler stepwise has, each
// applying a side effect recorded in `Effects`.
//   order:   Created --step reserve--> Reserved --timeout expire--> AwaitingPayment
//            --connected to payment's Settled--> Paid --step ship--> Shipped (terminal)
//   payment: Started --step authorise--> Authorised --callback settle--> Settled (terminal)
// The callback comes from `settleWaiting`, which a worker calls in a loop as the payment service
// would: it settles the payments whose order waits in AwaitingPayment, so the payment's Settled
// event never reaches the connection before its order is there to take it.
import { Builder, durationTimer, type BuildConfig, type Run } from "stepwise";
import type { Effects } from "./effects.js";
import type { Item } from "./workflows.js";

/** The line's item, so that one worker's adapters serve either workflow; `count` stays 0. */
type SoakItem = Item;

export enum OrderStatus {
  Unknown = 0,
  Created = 1,
  Reserved = 2,
  AwaitingPayment = 3,
  Paid = 4,
  Shipped = 5,
}

export enum PaymentStatus {
  Unknown = 0,
  Started = 1,
  Authorised = 2,
  Settled = 3,
}


/** The workflow names, so a driver can count their runs. */
export const soakNames = { order: "soak-order", payment: "soak-payment" } as const;

/**
 * The versions each workflow's handlers see, in order, when every transition is stored once: the
 * trigger stores version 1 and each handler's transition one more.
 */
export const soakVersions = {
  [soakNames.order]: { handlers: ["reserve", "expire", "pay", "ship"], final: 5 },
  [soakNames.payment]: { handlers: ["authorise", "settle"], final: 3 },
} as const;

interface SoakOptions {
  config?: Partial<BuildConfig<SoakItem>>;
  parallelCount?: number;
  /** How long a reserved order waits for its timeout. */
  timeoutMs?: number;
}

/** The two workflows on `adapters`, with their effects kept in `effects`. */
export function soakWorkflowsOn(adapters: BuildConfig<SoakItem>, effects: Effects, options: SoakOptions = {}) {
  const stepOptions = { parallelCount: options.parallelCount ?? 2, errBackOff: 50 };
  const apply = (run: Run<SoakItem, number>, handler: string) => effects.apply(run.runId, handler, run.meta.version);
  /** A handler that applies its effect, then moves the run to `to`. */
  const applying =
    <To extends number>(handler: string, to: To) =>
    async (run: Run<SoakItem, number>): Promise<To> => {
      await apply(run, handler);
      return to;
    };

  const payments = new Builder<SoakItem, PaymentStatus>(soakNames.payment, PaymentStatus);
  payments
    .addStep(PaymentStatus.Started, applying("authorise", PaymentStatus.Authorised), PaymentStatus.Authorised)
    .withOptions(stepOptions);
  payments.addCallback(PaymentStatus.Authorised, applying("settle", PaymentStatus.Settled), PaymentStatus.Settled);

  const orders = new Builder<SoakItem, OrderStatus>(soakNames.order, OrderStatus);
  orders
    .addStep(OrderStatus.Created, applying("reserve", OrderStatus.Reserved), OrderStatus.Reserved)
    .withOptions(stepOptions);
  orders.addTimeout(
    OrderStatus.Reserved,
    durationTimer(options.timeoutMs ?? 20),
    applying("expire", OrderStatus.AwaitingPayment),
    OrderStatus.AwaitingPayment,
  );
  orders
    .connectWorkflow<PaymentStatus>({
      workflowName: soakNames.payment,
      status: PaymentStatus.Settled,
      streamer: adapters.eventStreamer,
      from: OrderStatus.AwaitingPayment,
      to: OrderStatus.Paid,
      filter: (event) => event.foreignId,
      consumer: async (run) => {
        await apply(run, "pay");
        return true;
      },
    })
    .withOptions(stepOptions);
  orders
    .addStep(OrderStatus.Paid, applying("ship", OrderStatus.Shipped), OrderStatus.Shipped)
    .withOptions(stepOptions);

  const config = { ...adapters, ...options.config };
  const order = orders.build(config);
  const payment = payments.build(config);

  /**
   * Settles the payment of each order waiting for it (at most `limit`); returns how many it settled.
   * Throws an AggregateError of the calls that failed, once every payment was tried: one failure
   * (a fault) leaves only its own payment for the next round.
   */
  const settleWaiting = async (limit = 200): Promise<number> => {
    const { runs } = await order.list({ status: OrderStatus.AwaitingPayment, limit });
    let settled = 0;
    const failures: unknown[] = [];
    for (const run of runs) {
      try {
        if ((await payment.callback(run.foreignId, PaymentStatus.Authorised, null)).handled) settled++;
      } catch (err) {
        // Another worker's callback won the race for the same version; its settle stands.
        if ((err as { code?: string }).code !== "VERSION_CONFLICT") failures.push(err);
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, `${failures.length} of ${runs.length} waiting payments failed to settle`);
    return settled;
  };

  /**
   * Starts run `id` of both workflows. An id started before (by a worker killed before it answered
   * for its batch) is left as it is, even finished: a second run of it would be a second order.
   */
  const trigger = async (id: string): Promise<void> => {
    for (const wf of [order, payment] as const) {
      try {
        await wf.latest(id);
        continue;
      } catch (err) {
        if ((err as { code?: string }).code !== "RECORD_NOT_FOUND") throw err;
      }
      try {
        await wf.trigger(id, { initialValue: { id, count: 0 } });
      } catch (err) {
        if ((err as { code?: string }).code !== "WORKFLOW_IN_PROGRESS") throw err;
      }
    }
  };

  return { order, payment, settleWaiting, trigger };
}
