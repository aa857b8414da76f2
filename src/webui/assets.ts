/** A static file of the page: its bytes or text and its `Content-Type`. */
export interface Asset {
  body: Uint8Array | string;
  contentType: string;
}

/**
 * The asset served at `GET <basePath>assets/<name>`, or undefined when there is none of that name.
 * `name` is one path segment of letters, digits, ".", "_" and "-", never starting with a dot.
 */
export function asset(name: string): Asset | undefined {
  void name;
  return undefined;
}
