import assert from "node:assert/strict";
import { test } from "node:test";
import { Builder, topic, type Delivery, type Event, type EventReceiver, type EventStreamer } from "stepwise";
import { memory } from "stepwise/memory";
import { until } from "./support/until.js";
import { Status, type Item } from "./support/workflows.js";

/**
 * The streamer, with the receivers of `watched` handing out their first event twice, as an engine
 * redelivers a message whose ack is late; `log` records each hand-out and each ack.
 */
function redeliveringFirst(streamer: EventStreamer, watched: string, log: string[]): EventStreamer {
  return {
    newSender: (name) => streamer.newSender(name),
    newReceiver: async (name, receiverName, opts) => {
      const receiver = await streamer.newReceiver(name, receiverName, opts);
      if (name !== watched) return receiver;
      let first: Delivery<Event> | undefined;
      let copied = false;
      const labelled = (delivery: Delivery<Event>, label: string): Delivery<Event> => {
        log.push(`handed ${label}`);
        return { event: delivery.event, ack: () => (log.push(`acked ${label}`), delivery.ack()) };
      };
      const redelivering: EventReceiver = {
        recv: async (signal) => {
          log.push("recv");
          if (first && !copied) {
            copied = true;
            return labelled(first, "copy");
          }
          const delivery = await receiver.recv(signal);
          first ??= delivery;
          return labelled(delivery, delivery === first ? "first" : delivery.event.id);
        },
        close: () => receiver.close(),
      };
      return redelivering;
    },
  };
}

test("a redelivered event still pending is acked only after the first delivery's work is stored", async () => {
  const log: string[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let calls = 0;
  const b = new Builder<Item, Status>("redelivered", Status);
  b.addStep(
    Status.Created,
    async (run) => {
      calls++;
      log.push("step started");
      await released;
      run.object.count++;
      log.push("step done");
      return Status.Done;
    },
    Status.Done,
  );
  const adapters = memory();
  const wf = b.build({ ...adapters, eventStreamer: redeliveringFirst(adapters.eventStreamer, topic("redelivered", Status.Created), log) });
  try {
    await wf.run();
    const runId = await wf.trigger("r-1", { initialValue: { id: "r-1", count: 0 } });
    // The copy is taken in and the process has asked for more, with the step still at work.
    await until("the copy to be handed out and the step to start", () => log.includes("handed copy") && log.includes("step started"));
    await until("the process to ask for the next event", () => log.lastIndexOf("recv") > log.indexOf("handed copy"));
    assert.ok(!log.some((line) => line.startsWith("acked")), `nothing acked while the step works: ${log.join(", ")}`);
    release();
    const done = await wf.await("r-1", runId, Status.Done);
    assert.equal(done.object.count, 1);
    await until("both deliveries to be acked", () => log.includes("acked first") && log.includes("acked copy"));
    assert.equal(calls, 1, "the copy was not handled again");
    assert.ok(log.indexOf("step done") < log.indexOf("acked copy"), `the copy acked after the work: ${log.join(", ")}`);
    assert.ok(log.indexOf("acked first") < log.indexOf("acked copy"), "acks in receive order");
  } finally {
    release();
    await wf.stop();
  }
});
