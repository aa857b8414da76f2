// Builds DOM nodes from data. Text always goes in as text nodes, never as HTML, so a foreign id or
// an object holding markup is shown, not run.

/**
 * An element: `props` sets `class`, `text`, `on<Event>` listeners and any other attribute;
 * children are nodes, strings, or falsy values (skipped).
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "text") element.textContent = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2).toLowerCase(), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.filter((child) => child !== undefined && child !== null && child !== false));
  return element;
}

/** Shows or hides an element through its `hidden` attribute (the page may set no inline style). */
export function show(element, visible) {
  element.hidden = !visible;
}

export function byId(id) {
  return document.getElementById(id);
}
