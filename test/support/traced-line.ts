import { Builder, type BuildConfig } from "stepwise";

export enum Checkout {
  Unknown = 0,
  Created = 1,
  Paid = 2,
  Shipped = 3,
}

export type Basket = { id: string };

/** Created → Paid → Shipped, then a hook on completion, for the trace tests that span two processes. */
export function tracedLine(config: BuildConfig<Basket>) {
  const b = new Builder<Basket, Checkout>("traced-checkout", Checkout);
  b.addStep(Checkout.Created, async () => Checkout.Paid, Checkout.Paid);
  b.addStep(Checkout.Paid, async () => Checkout.Shipped, Checkout.Shipped);
  b.onComplete(async () => {});
  // Events polled every 20 ms: the other process's writes wake no receiver here.
  return b.build({ ...config, defaultOptions: { pollingFrequency: 20 } });
}
