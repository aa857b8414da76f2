// Result lines as Markdown tables: readable in a terminal and pasted as is into docs/benchmarks.md.
import type { BenchResult } from "./measure.mjs";

interface Column {
  title: string;
  value(r: BenchResult): string | number | undefined;
}

const field = (title: string, name: string): Column => ({ title, value: (r) => r[name] });
const columns: readonly Column[] = [
  field("runs/s", "runs_per_s"),
  field("transitions/s", "transitions_per_s"),
  field("seq p50 ms", "seq_p50_ms"),
  field("seq p99 ms", "seq_p99_ms"),
  field("peak RSS MB", "rss_mb"),
  field("CPU s", "cpu_s"),
  {
    // The whole machine's CPU in the throughput phase, per run: counts the database or Redis server's work too.
    title: "machine CPU ms/run",
    value: (r) => (typeof r.throughput_machine_cpu_s === "number" ? (1000 * r.throughput_machine_cpu_s) / r.n : undefined),
  },
];
const hopColumns: readonly Column[] = [field("hop p50 ms", "hop_p50_ms"), field("hop p99 ms", "hop_p99_ms")];

function markdown(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${"-".repeat(w + 1)}-` : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

function figure(value: string | number | undefined): string {
  if (typeof value !== "number" || Number.isNaN(value)) return "–";
  if (Number.isInteger(value)) return String(value);
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value >= 0.1 ? value.toFixed(2) : value.toFixed(3);
}

/** One row per system with every figure; the hop columns appear when any system has them. */
export function formatResults(results: readonly BenchResult[]): string {
  const shown = results.some((r) => typeof r.hop_p50_ms === "number") ? [...columns, ...hopColumns] : columns;
  return markdown(
    ["system", ...shown.map((c) => c.title)],
    results.map((r) => [r.system, ...shown.map((c) => figure(c.value(r)))]),
  );
}

function ratio(mine: string | number | undefined, theirs: string | number | undefined): string {
  if (typeof mine !== "number" || typeof theirs !== "number" || theirs === 0) return "–";
  const r = mine / theirs;
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r >= 0.01 ? r.toFixed(2) : r.toPrecision(1)}×`;
}

/**
 * One table: a row per system with its figures, then a row per stepwise backend and peer with
 * each figure of stepwise divided by the peer's. A ratio above 1 favours stepwise for runs/s and
 * transitions/s; below 1 favours it for the rest.
 */
export function formatComparison(stepwise: readonly BenchResult[], peers: readonly BenchResult[]): string {
  const rows = [...stepwise, ...peers].map((r) => [r.system, ...columns.map((c) => figure(c.value(r)))]);
  for (const s of stepwise) {
    for (const p of peers) rows.push([`${s.system} ÷ ${p.system}`, ...columns.map((c) => ratio(c.value(s), c.value(p)))]);
  }
  return markdown(["system", ...columns.map((c) => c.title)], rows);
}

/** How to read formatComparison's ratio rows. */
export const ratioLegend =
  "Ratio rows (stepwise ÷ peer): above 1× favours stepwise for runs/s and transitions/s, below 1× for latency, RSS and CPU. " +
  "Machine CPU is every process's CPU during the throughput phase (the database or Redis server's too) divided by n.";
