import type { RequestHandler } from "express";
import { Forbidden } from "../errors.js";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export const isLoopbackHost = (host: string) => host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);

/**
 * The Host names the gateway answers (undefined: any). Always this machine's own names (a rebinding page
 * sends its site's name, never these; the launcher and local tools use them) and QUIRE_PUBLIC_URL's host
 * (a reverse proxy may pass its own), with `configured` (QUIRE_ALLOWED_HOSTS: a comma list, or "*" for
 * any). Unset, a gateway bound to another address than loopback answers any: the operator put it on a
 * network.
 */
export function allowedHostsFor(bindHost: string, publicUrl: string, configured?: string): string[] | undefined {
  if (configured?.trim() === "*" || (configured === undefined && !isLoopbackHost(bindHost))) return undefined;
  const listed = (configured ?? "").split(",").map((h) => h.trim().toLowerCase()).filter(Boolean);
  return [...new Set(["localhost", "127.0.0.1", "[::1]", new URL(publicUrl).hostname.toLowerCase(), ...(isLoopbackHost(bindHost) ? [bindHost.toLowerCase()] : []), ...listed])];
}

function hostnameOf(hostHeader: string): string | undefined {
  try {
    return new URL(`http://${hostHeader}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * Where a browser may reach the gateway from (docs/security.md).
 * - Only a Host among `allowedHosts` is answered: a page whose site re-points its DNS name at this
 *   machine (DNS rebinding) would otherwise be "same origin" with the whole API.
 * - A command (any method but GET, HEAD, OPTIONS) that carries an `Origin` other than the gateway's own
 *   comes from another site's page (a cross-site form or fetch) and is refused. Clients that are not
 *   browsers send no Origin.
 */
export function requestSourceGuard(opts: { allowedHosts?: string[]; publicUrl: string }): RequestHandler {
  const publicOrigin = new URL(opts.publicUrl).origin;
  const hosts = opts.allowedHosts && new Set(opts.allowedHosts);
  return (req, _res, next) => {
    const host = req.headers.host ?? "";
    if (hosts && !hosts.has(hostnameOf(host) ?? "")) {
      // Not the list: a rebinding page reads this answer, and the names behind a proxy are not its business.
      throw new Forbidden(`Host ${JSON.stringify(host)} is not one this gateway answers; see QUIRE_ALLOWED_HOSTS (docs/security.md)`);
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !SAFE_METHODS.has(req.method) && origin !== publicOrigin && origin !== `http://${host}` && origin !== `https://${host}`) {
      throw new Forbidden(`a command from a page of another origin (${origin}) is refused; call the gateway from the book app's backend`);
    }
    next();
  };
}
