// The floor for bench/functions: the same v2 function served by a bare Node.js HTTP server in
// one process, no sandbox, no edge, no Runtime API in between.
//
//   node node_peer.mjs FUNCTION.mjs PORT
import http from "node:http";
import { pathToFileURL } from "node:url";

const [file, port] = process.argv.slice(2);
const { default: handler } = await import(pathToFileURL(file).href);

http
  .createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = chunks.length ? Buffer.concat(chunks) : undefined;
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers: req.headers,
      body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
    });
    const response = await handler(request, { params: {} });
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  })
  .listen(Number(port), "127.0.0.1");
