// Where a benchmark child spends its CPU: self time per source file and per function of a V8
// CPU profile. Profile one backend's throughput phase under tsx, so frames name the source files:
//   node --conditions=source --import tsx bench/stepwise.ts --backend postgres --cpu-prof /tmp/pg.cpuprofile
//   node --import tsx bench/profile.ts /tmp/pg.cpuprofile [--top 25]
import { readFile } from "node:fs/promises";
import { relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({ options: { top: { type: "string", default: "25" } }, allowPositionals: true });
if (positionals.length === 0) throw new Error("usage: bench/profile.ts FILE.cpuprofile ... [--top N]");
const top = Number(values.top);

/** A frame's file, short: relative to the working directory, or the package inside node_modules. */
function fileOf(url: string): string {
  if (url === "") return "(native or V8)";
  const path = url.startsWith("file:") ? fileURLToPath(url) : url;
  const inModules = path.lastIndexOf("node_modules/");
  return inModules >= 0 ? path.slice(inModules) : path.startsWith("/") ? relative(process.cwd(), path) : path;
}

function add(totals: Map<string, number>, key: string, us: number): void {
  totals.set(key, (totals.get(key) ?? 0) + us);
}

function print(title: string, totals: Map<string, number>, allUs: number): void {
  console.log(`\n${title}`);
  for (const [key, us] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * us) / allUs).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`);
  }
}

for (const file of positionals) {
  const profile = JSON.parse(await readFile(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const byFile = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let allUs = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const us = profile.timeDeltas[i] ?? 0;
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === "(idle)") return;
    allUs += us;
    add(byFile, fileOf(url), us);
    add(byFunction, `${functionName || "(anonymous)"}  ${fileOf(url)}:${lineNumber + 1}`, us);
  });
  console.log(`${file}: ${(allUs / 1000).toFixed(0)} ms on the CPU (idle left out)`);
  print("self time by file", byFile, allUs);
  print("self time by function", byFunction, allUs);
}
