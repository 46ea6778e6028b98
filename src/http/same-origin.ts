import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';

/**
 * Whether a browser request comes from another site (login CSRF, cross-site WebSocket
 * hijacking). Browsers say where a request comes from in Sec-Fetch-Site; older ones send
 * Origin with a POST and with every WebSocket upgrade. Used by the job dashboard and the
 * portal (issue 6 item 5, issue 17).
 */
export function crossSiteHeaders(headers: IncomingHttpHeaders): boolean {
  const site = headers['sec-fetch-site'];
  if (typeof site === 'string') return site !== 'same-origin' && site !== 'none';
  const origin = headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== headers.host;
  } catch {
    return true;
  }
}

export const crossSite = (request: FastifyRequest): boolean => crossSiteHeaders(request.headers);

export const isHttps = (request: FastifyRequest) =>
  request.protocol === 'https' || request.headers['x-forwarded-proto'] === 'https';

/** One cookie's value from a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}
