/** One column of a {@link table}: its heading and the text of each row's cell. */
export interface Column<Row> {
  heading: string;
  cell(row: Row): string;
}

/**
 * Rows as plain-text columns, each as wide as its widest cell and two spaces apart, under a
 * heading line: what a terminal shows and `grep` or `awk` still read.
 */
export function table<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const lines = [columns.map((c) => c.heading), ...rows.map((row) => columns.map((c) => c.cell(row)))];
  const widths = columns.map((_, i) => Math.max(...lines.map((line) => (line[i] ?? "").length)));
  return lines.map((line) => line.map((text, i) => (i === line.length - 1 ? text : text.padEnd(widths[i] ?? 0))).join("  ")).join("\n");
}
