// Live progress for the demo: per-status counts, a bar and a rate, redrawn in place on a
// terminal and printed as plain lines, at most once a second, anywhere else.

export interface Snapshot {
  /** Runs per status name. */
  counts: ReadonlyMap<string, number>;
  finished: number;
  total: number;
}

export class Progress {
  readonly #out: NodeJS.WriteStream;
  readonly #startedAt = Date.now();
  #drawnLines = 0;
  #lastPlainAt = 0;

  constructor(out: NodeJS.WriteStream) {
    this.#out = out;
  }

  /** Shows the snapshot; `force` prints a plain line even if one was printed within the second. */
  show(snapshot: Snapshot, force = false): void {
    const seconds = (Date.now() - this.#startedAt) / 1000;
    const rate = seconds > 0 ? snapshot.finished / seconds : 0;
    const statuses = [...snapshot.counts].map(([name, count]) => `${name} ${count}`).join("  ");
    if (this.#out.isTTY) {
      const width = Math.max(10, Math.min(40, (this.#out.columns ?? 80) - 40));
      const filled = snapshot.total > 0 ? Math.round((snapshot.finished / snapshot.total) * width) : 0;
      const lines = [
        `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${snapshot.finished}/${snapshot.total} finished, ${rate.toFixed(0)}/s`,
        `  ${statuses}`,
      ];
      // Move up over what was drawn last time and draw again.
      if (this.#drawnLines > 0) this.#out.write(`\x1b[${this.#drawnLines}A`);
      for (const line of lines) this.#out.write(`\x1b[2K${line}\n`);
      this.#drawnLines = lines.length;
      return;
    }
    if (!force && Date.now() - this.#lastPlainAt < 1000) return;
    this.#lastPlainAt = Date.now();
    this.#out.write(`${snapshot.finished}/${snapshot.total} finished (${rate.toFixed(0)}/s): ${statuses}\n`);
  }
}
