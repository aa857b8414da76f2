import assert from "node:assert/strict";
import { test } from "node:test";
import { pino } from "pino";
import { Builder, type Logger } from "stepwise";
import { quietLogger } from "./support/logger.js";
import { memory } from "stepwise/memory";
import { until } from "./support/until.js";
import { Status, type Item } from "./support/workflows.js";

type Line = { message: string; meta: { readonly [key: string]: unknown } };

function recordingLogger(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  return { lines, logger: { ...quietLogger, debug: (message, meta = {}) => void lines.push({ message, meta }) } };
}

/** Created → Processed → Done, where the first attempt at Processed throws once. */
function flakyLine(logger: Logger, debug: boolean) {
  let failed = false;
  const b = new Builder<Item, Status>("debugged", Status);
  b.addStep(Status.Created, async () => Status.Processed, Status.Processed);
  b.addStep(
    Status.Processed,
    async () => {
      if (!failed) {
        failed = true;
        throw new Error("once");
      }
      return Status.Done;
    },
    Status.Done,
  ).withOptions({ errBackOff: 1 });
  return b.build({ ...memory(), logger, debug });
}

test("debug: true logs launches, roles, events consumed and skipped, transitions, back-offs and shutdowns", async () => {
  const { logger, lines } = recordingLogger();
  const wf = flakyLine(logger, true);
  try {
    await wf.run();
    const runId = await wf.trigger("d-1", { initialValue: { id: "d-1", count: 0 } });
    await wf.await("d-1", runId, Status.Done);
  } finally {
    await wf.stop();
  }
  const messages = new Set(lines.map((l) => l.message));
  for (const expected of ["process launched", "role taken", "event consumed", "run written", "backing off", "process shut down"]) {
    assert.ok(messages.has(expected), `a "${expected}" line`);
  }
  const launched = lines.filter((l) => l.message === "process launched").map((l) => l.meta.process);
  assert.ok(launched.includes("created-consumer-1-of-1") && launched.includes("delete-consumer"));
  const written = lines.filter((l) => l.message === "run written").map((l) => l.meta.status);
  assert.deepEqual(written, ["Created", "Processed", "Done"]);
  const backOff = lines.find((l) => l.message === "backing off");
  assert.equal(backOff?.meta.process, "processed-consumer-1-of-1");
  const consumed = lines.find((l) => l.message === "event consumed" && l.meta.process === "created-consumer-1-of-1");
  assert.equal(consumed?.meta.runId, runIdOf(lines));
});

test("debug lines name the reason an event was skipped", async () => {
  const { logger, lines } = recordingLogger();
  const b = new Builder<Item, Status>("debug-skips", Status);
  b.addStep(Status.Created, async (run) => run.skip(), Status.Done);
  const wf = b.build({ ...memory(), logger, debug: true });
  try {
    await wf.run();
    await wf.trigger("d-2", { initialValue: { id: "d-2", count: 0 } });
    await waitForLine(lines, (l) => l.message === "event skipped");
  } finally {
    await wf.stop();
  }
  const skipped = lines.find((l) => l.message === "event skipped");
  assert.equal(skipped?.meta.reason, "step_skipped");
  assert.equal(skipped?.meta.process, "created-consumer-1-of-1");
});

test("without debug, a custom logger gets no debug line", async () => {
  const { logger, lines } = recordingLogger();
  const wf = flakyLine(logger, false);
  try {
    await wf.run();
    const runId = await wf.trigger("d-3", { initialValue: { id: "d-3", count: 0 } });
    await wf.await("d-3", runId, Status.Done);
  } finally {
    await wf.stop();
  }
  assert.deepEqual(lines, []);
});

function runIdOf(lines: Line[]): unknown {
  return lines.find((l) => l.message === "run written")?.meta.runId;
}

async function waitForLine(lines: Line[], match: (line: Line) => boolean): Promise<void> {
  await until("the debug line", () => lines.some(match));
}

type PinoLine = { level: number; msg: string };

/** Runs one run of the flaky line with a real pino logger at level debug, and returns what pino wrote. */
async function pinoLines(foreignId: string, debug: boolean): Promise<PinoLine[]> {
  const written: PinoLine[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void written.push(JSON.parse(line) as PinoLine) });
  const wf = flakyLine(logger, debug);
  try {
    await wf.run();
    const runId = await wf.trigger(foreignId, { initialValue: { id: foreignId, count: 0 } });
    await wf.await(foreignId, runId, Status.Done);
  } finally {
    await wf.stop();
  }
  return written;
}

test("a pino logger passes as it is: a failing step is logged as an error naming the process and the error", async () => {
  const written = await pinoLines("d-4", false);
  const errors = written.filter((line) => line.level === pino.levels.values.error);
  assert.equal(errors.length, 1, "one error line for the one failed attempt");
  assert.match(errors[0]?.msg ?? "", /processed-consumer-1-of-1 .*Error: once/);
  assert.ok(!written.some((line) => line.level === pino.levels.values.debug), "no debug line without debug: true");
});

test("with debug: true, a pino logger at level debug gets the debug lines", async () => {
  const written = await pinoLines("d-5", true);
  const debugMessages = new Set(written.filter((line) => line.level === pino.levels.values.debug).map((line) => line.msg));
  for (const expected of ["process launched", "event consumed", "run written", "backing off"]) assert.ok(debugMessages.has(expected), `a "${expected}" line`);
});
