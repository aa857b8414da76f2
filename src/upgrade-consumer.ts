import { topicConsumers } from "./consumer.js";
import type { WorkflowContext } from "./context.js";
import { ErrorCount } from "./error-count.js";
import type { Event } from "./event.js";
import { roleName, snakeCase } from "./graph.js";
import { currentRecordFor } from "./lookup.js";
import { resolveOptions } from "./options.js";
import type { ProcessSpec } from "./process.js";
import type { Record } from "./record.js";
import { isSkip, type SkipReason } from "./skip.js";
import { topic } from "./topic.js";
import { upgradedRecord, writeUnlessSuperseded } from "./update.js";
import { isOlderVersion, type UpgradeDefinition } from "./upgrade.js";

/**
 * The upgraded next version of a run of an older version, to be stored; a failing upgrade (an
 * object map that throws, a status the map lacks, an object the schema refuses) is an error of the
 * run, retried and counted toward `pauseAfterErrCount` like a step's.
 */
export async function upgradeOrFail<T>(ctx: WorkflowContext<T>, record: Record, signal: AbortSignal, errors: ErrorCount<T>): Promise<Record | undefined> {
  let next: Record;
  try {
    next = await upgradedRecord(ctx, record);
  } catch (err) {
    if (signal.aborted) throw err;
    await errors.failed(record, err);
    return undefined;
  }
  errors.reset(record.runId);
  return next;
}

/**
 * Consumers of the status topics of older versions that no step of this one consumes (a status the
 * new graph removed, or whose number now means a status without a step): each upgrades the runs
 * still waiting there, so they move to the status their upgrade maps them to. They share the role
 * (and so the durable receiver) of the old step consumer of that status, so an old process and a
 * new one never both take one event: the new process carries on where the old one's acks stopped.
 * Once an old topic is empty they wait on it at the cost of an idle receiver.
 */
export function upgradeProcesses<T>(ctx: WorkflowContext<T>, stepStatuses: ReadonlySet<number>): ProcessSpec<Event>[] {
  // A number in several old enums is consumed once, named as the newest of them names it.
  const byStatus = new Map<number, UpgradeDefinition>();
  for (const upgrade of [...ctx.upgrades.values()].sort((a, b) => a.fromVersion - b.fromVersion)) {
    for (const status of upgrade.names.keys()) byStatus.set(status, upgrade);
  }
  return [...byStatus]
    .filter(([status]) => !stepStatuses.has(status))
    .flatMap(([status, upgrade]) => {
      const name = snakeCase(upgrade.names.get(status) ?? String(status));
      const options = resolveOptions(ctx.defaultOptions, upgrade.options, "never");
      const errors = new ErrorCount(ctx, options.pauseAfterErrCount, `upgrade from version ${upgrade.fromVersion}`);
      return topicConsumers(ctx, {
        topic: topic(ctx.name, status),
        name: `${name}-upgrade-consumer`,
        role: roleName(ctx.name, status, "consumer"),
        options,
        sharded: true,
        handle: (event, signal) => upgradeWaiting(ctx, status, event, signal, errors),
      });
    });
}

async function upgradeWaiting<T>(ctx: WorkflowContext<T>, status: number, event: Event, signal: AbortSignal, errors: ErrorCount<T>): Promise<SkipReason | undefined> {
  const record = await currentRecordFor(ctx, event);
  if (isSkip(record)) return record;
  // A run of this version waiting in the status (a callback's) has nothing to upgrade.
  if (!isOlderVersion(ctx, record)) return "filtered_out";
  if (record.status !== status) return "status_mismatch";
  const next = await upgradeOrFail(ctx, record, signal, errors);
  if (next) await writeUnlessSuperseded(ctx, record, next);
  return undefined;
}
