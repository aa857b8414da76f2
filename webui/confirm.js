// The confirmation dialog of run actions: a modal <dialog> that asks for a reason where the
// action records one.
import { byId, show } from "./element.js";

/**
 * Asks to confirm `action` (one of run-state.js's actions) on the run of `foreignId`. Resolves with `{ reason }`
 * when confirmed, or null when dismissed (button, Escape).
 */
export function confirmAction(action, foreignId) {
  const dialog = byId("confirm");
  const form = byId("confirm-form");
  const reason = byId("confirm-reason");
  byId("confirm-title").textContent = `${action.question} ${foreignId}?`;
  byId("confirm-text").textContent = action.text;
  byId("confirm-ok").textContent = action.label;
  byId("confirm-ok").className = action.destructive ? "destructive" : "primary";
  show(byId("confirm-reason-label"), action.askReason);
  show(reason, action.askReason);
  reason.value = "";
  dialog.returnValue = "";
  return new Promise((resolve) => {
    const confirm = (event) => {
      // The form is never submitted: the dialog closes instead, so nothing leaves the page.
      event.preventDefault();
      dialog.close("confirmed");
    };
    const dismiss = () => dialog.close("");
    form.addEventListener("submit", confirm);
    byId("confirm-cancel").addEventListener("click", dismiss);
    dialog.addEventListener(
      "close",
      () => {
        form.removeEventListener("submit", confirm);
        byId("confirm-cancel").removeEventListener("click", dismiss);
        resolve(dialog.returnValue === "confirmed" ? { reason: reason.value.trim() } : null);
      },
      { once: true },
    );
    dialog.showModal();
    if (action.askReason) reason.focus();
  });
}
