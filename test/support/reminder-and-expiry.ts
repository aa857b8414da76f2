import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Builder, durationTimer, type BuildConfig } from "stepwise";
import { FakeClock } from "stepwise/testing";
import { until } from "./until.js";

enum Order {
  Unknown = 0,
  Created = 1,
  Expired = 2,
}
type Cart = { id: string };

const hour = 60 * 60_000;
const pollingFrequency = 10;

/**
 * Runs one order through a status with two timeouts on the adapters `make` builds: a reminder
 * after an hour that leaves the run where it is (`run.skip()`) and an expiry after a day. Each
 * must fire exactly once, and neither may be left behind. The caller closes what `make` opened.
 */
export async function reminderThenExpiry(make: (clock: FakeClock) => BuildConfig<Cart>): Promise<void> {
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const name = `reminder-and-expiry-${randomBytes(4).toString("hex")}`;
  const reminded: string[] = [];
  const expired: string[] = [];
  const b = new Builder<Cart, Order>(name, Order);
  b.addTimeout(
    Order.Created,
    durationTimer(hour),
    async (run) => {
      reminded.push(run.runId);
      return run.skip();
    },
    Order.Expired,
  ).withOptions({ pollingFrequency });
  b.addTimeout(
    Order.Created,
    durationTimer(24 * hour),
    async (run) => {
      expired.push(run.runId);
      return Order.Expired;
    },
    Order.Expired,
  ).withOptions({ pollingFrequency });
  const adapters = make(clock);
  const timeoutStore = adapters.timeoutStore;
  assert.ok(timeoutStore, "the adapters have a timeout store");
  const wf = b.build({ ...adapters, clock });
  // A poll may be in flight on a real database when the clock jumps, and it then sleeps until the
  // next poll: so each check also moves the clock on by one poll, as a running clock would.
  const ticking = (condition: () => Promise<boolean>) => async () => {
    if (await condition()) return true;
    clock.advance(pollingFrequency);
    return false;
  };
  try {
    await wf.run();
    const runId = await wf.trigger("o-1", { initialValue: { id: "o-1" } });
    await until("both timeouts inserted", async () => (await timeoutStore.list(name)).length === 2);

    clock.advance(hour);
    await until("the reminder", ticking(async () => reminded.length === 1));
    const waiting = await adapters.recordStore.lookup(runId);
    assert.equal(waiting.status, Order.Created, "the reminder leaves the run waiting");
    await until("the reminder's timeout completed", async () => (await timeoutStore.list(name)).length === 1);
    assert.equal((await timeoutStore.list(name))[0]?.index ?? 0, 1, "the expiry is left");

    clock.advance(23 * hour);
    await until("the expiry", ticking(async () => (await adapters.recordStore.lookup(runId)).status === Order.Expired));
    await until("the expiry's timeout completed", async () => (await timeoutStore.list(name)).length === 0);
    assert.deepEqual(reminded, [runId], "the reminder fired once");
    assert.deepEqual(expired, [runId], "the expiry fired once");
  } finally {
    await wf.stop();
  }
}
