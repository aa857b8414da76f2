import { BuildError, InvalidStatusError, MalformedRecordError, NewerWorkflowVersionError } from "./errors.js";
import type { Graph, StatusEnum } from "./graph.js";
import type { ProcessOptions } from "./options.js";

/**
 * Where each status of an older version goes: every member of its enum but the 0 member, by name,
 * to a status of the next version. Leaving a member out, or naming one the enum lacks, does not
 * compile.
 */
export type StatusMap<OldEnum, NewS extends number> = {
  readonly [K in keyof OldEnum as OldEnum[K] extends 0 ? never : K]: NewS;
};

/**
 * How a run written by one version of a workflow becomes a run of the next: its object, and its
 * status by the old enum's member names (numbers may mean something else in the next version).
 */
export interface UpgradeMap<OldT, OldEnum, NewT, NewS extends number> {
  object: (old: OldT) => NewT;
  status: StatusMap<OldEnum, NewS>;
}

/**
 * The map of `upgrade<OldT>(…)`, given only the old object type: TypeScript then cannot know the
 * old enum's type, so `build()` checks the status map. Without that type argument (`OldT` left
 * `unknown`) nothing fits the status map, so the compiler reports an incomplete map of an
 * inferred call against the other overload's status map.
 */
export interface UpgradeMapNamingOnlyOldT<OldT, NewT, NewS extends number> {
  object: (old: unknown extends OldT ? never : OldT) => NewT;
  status: unknown extends OldT ? { readonly [name: string]: never } : { readonly [name: string]: NewS };
}

/** Options of `new Builder(name, statusEnum, options)`. */
export interface BuilderOptions {
  /**
   * The version of this definition, a whole number from 1 (the default). Every run it writes says
   * so in `meta.workflowVersion`; runs of older versions are upgraded with the builder's
   * `upgrade()` maps before they are handled, and runs of newer ones are left to newer processes.
   */
  version?: number;
}

/** One `Builder.upgrade()`, checked and in the engine's terms: numbers to numbers. */
export interface UpgradeDefinition {
  /** The version whose runs this upgrade takes to `fromVersion + 1`. */
  fromVersion: number;
  /** The old enum's names of its statuses, for process names and messages. */
  names: ReadonlyMap<number, string>;
  /** Old status → status of the next version. */
  status: ReadonlyMap<number, number>;
  object: (old: unknown) => unknown;
  /** Options of the consumers that upgrade runs waiting in old statuses no step consumes. */
  options: ProcessOptions;
}

/** The version a builder is given, checked: a whole number from 1. */
export function checkedVersion(workflowName: string, version: unknown): number {
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
    throw new BuildError(`workflow "${workflowName}": version must be a whole number from 1, got ${String(version)}`);
  }
  return version;
}

/**
 * The upgrade in the engine's terms, or the problems found with it: a version outside 1 to
 * `version - 1`, or a status map that leaves out a member of the old enum, names one it lacks, or
 * maps to something that is not a status (JavaScript callers have no compiler to catch these).
 */
export function upgradeDefinition(
  version: number,
  fromVersion: number,
  oldStatusEnum: StatusEnum,
  map: { object: (old: never) => unknown; status: { readonly [name: string]: number } },
): UpgradeDefinition | BuildError {
  const where = `upgrade(${String(fromVersion)}, …)`;
  if (!Number.isInteger(fromVersion) || fromVersion < 1 || fromVersion >= version) {
    return new BuildError(`${where}: fromVersion must be a whole number from 1 to ${version - 1} (the builder's version minus one)`);
  }
  if (typeof map.object !== "function") return new BuildError(`${where}: object must be a function from the old object to the new`);
  const members = enumMembers(oldStatusEnum);
  const names = new Map<number, string>();
  const status = new Map<number, number>();
  for (const [name, old] of members) {
    if (old === 0) continue;
    const to = map.status[name];
    if (to === undefined) return new BuildError(`${where}: the status map leaves out ${name}; map every status of version ${fromVersion}`);
    if (!Number.isInteger(to) || to <= 0) return new BuildError(`${where}: ${name} maps to ${String(to)}, which is not a status`);
    names.set(old, name);
    status.set(old, to);
  }
  const unknown = Object.keys(map.status).find((name) => !members.has(name) || members.get(name) === 0);
  if (unknown !== undefined) return new BuildError(`${where}: the status map names ${unknown}, which the old enum lacks`);
  return { fromVersion, names, status, object: map.object as (old: unknown) => unknown, options: {} };
}

/**
 * Checks that the upgrades chain from version 1 to `version`: one per older version, each mapping
 * to statuses the next version has (this graph's for the last one, the next upgrade's old enum's
 * before that).
 */
export function checkUpgradeChain(workflowName: string, version: number, upgrades: ReadonlyMap<number, UpgradeDefinition>, graph: Graph): BuildError | undefined {
  for (let from = 1; from < version; from++) {
    const upgrade = upgrades.get(from);
    if (!upgrade) {
      return new BuildError(`workflow "${workflowName}" is version ${version} but has no upgrade(${from}, …): runs of version ${from} could not be read`);
    }
    const next = upgrades.get(from + 1);
    for (const [old, to] of upgrade.status) {
      const known = next ? next.names.has(to) : graph.has(to);
      if (!known) {
        const target = next ? `version ${from + 1}'s status enum (the one given to upgrade(${from + 1}, …))` : "this workflow's graph";
        return new BuildError(`upgrade(${from}, …): ${upgrade.names.get(old) ?? old} maps to ${to}, which ${target} lacks`);
      }
    }
  }
  return undefined;
}

/** What the chain of upgrades needs to know about a workflow: its version and its upgrades. */
export interface Versioned {
  readonly version: number;
  readonly upgrades: ReadonlyMap<number, UpgradeDefinition>;
}

/** Whether a run is of an older version than the workflow's, so it is upgraded before it is handled. */
export function isOlderVersion(workflow: Versioned, record: { meta: { workflowVersion: number } }): boolean {
  return record.meta.workflowVersion < workflow.version;
}

/**
 * Throws NewerWorkflowVersionError for a run written by a newer version of the workflow: nothing
 * in this definition may read its object or status.
 */
export function checkNotNewer(workflow: Versioned, record: { runId: string; meta: { workflowVersion: number } }): void {
  const { workflowVersion } = record.meta;
  if (workflowVersion > workflow.version) throw new NewerWorkflowVersionError(record.runId, workflowVersion, workflow.version);
}

/**
 * The status of this version that a run of an older version is in: the old status mapped by each
 * upgrade from the run's version on, by the meaning the number had in the version that wrote it.
 */
export function upgradedStatus(workflow: Versioned, record: { runId: string; status: number; meta: { workflowVersion: number } }): number {
  let status = record.status;
  for (const upgrade of chainFrom(workflow, record)) {
    const next = upgrade.status.get(status);
    if (next === undefined) {
      throw new InvalidStatusError(status, `run "${record.runId}" of version ${upgrade.fromVersion} is in it, but upgrade(${upgrade.fromVersion}, …) maps no such status`);
    }
    status = next;
  }
  return status;
}

/** The status of this version a run of it or of an older version is in. */
export function currentStatus(workflow: Versioned, record: { runId: string; status: number; meta: { workflowVersion: number } }): number {
  return isOlderVersion(workflow, record) ? upgradedStatus(workflow, record) : record.status;
}

/** A run's object of an older version, passed through each upgrade's object map from the run's version on. */
export function upgradedObject(workflow: Versioned, record: { runId: string; meta: { workflowVersion: number } }, object: unknown): unknown {
  let upgraded = object;
  for (const upgrade of chainFrom(workflow, record)) upgraded = upgrade.object(upgraded);
  return upgraded;
}

/** The upgrades that take a run of its version to the workflow's, in order. */
function chainFrom(workflow: Versioned, record: { runId: string; meta: { workflowVersion: number } }): UpgradeDefinition[] {
  const chain: UpgradeDefinition[] = [];
  for (let version = record.meta.workflowVersion; version < workflow.version; version++) {
    const upgrade = workflow.upgrades.get(version);
    // build() makes sure every version from 1 has one; only a row edited by hand gets here.
    if (!upgrade) throw new MalformedRecordError(record.runId, `workflow version ${version} is not one this workflow upgrades from`);
    chain.push(upgrade);
  }
  return chain;
}

/** An enum object's members, name to number: a numeric enum's reverse entries (number to name) left out. */
function enumMembers(statusEnum: StatusEnum): Map<string, number> {
  const members = new Map<string, number>();
  for (const [name, value] of Object.entries(statusEnum)) {
    if (typeof value === "number") members.set(name, value);
  }
  return members;
}
