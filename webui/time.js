// Times as the page shows them: local, to the second, with the exact ISO time on hover.

const pad = (n) => String(n).padStart(2, "0");

/** "2026-11-28 12:04:31" in the browser's time zone. */
export function localTime(iso) {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  const date = `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}`;
  return `${date} ${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
}
