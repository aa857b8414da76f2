/** What `Workflow.states()` reports for each process. */
export enum ProcessState {
  Unknown = 0,
  Shutdown = 1,
  Running = 2,
  Idle = 3,
}
