function clean(name: string): string {
  // Topics are built for every stored record; most names have no space to replace.
  return name.includes(" ") ? name.replaceAll(" ", "_") : name;
}

/** The topic a run entering `status` is published on: `"<name>-<status>"`. */
export function topic(workflowName: string, status: number): string {
  return `${clean(workflowName)}-${status}`;
}

/** The topic of runs whose data deletion was requested: `"<name>-delete"`. */
export function deleteTopic(workflowName: string): string {
  return `${clean(workflowName)}-delete`;
}

/** The topic of runs that paused, were cancelled, completed or had their data deleted. */
export function runStateChangeTopic(workflowName: string): string {
  return `${clean(workflowName)}-run-state-change`;
}
