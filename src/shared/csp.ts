/**
 * The Content-Security-Policy of every app page, shared by the Electron shell (response header)
 * and web mode. `src/renderer/index.html` repeats it in a <meta>, minus `frame-ancestors`, which
 * browsers ignore in a meta tag.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self' ws://127.0.0.1:*",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');
