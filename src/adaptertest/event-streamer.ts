import assert from "node:assert/strict";
import type { Event, EventReceiver, EventSender, EventStreamer, Headers, ReceiverOptions } from "../event.js";
import type { ConformanceCase } from "./case.js";
import { withScope, type Defer } from "./scope.js";
import { uniqueName } from "./unique-name.js";
import { settle, within } from "./within.js";

/**
 * The behaviour every {@link EventStreamer} must show. `make` is called once per case for a fresh
 * streamer; cases use their own topics and receiver names, so a streamer that keeps state between
 * cases (a real broker) passes too.
 *
 * @example
 * ```ts
 * for (const c of eventStreamerCases(async () => new MyStreamer(conn))) test(`mine: ${c.name}`, c.run);
 * ```
 */
export function eventStreamerCases(make: () => Promise<EventStreamer>): ConformanceCase[] {
  /** A streamer plus helpers that close whatever the case opens. */
  async function open(defer: Defer) {
    const streamer = await make();
    return {
      async sender(topic: string): Promise<EventSender> {
        const sender = await streamer.newSender(topic);
        defer(() => sender.close());
        return sender;
      },
      async receiver(topic: string, name: string, options?: ReceiverOptions): Promise<EventReceiver> {
        const receiver = await streamer.newReceiver(topic, name, options);
        defer(() => receiver.close());
        return receiver;
      },
    };
  }

  return [
    {
      name: "event streamer: sent events arrive in order with their foreign id, type and headers",
      run: () =>
        withScope(async (defer) => {
          const s = await open(defer);
          const topic = uniqueName("topic");
          const receiver = await s.receiver(topic, uniqueName("receiver"));
          const sender = await s.sender(topic);
          const sent: { foreignId: string; type: number; headers: Headers }[] = [
            { foreignId: "order-1", type: 1, headers: { run_id: "r-1", note: "first" } },
            { foreignId: "order-2", type: 2, headers: { run_id: "r-2" } },
            { foreignId: "order-1", type: 3, headers: {} },
          ];
          for (const e of sent) await sender.send(e.foreignId, e.type, e.headers);

          const ids = new Set<string>();
          for (const [i, want] of sent.entries()) {
            const { event, ack } = await next(receiver, `event ${i + 1} of ${sent.length}`);
            assert.equal(event.foreignId, want.foreignId, `event ${i + 1}: foreign id`);
            assert.equal(event.type, want.type, `event ${i + 1}: type`);
            assert.deepEqual({ ...event.headers }, want.headers, `event ${i + 1}: headers`);
            assert.ok(event.createdAt instanceof Date && !Number.isNaN(event.createdAt.getTime()), "createdAt is a valid Date");
            assert.ok(typeof event.id === "string" && event.id !== "", "event id is a non-empty string");
            ids.add(event.id);
            await ack();
          }
          assert.equal(ids.size, sent.length, "every event has its own id");
        }),
    },
    {
      name: "event streamer: receivers with different names each get every event",
      run: () =>
        withScope(async (defer) => {
          const s = await open(defer);
          const topic = uniqueName("topic");
          const first = await s.receiver(topic, uniqueName("first"));
          const second = await s.receiver(topic, uniqueName("second"));
          const sender = await s.sender(topic);
          for (const id of ["a", "b", "c"]) await sender.send(id, 1, {});

          for (const [label, receiver] of [["first", first], ["second", second]] as const) {
            const got = await takeForeignIds(receiver, 3, `the ${label} receiver`);
            assert.deepEqual(got, ["a", "b", "c"], `the ${label} receiver gets every event in order`);
          }
        }),
    },
    {
      name: "event streamer: a new receiver with the same name resumes after the last acked event",
      run: () =>
        withScope(async (defer) => {
          const s = await open(defer);
          const topic = uniqueName("topic");
          const name = uniqueName("group");
          const sender = await s.sender(topic);
          const before = await s.receiver(topic, name);
          for (const id of ["a", "b", "c"]) await sender.send(id, 1, {});

          const a = await next(before, "the first event");
          assert.equal(a.event.foreignId, "a");
          await a.ack();
          const b = await next(before, "the second event");
          assert.equal(b.event.foreignId, "b");
          await before.close(); // b is left un-acked, as after a crash mid-step

          const after = await s.receiver(topic, name);
          const again = await next(after, "the un-acked event, delivered again");
          assert.equal(again.event.foreignId, "b", "the un-acked event is delivered again");
          assert.equal(again.event.id, b.event.id, "with the same id");
          await again.ack();
          const c = await next(after, "the event after the re-delivered one");
          assert.equal(c.event.foreignId, "c");
          await c.ack();
        }),
    },
    {
      name: "event streamer: streamFromLatest skips earlier events only for a name without a position",
      run: () =>
        withScope(async (defer) => {
          const s = await open(defer);
          const topic = uniqueName("topic");
          const known = uniqueName("known");
          const sender = await s.sender(topic);

          const first = await s.receiver(topic, known);
          await sender.send("a", 1, {});
          const a = await next(first, "the first event on the known name");
          assert.equal(a.event.foreignId, "a");
          await a.ack();
          await first.close();
          await sender.send("b", 1, {});

          const fresh = await s.receiver(topic, uniqueName("fresh"), { streamFromLatest: true });
          const resumed = await s.receiver(topic, known, { streamFromLatest: true });
          await sender.send("c", 1, {});

          const c = await next(fresh, "the first event on a new name streaming from latest");
          assert.equal(c.event.foreignId, "c", "a new name streaming from latest skips earlier events");
          await c.ack();
          const b = await next(resumed, "the next event on a name that has a position");
          assert.equal(b.event.foreignId, "b", "a name with a position resumes there, ignoring streamFromLatest");
          await b.ack();
        }),
    },
    {
      name: "event streamer: an ephemeral receiver leaves nothing behind once closed: a new receiver of the same name starts afresh",
      run: () =>
        withScope(async (defer) => {
          const s = await open(defer);
          const topic = uniqueName("topic");
          const name = uniqueName("ephemeral");
          const sender = await s.sender(topic);
          for (const id of ["a", "b"]) await sender.send(id, 1, {});

          const first = await s.receiver(topic, name, { ephemeral: true });
          assert.deepEqual(await takeForeignIds(first, 2, "the first ephemeral receiver"), ["a", "b"]);
          await first.close();

          const again = await s.receiver(topic, name, { ephemeral: true });
          const a = await next(again, "the first event on a second ephemeral receiver of the same name");
          assert.equal(a.event.foreignId, "a", "an ephemeral receiver does not resume where the last one of its name left off");
          await again.close();

          const durable = await s.receiver(topic, name);
          const fromStart = await next(durable, "the first event on a durable receiver of the same name");
          assert.equal(fromStart.event.foreignId, "a", "an ephemeral receiver stores no position for its name");
          await fromStart.ack();
        }),
    },
    {
      name: "event streamer: ephemeral receivers of one name open at once each get every event",
      run: () =>
        withScope(async (defer) => {
          const s = await open(defer);
          const topic = uniqueName("topic");
          const name = uniqueName("ephemeral");
          const sender = await s.sender(topic);
          await sender.send("early", 1, {});
          const first = await s.receiver(topic, name, { ephemeral: true, streamFromLatest: true });
          const second = await s.receiver(topic, name, { ephemeral: true, streamFromLatest: true });
          for (const id of ["a", "b"]) await sender.send(id, 1, {});

          for (const [label, receiver] of [["first", first], ["second", second]] as const) {
            const got = await takeForeignIds(receiver, 2, `the ${label} ephemeral receiver`);
            assert.deepEqual(got, ["a", "b"], `the ${label} ephemeral receiver starts at the end and gets every later event`);
          }
        }),
    },
    {
      name: "event streamer: a new name without streamFromLatest reads events sent before it",
      run: () =>
        withScope(async (defer) => {
          const s = await open(defer);
          const topic = uniqueName("topic");
          const sender = await s.sender(topic);
          await sender.send("early", 1, {});
          const receiver = await s.receiver(topic, uniqueName("late"));
          const { event, ack } = await next(receiver, "the event sent before the receiver existed");
          assert.equal(event.foreignId, "early");
          await ack();
        }),
    },
    {
      name: "event streamer: recv rejects with the signal's reason when it aborts",
      run: () =>
        withScope(async (defer) => {
          const s = await open(defer);
          const topic = uniqueName("topic");
          const receiver = await s.receiver(topic, uniqueName("receiver"));

          const controller = new AbortController();
          defer(() => controller.abort());
          const reason = new Error("stop waiting");
          const waiting = receiver.recv(controller.signal);
          await settle();
          controller.abort(reason);
          await within(
            "recv to reject after its signal aborted",
            assert.rejects(waiting, (err) => err === reason, "recv rejects with the signal's reason"),
          );

          const alreadyAborted = AbortSignal.abort(reason);
          await within(
            "recv with an aborted signal to reject",
            assert.rejects(receiver.recv(alreadyAborted), (err) => err === reason, "recv with an aborted signal rejects"),
          );

          // The aborted waits took nothing: the next event still arrives.
          await (await s.sender(topic)).send("after-abort", 1, {});
          const { event, ack } = await next(receiver, "an event sent after the aborted recv calls");
          assert.equal(event.foreignId, "after-abort");
          await ack();
        }),
    },
    {
      name: "event streamer: a waiting receiver gets an event sent after it started waiting",
      run: () =>
        withScope(async (defer) => {
          const s = await open(defer);
          const topic = uniqueName("topic");
          const receiver = await s.receiver(topic, uniqueName("receiver"));
          const sender = await s.sender(topic);

          const waiting = within("the event sent while recv was waiting", (signal) => receiver.recv(signal));
          // Handled here too, so that a failing send below does not leave this rejection unobserved.
          waiting.catch(() => undefined);
          await settle();
          await sender.send("pushed", 7, { k: "v" });
          const { event, ack } = await waiting;
          assert.equal(event.foreignId, "pushed");
          assert.equal(event.type, 7);
          await ack();
        }),
    },
    {
      name: "event streamer: topics are isolated",
      run: () =>
        withScope(async (defer) => {
          const s = await open(defer);
          const topicA = uniqueName("topic-a");
          const topicB = uniqueName("topic-b");
          const name = uniqueName("receiver"); // the same name on both topics must not share a position
          const onA = await s.receiver(topicA, name);
          const onB = await s.receiver(topicB, name);
          const toA = await s.sender(topicA);
          const toB = await s.sender(topicB);

          await toA.send("a-1", 1, {});
          await toB.send("b-1", 1, {});
          await toB.send("b-2", 1, {});

          const b1 = await next(onB, "the first event on topic B");
          assert.equal(b1.event.foreignId, "b-1", "topic B does not see topic A's event");
          await b1.ack();
          const b2 = await next(onB, "the second event on topic B");
          assert.equal(b2.event.foreignId, "b-2");
          await b2.ack();
          const a1 = await next(onA, "the event on topic A");
          assert.equal(a1.event.foreignId, "a-1", "topic A keeps its event, unaffected by acks on topic B");
          await a1.ack();
        }),
    },
    {
      name: "event streamer: recv hands out the next events before the earlier ones are acked, and in-order acks keep the position",
      run: () =>
        withScope(async (defer) => {
          const s = await open(defer);
          const topic = uniqueName("topic");
          const name = uniqueName("window");
          const sender = await s.sender(topic);
          const first = await s.receiver(topic, name);
          for (const id of ["a", "b", "c", "d"]) await sender.send(id, 1, {});

          // A consumer working on several events at once takes them before acking any.
          const a = await next(first, "the first event");
          const b = await next(first, "the second event, with the first un-acked");
          const c = await next(first, "the third event, with two un-acked");
          assert.deepEqual([a, b, c].map((d) => d.event.foreignId), ["a", "b", "c"]);
          await a.ack();
          await b.ack();
          await first.close(); // c is left un-acked

          const second = await s.receiver(topic, name);
          const again = await next(second, "the first un-acked event, delivered again");
          assert.equal(again.event.foreignId, "c");
          await again.ack();
          const d = await next(second, "the event after it");
          assert.equal(d.event.foreignId, "d");
          await d.ack();
        }),
    },
    {
      name: "event streamer: 500 events arrive exactly once each, in order",
      run: () =>
        withScope(async (defer) => {
          const s = await open(defer);
          const topic = uniqueName("topic");
          const receiver = await s.receiver(topic, uniqueName("receiver"));
          const sender = await s.sender(topic);
          const count = 500;
          const want = Array.from({ length: count }, (_, i) => `f-${i}`);
          for (const foreignId of want) await sender.send(foreignId, 1, {});
          // A sentinel after the batch: if anything were delivered twice, it would come before this.
          await sender.send("sentinel", 2, {});

          const got: string[] = [];
          const ids = new Set<string>();
          for (let i = 0; i < count; i++) {
            const { event, ack } = await next(receiver, `event ${i + 1} of ${count}`);
            got.push(event.foreignId);
            ids.add(event.id);
            await ack();
          }
          assert.deepEqual(got, want, "every event once, in send order");
          assert.equal(ids.size, count, "distinct ids");
          const last = await next(receiver, "the sentinel after the batch");
          assert.equal(last.event.foreignId, "sentinel", "nothing is delivered twice");
          await last.ack();
        }),
    },
  ];
}

/** Receives and acks `count` events, returning their foreign ids in the order they came. */
async function takeForeignIds(receiver: EventReceiver, count: number, label: string): Promise<string[]> {
  const got: string[] = [];
  for (let i = 0; i < count; i++) {
    const { event, ack } = await next(receiver, `event ${i + 1} of ${count} on ${label}`);
    got.push(event.foreignId);
    await ack();
  }
  return got;
}

function next(receiver: EventReceiver, what: string): Promise<{ event: Event; ack: () => Promise<void> }> {
  return within(what, (signal) => receiver.recv(signal));
}
