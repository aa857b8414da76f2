// A run is triggered at every slot of a cron spec; here every second (six fields, seconds first).
import { Builder, RunState } from "stepwise";
import { memory } from "stepwise/memory";
import { waitFor } from "stepwise/testing";

enum Report { Unknown = 0, Requested = 1, Sent = 2 }
type Digest = { sentAt?: string };

const b = new Builder<Digest, Report>("digests", Report);
b.addStep(Report.Requested, async (run, ctx) => {
  run.object.sentAt = ctx.clock.now().toISOString();
  return Report.Sent;
}, Report.Sent);

const adapters = memory();
const wf = b.build(adapters);
await wf.run();
try {
  await wf.schedule("team-digest", "* * * * * *");
  // A slot is skipped while the previous run is still in progress, so runs never overlap.
  await waitFor(wf, "team-digest", (r) => r.runState === RunState.Completed);
  const runs = await adapters.recordStore.list({ workflowName: "digests", limit: 10 });
  console.log(`scheduled runs so far: ${runs.length}, first sent at ${runs[0]?.createdAt.toISOString()}`);
} finally {
  await wf.stop();
  await adapters.close();
}
