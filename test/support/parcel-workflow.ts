// Two versions of one parcel workflow, for the tests of versioned workflows (test/upgrade.test.ts
// on memory, test/upgrade-deploy.test.ts across processes on SQLite and PostgreSQL).
//
// Version 1: Received --weigh--> Weighed --inspect--> Inspected --label--> Labelled --ship--> Shipped.
// Version 2 drops inspection and labelling (shipping prints the label) and adds delivery:
//            Received --weigh--> Weighed --ship--> Shipped --deliver--> Delivered.
// Numbers are reused with other meanings (3 was Inspected and is Shipped, 4 was Shipped and is
// Delivered) and 5, Labelled, is gone: a run must be upgraded by the version that wrote it.
//
// Each handler applies its effect through `Effects` (test/support/effects.ts), named by what it
// does in either version, so a run weighed by version 1 and again by version 2 shows up as a duplicate.
import { Builder, type BuildConfig, type ProcessOptions } from "stepwise";
import type { Effects } from "./effects.js";

export enum V1Status {
  Unknown = 0,
  Received = 1,
  Weighed = 2,
  Inspected = 3,
  Shipped = 4,
  Labelled = 5,
}

/** A parcel as version 1 keeps it; `holdAt` makes version 1's step of that status fail (see below). */
export type V1Parcel = { id: string; grams: number; marks: string[]; holdAt?: V1Status };

export enum ParcelStatus {
  Unknown = 0,
  Received = 1,
  Weighed = 2,
  Shipped = 3,
  Delivered = 4,
}

export type Parcel = { id: string; kg: number; marks: string[]; tracking?: string };

/** Where each version-1 status goes in version 2. */
export const v1ToV2 = {
  object: (old: V1Parcel): Parcel => ({ id: old.id, kg: old.grams / 1000, marks: [...old.marks, "upgraded"] }),
  status: {
    Received: ParcelStatus.Received,
    Weighed: ParcelStatus.Weighed,
    // Inspection and labels are gone: both wait for version 2's shipping, which prints the label.
    Inspected: ParcelStatus.Weighed,
    Labelled: ParcelStatus.Weighed,
    Shipped: ParcelStatus.Shipped,
  },
};

export interface ParcelOptions {
  name: string;
  effects: Effects;
  stepOptions?: ProcessOptions;
  config?: Partial<BuildConfig<unknown>>;
}

/**
 * Version 1. A run whose `holdAt` is a status fails in that status's step (before its effect), as
 * a step whose downstream service is down would: the event stays un-acked, so the run is left in
 * flight there until another process takes it.
 */
export function parcelWorkflowV1(adapters: BuildConfig<V1Parcel>, options: ParcelOptions) {
  const b = new Builder<V1Parcel, V1Status>(options.name, V1Status);
  const step = (from: V1Status, to: V1Status, handler: string, change: (parcel: V1Parcel) => void) =>
    b
      .addStep(
        from,
        async (run) => {
          if (run.object.holdAt === from) throw new Error(`held at ${V1Status[from]}`);
          await options.effects.apply(run.runId, handler, run.meta.version);
          change(run.object);
          run.object.marks.push(`v1:${handler}`);
          return to;
        },
        to,
      )
      .withOptions(options.stepOptions ?? {});
  step(V1Status.Received, V1Status.Weighed, "weigh", (parcel) => (parcel.grams = parcel.id.length * 100));
  step(V1Status.Weighed, V1Status.Inspected, "inspect", () => {});
  step(V1Status.Inspected, V1Status.Labelled, "label", () => {});
  step(V1Status.Labelled, V1Status.Shipped, "ship", () => {});
  return b.build({ ...adapters, ...(options.config as Partial<BuildConfig<V1Parcel>>) });
}

/** Version 2, upgrading runs of version 1. */
export function parcelWorkflowV2(adapters: BuildConfig<Parcel>, options: ParcelOptions) {
  const b = new Builder<Parcel, ParcelStatus>(options.name, ParcelStatus, { version: 2 });
  b.upgrade(1, V1Status, v1ToV2).withOptions(options.stepOptions?.parallelCount ? { parallelCount: options.stepOptions.parallelCount } : {});
  const step = (from: ParcelStatus, to: ParcelStatus, handler: string, change: (parcel: Parcel) => void) =>
    b
      .addStep(
        from,
        async (run) => {
          await options.effects.apply(run.runId, handler, run.meta.version);
          change(run.object);
          run.object.marks.push(`v2:${handler}`);
          return to;
        },
        to,
      )
      .withOptions(options.stepOptions ?? {});
  step(ParcelStatus.Received, ParcelStatus.Weighed, "weigh", (parcel) => (parcel.kg = parcel.id.length / 10));
  step(ParcelStatus.Weighed, ParcelStatus.Shipped, "ship", (parcel) => (parcel.tracking = `T-${parcel.id}`));
  step(ParcelStatus.Shipped, ParcelStatus.Delivered, "deliver", () => {});
  return b.build({ ...adapters, ...(options.config as Partial<BuildConfig<Parcel>>) });
}
