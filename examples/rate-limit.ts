// A step that calls a partner API allowing 5 calls per 200 ms, backing off further after each
// failed call. The other step (archiving) is not limited and runs at full speed meanwhile.
import { Builder, type Logger } from "stepwise";
import { memory } from "stepwise/memory";

enum Delivery { Unknown = 0, Queued = 1, Sent = 2, Archived = 3 }
type Message = { to: string };

const callsAt: number[] = [];
const failed = new Set<string>();
const b = new Builder<Message, Delivery>("notifications", Delivery);
b.addStep(Delivery.Queued, async (run) => {
  callsAt.push(Date.now());
  // The partner API answers 503 to the first call for every tenth message.
  if (run.object.to.endsWith("0") && !failed.has(run.object.to)) {
    failed.add(run.object.to);
    throw new Error(`503 from the partner API for ${run.object.to}`);
  }
  return Delivery.Sent;
}, Delivery.Sent).withOptions({
  // Retries are calls too: they take their turn within the limit.
  rateLimit: { max: 5, perMs: 200 },
  // Up to 50 ms after the first error in a row, up to 100 ms after the second, … never over 2 s.
  errBackOff: { initial: 50, max: 2_000 },
});
b.addStep(Delivery.Sent, async () => Delivery.Archived, Delivery.Archived);

const logger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (message) => console.warn(message),
  error: (message) => console.log(`retrying later: ${message}`),
};
const adapters = memory();
const wf = b.build({ ...adapters, logger });
await wf.run();
try {
  const ids = Array.from({ length: 20 }, (_, i) => `message-${i}`);
  const runIds = await Promise.all(ids.map((to) => wf.trigger(to, { initialValue: { to } })));
  await Promise.all(runIds.map((runId, i) => wf.await(ids[i]!, runId, Delivery.Archived)));
  const firstMs = callsAt[0]!;
  const perWindow: number[] = [];
  for (const atMs of callsAt) {
    const window = Math.floor((atMs - firstMs) / 200);
    perWindow[window] = (perWindow[window] ?? 0) + 1;
  }
  console.log(`sent ${ids.length} messages with ${callsAt.length} calls; calls per 200 ms: ${Array.from(perWindow, (n) => n ?? 0).join(", ")}`);
} finally {
  await wf.stop();
  await adapters.close();
}
