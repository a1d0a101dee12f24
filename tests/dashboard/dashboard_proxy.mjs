// Stand-in for `replideploy serve --dashboard-dir`, for a server binary built before that flag:
// serves the exported dashboard on the control hosts with the same fallback rule, and forwards
// everything else (API routes, and every request for another Host: the edge) to the server.
//
//   node dashboard_proxy.mjs OUT_DIR BACKEND_PORT
//
// Prints "listening on 127.0.0.1:PORT". The fallback rule (the one the server implements):
//   1. the path as a file: exact, then PATH.html, then PATH/index.html;
//   2. else each segment that does not exist in OUT_DIR is replaced by the literal "_", left to
//      right, and step 1 is tried once more on the result;
//   3. else OUT_DIR/404.html with status 404.
import { createReadStream, existsSync, statSync } from "node:fs";
import http from "node:http";
import path from "node:path";

const [outDir, backendPort] = process.argv.slice(2);
if (!outDir || !backendPort) {
  console.error("usage: node dashboard_proxy.mjs OUT_DIR BACKEND_PORT");
  process.exit(2);
}
const root = path.resolve(outDir);

const kApiPrefixes = ["/api/", "/auth/", "/healthz", "/readyz", "/team/", "/site/"];
const kControlHosts = new Set(["localhost", "127.0.0.1", "[::1]"]);
const kTypes = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
  ".png": "image/png",
  ".woff2": "font/woff2",
};

function isFile(p) {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function asFile(dir, segments) {
  const base = path.join(dir, ...segments);
  for (const candidate of [base, base + ".html", path.join(base, "index.html")]) {
    if (isFile(candidate)) return candidate;
  }
  return null;
}

export function resolveDashboardFile(rootDir, urlPath) {
  let segments;
  try {
    segments = urlPath.split("/").filter(Boolean).map(decodeURIComponent);
  } catch {
    return null;
  }
  if (segments.some((s) => s === ".." || s === "." || s.includes("/") || s.includes("\0"))) return null;
  const exact = asFile(rootDir, segments);
  if (exact) return exact;
  let dir = rootDir;
  const mapped = [];
  for (const s of segments) {
    const next = existsSync(path.join(dir, s)) ? s : "_";
    mapped.push(next);
    dir = path.join(dir, next);
  }
  return asFile(rootDir, mapped);
}

function serveStatic(req, res) {
  const urlPath = new URL(req.url, "http://x").pathname;
  let file = resolveDashboardFile(root, urlPath);
  let status = 200;
  if (file === null) {
    file = path.join(root, "404.html");
    status = 404;
  }
  res.writeHead(status, {
    "Content-Type": kTypes[path.extname(file)] ?? "application/octet-stream",
    "Cache-Control": "no-cache",
  });
  if (req.method === "HEAD") return res.end();
  createReadStream(file).pipe(res);
}

function forward(req, res) {
  const upstream = http.request(
    { host: "127.0.0.1", port: Number(backendPort), method: req.method, path: req.url, headers: req.headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on("error", (e) => {
    res.writeHead(502, { "Content-Type": "text/plain" });
    res.end("proxy: " + e.message);
  });
  req.pipe(upstream);
}

const server = http.createServer((req, res) => {
  const host = (req.headers.host ?? "").replace(/:\d+$/, "");
  const urlPath = (req.url ?? "/").split("?")[0];
  const isApi = kApiPrefixes.some((p) => urlPath.startsWith(p));
  if (kControlHosts.has(host) && !isApi && (req.method === "GET" || req.method === "HEAD")) {
    serveStatic(req, res);
  } else {
    forward(req, res);
  }
});
server.listen(0, "127.0.0.1", () => {
  console.log(`listening on 127.0.0.1:${server.address().port}`);
});
