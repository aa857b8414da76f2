// Run states as SPEC §3 numbers them, and which actions their transition rules allow.
import { h } from "./element.js";

export const runStates = [
  { value: 1, name: "Initiated" },
  { value: 2, name: "Running" },
  { value: 3, name: "Paused" },
  { value: 4, name: "Cancelled" },
  { value: 5, name: "Completed" },
  { value: 6, name: "DataDeleted" },
  { value: 7, name: "RequestedDataDeleted" },
];

/** "RequestedDataDeleted" → "Requested data deleted". */
export function spaced(name) {
  const words = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2");
  return words.charAt(0) + words.slice(1).toLowerCase();
}

/** A coloured label for a run state; its class names the state, so the stylesheet picks the colour. */
export function runStateBadge(runState, runStateName) {
  const slug = runStateName.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
  return h("span", { class: `badge badge-${slug}`, "data-run-state": runState, text: spaced(runStateName) });
}

/** The actions the page offers, in the order it shows them. */
export const actions = [
  { name: "pause", label: "Pause", question: "Pause run", from: [1, 2], askReason: true, text: "The run stops where it is until it is resumed." },
  { name: "resume", label: "Resume", question: "Resume run", from: [3], askReason: false, text: "The run goes on from its current status." },
  { name: "cancel", label: "Cancel", question: "Cancel run", destructive: true, from: [1, 2, 3], askReason: true, text: "The run ends and is not consumed again. This cannot be undone." },
  { name: "delete", label: "Delete data", question: "Delete the data of run", destructive: true, from: [4, 5, 6], askReason: true, text: "The run's object is replaced and its data deleted. This cannot be undone." },
];

export function isAllowed(action, runState) {
  return action.from.includes(runState);
}
