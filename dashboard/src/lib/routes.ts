// Dashboard URLs. Pages of one site live under /sites/<name>/; the static export has them once,
// under the literal segment "_", and the server answers /sites/<name>/... with that page (see
// next.config.ts). The page then reads the name from the address bar.

export const kLoginPath = "/login/";

export function sitePath(name: string): string {
  return `/sites/${encodeURIComponent(name)}/`;
}

export function siteDeploysPath(name: string): string {
  return `/sites/${encodeURIComponent(name)}/deploys/`;
}

// The site's Analytics tab: traffic, top paths and 404s, builds.
export function siteAnalyticsPath(name: string): string {
  return `/sites/${encodeURIComponent(name)}/analytics/`;
}

// The site's Functions tab: its functions, their calls and their live log.
export function siteFunctionsPath(name: string): string {
  return `/sites/${encodeURIComponent(name)}/functions/`;
}

// One deploy's page with its build log.
export function deployPath(site: string, deployId: string): string {
  return `/sites/${encodeURIComponent(site)}/deploys/${encodeURIComponent(deployId)}/`;
}

export const kAccountPath = "/account/";
export const kNewSitePath = "/new/";

// The deploy id in "/sites/<name>/deploys/<id>/" (null elsewhere, or for the exported "_").
export function deployIdFromPath(pathname: string): string | null {
  const match = /^\/sites\/[^/]+\/deploys\/([^/]+)/.exec(pathname);
  if (match === null) return null;
  let id: string;
  try {
    id = decodeURIComponent(match[1]!);
  } catch {
    return null;
  }
  return id === "_" || id === "" ? null : id;
}

// The site name in "/sites/<name>/..." (null elsewhere, or for the exported "_" itself).
export function siteNameFromPath(pathname: string): string | null {
  const match = /^\/sites\/([^/]+)/.exec(pathname);
  if (match === null) return null;
  let name: string;
  try {
    name = decodeURIComponent(match[1]!);
  } catch {
    return null;
  }
  return name === "_" || name === "" ? null : name;
}

// A same-site path to return to after login; anything else goes home.
export function safeNextPath(next: string | null): string {
  if (next === null || !next.startsWith("/") || next.startsWith("//")) return "/";
  return next;
}
