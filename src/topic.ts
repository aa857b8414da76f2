/**
 * A workflow name (or another name a user chose) as topics and roles carry it: letters `a`–`z` and
 * digits stay, every other UTF-16 unit is escaped, never replaced — `_` and two hex digits below
 * 0x100, `_u` and four above — so distinct names never share a topic or role (`"a b"` → `a_20b`,
 * `"a_b"` → `a_5fb`, `"A b"` → `_41_20b`). The result holds only `[a-z0-9_]`, so the `-` the
 * engine joins parts with never comes from a name.
 */
export function encodedName(name: string): string {
  // Most names are plain lower case: return those without building a new string.
  if (/^[a-z0-9]+$/.test(name)) return name;
  let out = "";
  for (let i = 0; i < name.length; i++) {
    const unit = name.charCodeAt(i);
    const isPlain = (unit >= 0x61 && unit <= 0x7a) || (unit >= 0x30 && unit <= 0x39);
    if (isPlain) out += name[i];
    else if (unit < 0x100) out += `_${unit.toString(16).padStart(2, "0")}`;
    else out += `_u${unit.toString(16).padStart(4, "0")}`;
  }
  return out;
}

/** The topic a run entering `status` is published on: `"<name>-<status>"`, the name encoded. */
export function topic(workflowName: string, status: number): string {
  return `${encodedName(workflowName)}-${status}`;
}

/** The topic of runs whose data deletion was requested: `"<name>-delete"`. */
export function deleteTopic(workflowName: string): string {
  return `${encodedName(workflowName)}-delete`;
}

/** The topic of runs that paused, were cancelled, completed or had their data deleted. */
export function runStateChangeTopic(workflowName: string): string {
  return `${encodedName(workflowName)}-run-state-change`;
}
