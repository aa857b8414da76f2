import type { Adapters } from "../adapters.js";
import type { EventReceiver, EventStreamer } from "../event.js";
import { assertRejectsWithCode } from "./assert-code.js";
import type { ConformanceCase } from "./case.js";
import { withScope } from "./scope.js";
import { uniqueName } from "./unique-name.js";
import { within } from "./within.js";

/** What {@link bundleCases} checks: a bundle's parts and `close()`; etcd's has no streamer. */
export type Bundle = Omit<Adapters, "eventStreamer"> & { eventStreamer?: EventStreamer };

/**
 * The behaviour every bundle function must show: `close()` ends what the bundle opened (a receiver
 * left open rejects with code CLOSED), never the user's client or pool, and a second `close()`
 * does nothing more. `make` is called once per case for a fresh bundle on the user's client;
 * `userClientStillWorks` throws unless that client still answers.
 *
 * @example
 * ```ts
 * for (const c of bundleCases(async () => postgres({ pool }), async () => void (await pool.query("SELECT 1")))) {
 *   test(`postgres: ${c.name}`, c.run);
 * }
 * ```
 */
export function bundleCases(make: () => Promise<Bundle>, userClientStillWorks: () => Promise<void>): ConformanceCase[] {
  return [
    {
      name: "bundle: close() ends a receiver left open, and the user's client still works",
      run: () =>
        withScope(async (defer) => {
          const bundle = await make();
          defer(() => bundle.close());
          let receiver: EventReceiver | undefined;
          if (bundle.eventStreamer) {
            const topic = uniqueName("topic");
            receiver = await bundle.eventStreamer.newReceiver(topic, uniqueName("receiver"));
            const sender = await bundle.eventStreamer.newSender(topic);
            defer(() => sender.close());
            await sender.send("order-1", 1, {});
            const open = receiver;
            const { ack } = await within("the event sent before close()", (signal) => open.recv(signal));
            await ack();
          }
          const { roleScheduler } = bundle;
          if (roleScheduler) {
            const lease = await within("a free role", (signal) => roleScheduler.await(uniqueName("role"), signal));
            await lease.release();
          }
          await bundle.close();
          const closed = receiver;
          if (closed) await assertRejectsWithCode(within("recv after close()", (signal) => closed.recv(signal)), "CLOSED", "recv after the bundle closed");
          await userClientStillWorks();
        }),
    },
    {
      name: "bundle: a second close() is a no-op",
      run: async () => {
        const bundle = await make();
        await bundle.close();
        await bundle.close();
        await userClientStillWorks();
      },
    },
  ];
}
