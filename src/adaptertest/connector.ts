import assert from "node:assert/strict";
import type { ConnectorConstructor, ConnectorConsumer, ConnectorEvent } from "../connector.js";
import type { Delivery } from "../event.js";
import type { ConformanceCase } from "./case.js";
import { withScope, type Defer } from "./scope.js";
import { uniqueName } from "./unique-name.js";
import { settle, within } from "./within.js";

/**
 * The behaviour every {@link ConnectorConstructor} must show. `make(events)` is called once per
 * case and must return a connector whose external stream holds exactly `events`, in that order
 * (for a broker: publish them to a fresh topic first). Cases use their own event ids and consumer
 * names, and never add events after `make`, so a connector over a real broker passes too.
 *
 * Times are whole milliseconds, the precision brokers such as Kafka keep.
 *
 * @example
 * ```ts
 * for (const c of connectorCases(async (events) => new MyConnector(await publishToFreshTopic(events)))) {
 *   test(`mine: ${c.name}`, c.run);
 * }
 * ```
 */
export function connectorCases(make: (events: ConnectorEvent[]) => Promise<ConnectorConstructor>): ConformanceCase[] {
  /** A connector over `events`, plus a helper that closes whatever consumer the case makes. */
  async function open(defer: Defer, events: ConnectorEvent[]) {
    const connector = await make(events);
    return {
      async consumer(name: string): Promise<ConnectorConsumer> {
        const consumer = await connector.make(name);
        defer(() => consumer.close());
        return consumer;
      },
    };
  }

  return [
    {
      name: "connector: events arrive in order with their id, foreign id, type, headers and creation time",
      run: () =>
        withScope(async (defer) => {
          const events = newEvents(3, [{ source: "payments", note: "first" }, {}, { source: "payments" }]);
          const c = await open(defer, events);
          const consumer = await c.consumer(uniqueName("consumer"));

          for (const [i, want] of events.entries()) {
            const { event, ack } = await next(consumer, `event ${i + 1} of ${events.length}`);
            assert.equal(event.id, want.id, `event ${i + 1}: id`);
            assert.equal(event.foreignId, want.foreignId, `event ${i + 1}: foreign id`);
            assert.equal(event.type, want.type, `event ${i + 1}: type`);
            assert.deepEqual({ ...event.headers }, want.headers, `event ${i + 1}: headers`);
            assert.ok(event.createdAt instanceof Date, `event ${i + 1}: createdAt is a Date`);
            assert.equal(event.createdAt.getTime(), want.createdAt.getTime(), `event ${i + 1}: createdAt`);
            await ack();
          }
        }),
    },
    {
      name: "connector: a new consumer with the same name resumes after the last acked event",
      run: () =>
        withScope(async (defer) => {
          const events = newEvents(3);
          const c = await open(defer, events);
          const name = uniqueName("group");

          const before = await c.consumer(name);
          const first = await next(before, "the first event");
          assert.equal(first.event.id, events[0]?.id);
          await first.ack();
          const second = await next(before, "the second event");
          assert.equal(second.event.id, events[1]?.id);
          await before.close(); // the second is left un-acked, as after a crash mid-handler

          const after = await c.consumer(name);
          const again = await next(after, "the un-acked event, delivered again");
          assert.equal(again.event.id, events[1]?.id, "the un-acked event is delivered again, and the acked one is not");
          await again.ack();
          const third = await next(after, "the event after the re-delivered one");
          assert.equal(third.event.id, events[2]?.id);
          await third.ack();
        }),
    },
    {
      name: "connector: consumers with different names each get every event",
      run: () =>
        withScope(async (defer) => {
          const events = newEvents(3);
          const c = await open(defer, events);
          const ids = events.map((e) => e.id);

          // The second name is made only after the first acked everything: a name's acks must not
          // move another name's position.
          for (const label of ["first", "second"]) {
            const consumer = await c.consumer(uniqueName(label));
            const got: string[] = [];
            for (let i = 0; i < events.length; i++) {
              const { event, ack } = await next(consumer, `event ${i + 1} on the ${label} consumer`);
              got.push(event.id);
              await ack();
            }
            assert.deepEqual(got, ids, `the ${label} consumer gets every event in order`);
          }
        }),
    },
    {
      name: "connector: recv rejects with the signal's reason when it aborts",
      run: () =>
        withScope(async (defer) => {
          const events = newEvents(1);
          const c = await open(defer, events);
          const consumer = await c.consumer(uniqueName("consumer"));
          const only = await next(consumer, "the only event");
          await only.ack();

          const controller = new AbortController();
          defer(() => controller.abort());
          const reason = new Error("stop waiting");
          const waiting = consumer.recv(controller.signal);
          // Handled here too, so that a failure before the assertion leaves no unobserved rejection.
          waiting.catch(() => undefined);
          await settle();
          controller.abort(reason);
          await within(
            "recv to reject after its signal aborted",
            assert.rejects(waiting, (err) => err === reason, "recv rejects with the signal's reason"),
          );

          await within(
            "recv with an aborted signal to reject",
            assert.rejects(consumer.recv(AbortSignal.abort(reason)), (err) => err === reason, "recv with an aborted signal rejects"),
          );
        }),
    },
    {
      name: "connector: a waiting recv stays waiting while the stream has nothing new",
      run: () =>
        withScope(async (defer) => {
          const events = newEvents(2);
          const c = await open(defer, events);
          const consumer = await c.consumer(uniqueName("consumer"));
          for (const [i, want] of events.entries()) {
            const { event, ack } = await next(consumer, `event ${i + 1} of ${events.length}`);
            assert.equal(event.id, want.id);
            await ack();
          }

          const controller = new AbortController();
          defer(() => controller.abort());
          let outcome: string | undefined;
          const waiting = consumer.recv(controller.signal).then(
            ({ event }) => {
              outcome = `resolved with event ${event.id}`;
            },
            (err: unknown) => {
              outcome = `rejected with ${String(err)}`;
            },
          );
          await settle();
          assert.equal(outcome, undefined, "recv neither resolves nor rejects with every event acked and nothing new");
          controller.abort(new Error("the case is over"));
          await within("the waiting recv to end once its signal aborted", waiting);
          assert.match(outcome ?? "", /^rejected/, "the waiting recv ends by rejecting");
        }),
    },
  ];
}

/**
 * `count` events with unique ids and foreign ids, distinct types and creation times a second
 * apart (whole milliseconds), and the given headers (none by default).
 */
function newEvents(count: number, headers: { [key: string]: string }[] = []): ConnectorEvent[] {
  const start = Date.parse("2026-01-01T00:00:00.000Z");
  return Array.from({ length: count }, (_, i) => ({
    id: uniqueName(`event-${i + 1}`),
    foreignId: uniqueName(`foreign-${i + 1}`),
    type: `type-${i + 1}`,
    headers: headers[i] ?? {},
    createdAt: new Date(start + i * 1000),
  }));
}

function next(consumer: ConnectorConsumer, what: string): Promise<Delivery<ConnectorEvent>> {
  return within(what, (signal) => consumer.recv(signal));
}
