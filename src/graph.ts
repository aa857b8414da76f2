import { encodedName } from "./topic.js";

/** The enum object a Builder may be given: TypeScript numeric enums map names to numbers and back. */
export type StatusEnum = { readonly [name: string]: string | number };

/** A workflow's statuses, their names and the transitions between them. */
export class Graph {
  readonly #names = new Map<number, string>();
  readonly #transitions = new Map<number, Set<number>>();
  readonly #statuses = new Set<number>();
  #start: number | undefined;

  constructor(statusEnum?: StatusEnum) {
    for (const [name, value] of Object.entries(statusEnum ?? {})) {
      if (typeof value === "number") this.#names.set(value, name);
    }
  }

  /** Records `from → to` for each destination; the first `from` ever added becomes the start. */
  addTransitions(from: number, to: readonly number[]): void {
    this.#start ??= from;
    this.#statuses.add(from);
    const destinations = this.#transitions.get(from) ?? new Set<number>();
    for (const status of to) {
      destinations.add(status);
      this.#statuses.add(status);
    }
    this.#transitions.set(from, destinations);
  }

  get start(): number | undefined {
    return this.#start;
  }

  /** Every status the graph mentions, in the order first seen. */
  get statuses(): readonly number[] {
    return [...this.#statuses];
  }

  has(status: number): boolean {
    return this.#statuses.has(status);
  }

  destinations(from: number): ReadonlySet<number> {
    return this.#transitions.get(from) ?? new Set();
  }

  /**
   * A status nothing consumes (no step, callback, timeout or connection from it): reaching it
   * completes the run. A status whose consumer only pauses or cancels is not terminal.
   */
  isTerminal(status: number): boolean {
    return !this.#transitions.has(status);
  }

  /** The enum member's name, or the number when the builder had no enum. */
  statusName(status: number): string {
    return this.#names.get(status) ?? String(status);
  }

  /** The name in snake case, as process names use it (`CellphoneNumberSubmitted` → `cellphone_number_submitted`). */
  processName(status: number): string {
    return snakeCase(this.statusName(status));
  }
}

export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .replace(/[\s-]+/g, "_")
    .toLowerCase();
}

/**
 * Roles are shared by every workflow on a RoleScheduler: the encoded workflow name, then the parts
 * (status numbers, the engine's own lower-case words, and names users chose passed through
 * `encodedName`), joined by `-`. Encoding keeps two workflows from ever sharing a role.
 */
export function roleName(workflowName: string, ...parts: (string | number)[]): string {
  return [encodedName(workflowName), ...parts].join("-");
}
