/** Where the browser is; CHROMIUM_PATH points elsewhere (another distribution, a Chrome). */
export const chromiumPath: string;
/** Installs Debian's chromium when the browser is missing. */
export function ensureChromium(): void;
