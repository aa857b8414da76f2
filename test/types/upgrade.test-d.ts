// Type rules of versioned workflows (Builder.upgrade), checked by `tsc --noEmit` in `npm test`:
// each @ts-expect-error line must fail to compile, and every other line must compile.
import { Builder, type StatusMap } from "stepwise";

// Version 1 charged in cents and had a Packing status; version 2 charges in units and drops it.
// Numbers are reused: 3 was Packing and is now Shipped.
enum V1Status {
  Unknown = 0,
  Created = 1,
  Charged = 2,
  Packing = 3,
  Shipped = 4,
}
type V1Order = { id: string; cents: number };

enum OrderStatus {
  Unknown = 0,
  Created = 1,
  Charged = 2,
  Shipped = 3,
}
type Order = { id: string; amount: number };

const b = new Builder<Order, OrderStatus>("orders", OrderStatus, { version: 2 });

// Every member of the old enum but Unknown, by name, to a status of this version.
b.upgrade(1, V1Status, {
  object: (old: V1Order) => ({ id: old.id, amount: old.cents / 100 }),
  status: { Created: OrderStatus.Created, Charged: OrderStatus.Charged, Packing: OrderStatus.Charged, Shipped: OrderStatus.Shipped },
});

// Naming both old types instead of annotating the parameter.
b.upgrade<V1Order, typeof V1Status>(1, V1Status, {
  object: (old) => ({ id: old.id, amount: old.cents / 100 }),
  status: { Created: OrderStatus.Created, Charged: OrderStatus.Charged, Packing: OrderStatus.Charged, Shipped: OrderStatus.Shipped },
});

b.upgrade(1, V1Status, {
  object: (old: V1Order) => ({ id: old.id, amount: old.cents / 100 }),
  // @ts-expect-error Packing is left out: a run waiting there would have nowhere to go.
  status: { Created: OrderStatus.Created, Charged: OrderStatus.Charged, Shipped: OrderStatus.Shipped },
});

b.upgrade(1, V1Status, {
  object: (old: V1Order) => ({ id: old.id, amount: old.cents / 100 }),
  // @ts-expect-error The 0 member is no status a run can be in.
  status: { Unknown: OrderStatus.Created, Created: OrderStatus.Created, Charged: OrderStatus.Charged, Packing: OrderStatus.Charged, Shipped: OrderStatus.Shipped },
});

b.upgrade(1, V1Status, {
  object: (old: V1Order) => ({ id: old.id, amount: old.cents / 100 }),
  // @ts-expect-error Statuses map to this version's enum: 4 is no OrderStatus.
  status: { Created: OrderStatus.Created, Charged: OrderStatus.Charged, Packing: OrderStatus.Charged, Shipped: 4 },
});

b.upgrade(1, V1Status, {
  // @ts-expect-error The last upgrade must make the builder's object type.
  object: (old: V1Order) => ({ id: old.id, cents: old.cents }),
  status: { Created: OrderStatus.Created, Charged: OrderStatus.Charged, Packing: OrderStatus.Charged, Shipped: OrderStatus.Shipped },
});

// Naming only the old object type compiles; the compiler cannot see the old enum then, so build()
// checks the status map (test/upgrade-build.test.ts).
b.upgrade<V1Order>(1, V1Status, {
  object: (old) => ({ id: old.id, amount: old.cents / 100 }),
  status: { Created: OrderStatus.Created, Charged: OrderStatus.Charged, Packing: OrderStatus.Charged, Shipped: OrderStatus.Shipped },
});

// A version-3 builder chains: the first upgrade names the types of version 2, the second maps to its own.
enum V3Status {
  Unknown = 0,
  Created = 1,
  Shipped = 2,
}
type V3Order = { id: string; amount: number; currency: string };
const b3 = new Builder<V3Order, V3Status>("orders", V3Status, { version: 3 });
b3.upgrade<V1Order, typeof V1Status, Order, OrderStatus>(1, V1Status, {
  object: (old) => ({ id: old.id, amount: old.cents / 100 }),
  status: { Created: OrderStatus.Created, Charged: OrderStatus.Charged, Packing: OrderStatus.Charged, Shipped: OrderStatus.Shipped },
});
b3.upgrade(2, OrderStatus, {
  object: (old: Order) => ({ ...old, currency: "EUR" }),
  status: { Created: V3Status.Created, Charged: V3Status.Created, Shipped: V3Status.Shipped },
});
b3.upgrade<V1Order, typeof V1Status, Order, OrderStatus>(1, V1Status, {
  object: (old) => ({ id: old.id, amount: old.cents / 100 }),
  // @ts-expect-error An intermediate upgrade maps to the statuses of the version it names.
  status: { Created: V3Status.Created, Charged: OrderStatus.Charged, Packing: OrderStatus.Charged, Shipped: OrderStatus.Shipped },
});

// An enum-like object works as well as an enum.
const Legacy = { Unknown: 0, Open: 1, Closed: 2 } as const;
b.upgrade(1, Legacy, { object: (old: Order) => old, status: { Open: OrderStatus.Created, Closed: OrderStatus.Shipped } });
const legacyMap: StatusMap<typeof Legacy, OrderStatus> = { Open: OrderStatus.Created, Closed: OrderStatus.Shipped };
void legacyMap;
// @ts-expect-error Closed is left out.
const incomplete: StatusMap<typeof Legacy, OrderStatus> = { Open: OrderStatus.Created };
void incomplete;
