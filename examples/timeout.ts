// A run that is not confirmed in time is expired by a timeout.
import { Builder, durationTimer } from "stepwise";
import { memory } from "stepwise/memory";

enum Booking { Unknown = 0, Held = 1, Confirmed = 2, Expired = 3 }
type Seat = { seat: string; expiredAt?: string };

const b = new Builder<Seat, Booking>("bookings", Booking);
b.addCallback(Booking.Held, async () => Booking.Confirmed, Booking.Confirmed);
b.addTimeout(Booking.Held, durationTimer(200), async (run, now) => {
  run.object.expiredAt = now.toISOString();
  return Booking.Expired;
}, Booking.Expired).withOptions({ pollingFrequency: 50 });

const adapters = memory();
const wf = b.build(adapters);
await wf.run();
try {
  const confirmed = await wf.trigger("seat-1A", { initialValue: { seat: "1A" } });
  const forgotten = await wf.trigger("seat-1B", { initialValue: { seat: "1B" } });
  await wf.callback("seat-1A", Booking.Held, null);
  console.log(`1A: ${Booking[(await wf.await("seat-1A", confirmed, Booking.Confirmed)).status]}`);
  const expired = await wf.await("seat-1B", forgotten, Booking.Expired);
  console.log(`1B: ${Booking[expired.status]} at ${expired.object.expiredAt}`);
} finally {
  await wf.stop();
  await adapters.close();
}
