import type { NextConfig } from "next";

// A static export: `next build` writes plain files to out/, which `replideploy serve` serves on
// the control host. Dynamic pages (a site's name in the URL) are exported once under the literal
// segment `_`; the server falls back to them and the page reads the real name from the URL.
const nextConfig: NextConfig = {
  output: "export",
  trailingSlash: true,
  images: { unoptimized: true },
  poweredByHeader: false,
  reactStrictMode: true,
  experimental: {
    // Every build starts clean: a cached failure (seen after a build in a sandbox without
    // loopback) must not outlive its cause, and the build takes seconds anyway.
    turbopackFileSystemCacheForBuild: false,
  },
};

export default nextConfig;
