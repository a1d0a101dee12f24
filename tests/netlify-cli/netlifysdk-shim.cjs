// Test-only, preloaded with NODE_OPTIONS=--require by the scripts here (RD_SHIM=1); nothing
// else loads it.
//
// For every linked command, netlify-cli's config library (@netlify/config, api/site_info.js)
// also asks Netlify's extension registry at a fixed host,
//   https://api.netlifysdk.com/team/{account}/integrations/installations/meta/{site},
// ignoring NETLIFY_API_URL. When that fails the CLI falls back to offline settings and forgets
// the site's account slug, URLs and published deploy, so `status`, `unlink` and `env:*` lose
// them. This sends that one request to NETLIFY_API_URL instead (our server answers the same
// path: no extensions). It answers nothing itself; every other request is left alone.
'use strict';

const REGISTRY = 'https://api.netlifysdk.com/';
const target = (process.env.NETLIFY_API_URL || '').replace(/\/+$/, '');
const originalFetch = globalThis.fetch;

if (target && typeof originalFetch === 'function') {
  globalThis.fetch = function fetchWithRegistryRedirect(input, init) {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith(REGISTRY)) return originalFetch.call(this, input, init);
    const redirected = `${target}/${url.slice(REGISTRY.length)}`;
    if (process.env.RD_SHIM_LOG) {
      require('fs').appendFileSync(process.env.RD_SHIM_LOG, `${url} -> ${redirected}\n`);
    }
    if (typeof input === 'string' || input instanceof URL) {
      return originalFetch.call(this, redirected, init);
    }
    return originalFetch.call(this, new Request(redirected, input), init);
  };
}
