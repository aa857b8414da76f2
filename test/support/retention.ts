import type { EventReceiver, EventSender, EventStreamer } from "stepwise";

/** What the retention scenario has open when it asks the adapter's test to make a trim happen. */
export interface TrimmingParties {
  fast: EventReceiver;
  slow: EventReceiver;
  sender: EventSender;
  signal: AbortSignal;
}

/**
 * The retention scenario every trimming streamer's test runs: durable receivers "fast" and "slow"
 * and an ephemeral one on `topic`; events a, b and c sent; fast acks all three, slow only a, the
 * ephemeral receiver none. Then `trim` makes the streamer trim (however the adapter triggers it),
 * and `left` reports the foreign ids still stored, oldest first. Every receiver is closed at the end.
 */
export async function trimAfterAcks(
  streamer: EventStreamer,
  topic: string,
  trim: (parties: TrimmingParties) => Promise<void>,
  left: () => Promise<string[]>,
): Promise<string[]> {
  const fast = await streamer.newReceiver(topic, "fast");
  const slow = await streamer.newReceiver(topic, "slow");
  const ephemeral = await streamer.newReceiver(topic, "await", { ephemeral: true });
  try {
    const sender = await streamer.newSender(topic);
    for (const id of ["a", "b", "c"]) await sender.send(id, 1, {});
    const signal = AbortSignal.timeout(10_000);
    for (let i = 0; i < 3; i++) await (await fast.recv(signal)).ack();
    await (await slow.recv(signal)).ack();
    await trim({ fast, slow, sender, signal });
    return await left();
  } finally {
    await Promise.all([fast.close(), slow.close(), ephemeral.close()]);
  }
}
