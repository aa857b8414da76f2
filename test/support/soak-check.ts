// The soak's verdict on the stored runs (bench/soak.ts): versions skipped or repeated, and
// effects applied again, read from the record store and the effects kept beside it.
import { RunState, type Record, type RecordStore } from "stepwise";
import type { Effect, Effects } from "./effects.js";
import { soakNames, soakVersions } from "./soak-workflow.js";

/** Every record of `workflowName`, a page at a time. */
export async function allRecords(store: RecordStore, workflowName: string): Promise<Record[]> {
  const records: Record[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await store.list({ workflowName, offset, limit: 1000, order: "asc" });
    records.push(...page);
    if (page.length < 1000) return records;
  }
}

/**
 * The records whose stored versions skip or repeat, judged three ways (see bench/soak.ts's header),
 * and the effects applied again after their transition was stored.
 *
 * Workers may still be moving runs while this reads (runs left unfinished at the bound), so the
 * records are read first, then the effects, then the events: a handler applies its effect before
 * its transition is stored, so every transition in the records read has its effect in the later
 * read of the effects. Read the other way round, a transition stored between the two reads looks
 * like a handler that never ran. The events of a transition commit with its record, so a later read
 * of the events may carry versions past the record's, but never skip or repeat one.
 */
export async function checkVersions(
  store: RecordStore,
  effects: Effects,
  eventVersions?: () => Promise<Map<string, number[]>>,
): Promise<{ versionGaps: number; duplicates: number; retries: number; detail: string[] }> {
  const records = new Map<string, Record[]>();
  for (const workflowName of [soakNames.order, soakNames.payment]) records.set(workflowName, await allRecords(store, workflowName));
  const byRun = new Map<string, Map<string, Effect>>();
  let duplicates = 0;
  let retries = 0;
  for (const effect of await effects.all()) {
    duplicates += effect.duplicates;
    retries += effect.retries;
    const handlers = byRun.get(effect.runId) ?? new Map<string, Effect>();
    handlers.set(effect.handler, effect);
    byRun.set(effect.runId, handlers);
  }
  const events = await eventVersions?.();
  let versionGaps = 0;
  const detail: string[] = [];
  for (const workflowName of [soakNames.order, soakNames.payment]) {
    const expected = soakVersions[workflowName];
    for (const record of records.get(workflowName) ?? []) {
      const version = record.meta.version;
      const seen = byRun.get(record.runId);
      const problems: string[] = [];
      if (record.runState === RunState.Completed && version !== expected.final) problems.push(`final version ${version}, not ${expected.final}`);
      expected.handlers.forEach((handler, i) => {
        const effect = seen?.get(handler);
        if (effect && effect.version !== i + 1) problems.push(`${handler} saw version ${effect.version}, not ${i + 1}`);
        if (!effect && i + 1 < version) problems.push(`${handler} never ran, yet the run is at version ${version}`);
      });
      if (events) {
        const kept = (events.get(record.runId) ?? []).sort((a, b) => a - b);
        if (kept.length < version || kept.some((v, i) => v !== i + 1)) problems.push(`events carry versions [${kept.join(",")}] for version ${version}`);
      }
      if (problems.length > 0) {
        versionGaps++;
        if (detail.length < 20) detail.push(`${workflowName} ${record.foreignId} ${record.runId}: ${problems.join("; ")}`);
      }
    }
  }
  return { versionGaps, duplicates, retries, detail };
}
