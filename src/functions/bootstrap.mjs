// RepliDeploy's function bootstrap: runs one Netlify function inside the sandbox and speaks the
// AWS Lambda Runtime API to the server over the unix socket at RD_RUNTIME_SOCKET (bind-mounted
// into the sandbox; the sandbox has no other way out). One invocation at a time:
//   GET  /2018-06-01/runtime/invocation/next        -> the event (Netlify's v1 event JSON)
//   POST /2018-06-01/runtime/invocation/{id}/response  {statusCode, headers, multiValueHeaders,
//                                                      body, isBase64Encoded}
//   POST /2018-06-01/runtime/invocation/{id}/error     {errorMessage, errorType, stackTrace}
//   POST /2018-06-01/runtime/init/error                when the function cannot be loaded
// The bundle is at LAMBDA_TASK_ROOT (read-only). Zips from Netlify's bundler (zip-it-and-ship-it)
// run unchanged: for v2 functions their ___netlify-entry-point.mjs names the user's module,
// which we import ourselves (Netlify's own bootstrap needs AWS's response streaming).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import util from 'node:util';

// console.* lines carry the id of the call they belong to: "\x1e<id>\x1f<text>" (the server
// strips the tag and files the line under that call). Without it the server could only guess
// from which call is in flight when it reads the pipe, which the response may overtake.
let currentId = '';
function tagged(out) {
  return (...args) => {
    const prefix = currentId ? `\u001e${currentId}\u001f` : '';
    const text = util.format(...args);
    out.write(text.split('\n').map((line) => prefix + line).join('\n') + '\n');
  };
}
console.log = console.info = console.debug = tagged(process.stdout);
console.error = console.warn = tagged(process.stderr);


const SOCKET = process.env.RD_RUNTIME_SOCKET;
const ROOT = process.env.LAMBDA_TASK_ROOT || '/var/task';
const NAME = process.env.RD_FUNCTION_NAME || '';
const PREFIX = '/2018-06-01/runtime';
const MAX_BODY = 6 * 1024 * 1024; // the server's limit on response bodies
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(method, urlPath, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      {
        socketPath: SOCKET,
        agent,
        method,
        path: PREFIX + urlPath,
        headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {},
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

function errorBody(err) {
  const e = err instanceof Error ? err : new Error(String(err));
  return {
    errorMessage: e.message,
    errorType: e.name || 'Error',
    stackTrace: String(e.stack || '').split('\n'),
  };
}

// The module that holds the user's code, and whether it is a v2 (Request -> Response) function.
function findEntry() {
  const entryPoint = path.join(ROOT, '___netlify-entry-point.mjs');
  if (fs.existsSync(entryPoint)) {
    const text = fs.readFileSync(entryPoint, 'utf8');
    const m = text.match(/getLambdaHandler\(\s*['"]([^'"]+)['"]\s*\)/);
    if (m) return path.resolve(ROOT, m[1]);
  }
  const names = [NAME, 'index'];
  const exts = ['.mjs', '.cjs', '.js', '.mts', '.ts'];
  for (const dir of [ROOT, path.join(ROOT, NAME)]) {
    for (const n of names) {
      for (const ext of exts) {
        const p = path.join(dir, n + ext);
        if (n && fs.existsSync(p)) return p;
      }
    }
  }
  throw new Error(`no entry file for function '${NAME}' in its bundle`);
}

async function loadHandler() {
  const mod = await import(pathToFileURL(findEntry()).href);
  const v1 = mod.handler ?? mod.default?.handler;
  if (typeof v1 === 'function') return { version: 1, fn: v1 };
  if (typeof mod.default === 'function') return { version: 2, fn: mod.default };
  throw new Error(`function '${NAME}' exports neither a handler nor a default function`);
}

const env = {
  get: (k) => process.env[k],
  has: (k) => k in process.env,
  set: (k, v) => {
    process.env[k] = v;
  },
  delete: (k) => {
    delete process.env[k];
  },
  toObject: () => ({ ...process.env }),
};
globalThis.Netlify = { env, context: null };

// A Response built on a ReadableStream is sent as it is produced (AWS's response streaming over
// our socket); any other body is sent whole. The marker needs our own Response class; the
// static Response.json/redirect/error still make base Responses, so checks use BaseResponse.
const STREAMED = Symbol('replideploy.streamed');
const BaseResponse = globalThis.Response;
globalThis.Response = class Response extends BaseResponse {
  constructor(body, init) {
    super(body, init);
    if (body instanceof ReadableStream) this[STREAMED] = true;
  }
};

function parseCookies(header) {
  const out = new Map();
  for (const part of (header || '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), decodeURIComponent(part.slice(i + 1).trim()));
  }
  return out;
}

function v2Context(event, meta, requestId, setCookies) {
  const cookies = parseCookies(event.headers?.cookie);
  return {
    params: meta.params || {},
    requestId,
    ip: meta.ip || '',
    site: meta.site || {},
    deploy: meta.deploy || {},
    geo: {},
    account: {},
    server: { region: 'local' },
    url: new URL(event.rawUrl),
    cookies: {
      get: (name) => cookies.get(name),
      set: (opts, value) => {
        const o = typeof opts === 'string' ? { name: opts, value } : opts;
        let c = `${o.name}=${encodeURIComponent(o.value)}`;
        if (o.path) c += `; Path=${o.path}`;
        if (o.domain) c += `; Domain=${o.domain}`;
        if (o.maxAge !== undefined) c += `; Max-Age=${o.maxAge}`;
        if (o.expires) c += `; Expires=${new Date(o.expires).toUTCString()}`;
        if (o.httpOnly) c += '; HttpOnly';
        if (o.secure) c += '; Secure';
        if (o.sameSite) c += `; SameSite=${o.sameSite}`;
        setCookies.push(c);
      },
      delete: (opts) => {
        const name = typeof opts === 'string' ? opts : opts.name;
        setCookies.push(`${name}=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT`);
      },
    },
    json: (v, init) => Response.json(v, init),
    log: (...a) => console.log(...a),
    next: () => {
      throw new Error('context.next() is not supported by RepliDeploy yet');
    },
    waitUntil: (p) => Promise.resolve(p).catch((e) => console.error(e)),
  };
}

async function runV2(fn, event, meta, requestId) {
  const headers = new Headers();
  for (const [k, vs] of Object.entries(event.multiValueHeaders || {})) {
    for (const v of vs) headers.append(k, v);
  }
  const method = event.httpMethod || 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD' && event.body;
  const req = new Request(event.rawUrl, {
    method,
    headers,
    body: hasBody ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8') : undefined,
  });
  const setCookies = [];
  const context = v2Context(event, meta, requestId, setCookies);
  globalThis.Netlify.context = context;
  let res = await fn(req, context);
  if (res === undefined) res = new Response(null, { status: 204 });
  if (!(res instanceof BaseResponse)) throw new Error('a v2 function must return a Response');
  const multiValueHeaders = {};
  res.headers.forEach((v, k) => {
    if (k !== 'set-cookie') multiValueHeaders[k] = [v];
  });
  const cookies = [...res.headers.getSetCookie(), ...setCookies];
  if (cookies.length) multiValueHeaders['set-cookie'] = cookies;
  if (res[STREAMED] && res.body) {
    return { streamed: true, prelude: { statusCode: res.status, multiValueHeaders }, body: res.body };
  }
  const body = Buffer.from(await res.arrayBuffer());
  return {
    statusCode: res.status,
    multiValueHeaders,
    body: body.toString('base64'),
    isBase64Encoded: true,
  };
}

function runV1(fn, event, meta, requestId) {
  const context = {
    awsRequestId: requestId,
    functionName: NAME,
    callbackWaitsForEmptyEventLoop: true,
    clientContext: { custom: meta },
    getRemainingTimeInMillis: () => Math.max(0, meta.deadline - Date.now()),
  };
  return new Promise((resolve, reject) => {
    const callback = (err, result) => (err ? reject(err) : resolve(result));
    try {
      const out = fn(event, context, callback);
      if (out && typeof out.then === 'function') out.then(resolve, reject);
    } catch (e) {
      reject(e);
    }
  }).then((r) => {
    if (!r || typeof r !== 'object') throw new Error('the handler returned no response object');
    return r;
  });
}

// Sends a streamed answer: chunked, the JSON prelude, 8 NUL bytes, then the body as it comes;
// a failure mid-way goes in the Lambda-Runtime-Function-Error-* trailers.
function stream(id, result) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath: SOCKET,
        agent,
        method: 'POST',
        path: `${PREFIX}/invocation/${id}/response`,
        headers: {
          'lambda-runtime-function-response-mode': 'streaming',
          'transfer-encoding': 'chunked',
          trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
        },
      },
      (res) => {
        res.resume();
        res.on('end', resolve);
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.write(Buffer.concat([Buffer.from(JSON.stringify(result.prelude)), Buffer.alloc(8)]));
    (async () => {
      const reader = result.body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          const chunk = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value);
          if (chunk.length && !req.write(chunk)) {
            await new Promise((r) => req.once('drain', r));
          }
        }
      } catch (e) {
        console.error(e);
        const err = errorBody(e);
        req.addTrailers({
          'Lambda-Runtime-Function-Error-Type': err.errorType,
          'Lambda-Runtime-Function-Error-Body': Buffer.from(JSON.stringify(err)).toString('base64'),
        });
      }
      req.end();
    })().catch(reject);
  });
}

async function main() {
  let handler;
  try {
    process.chdir(ROOT);
    handler = await loadHandler();
  } catch (e) {
    console.error(e);
    await call('POST', '/init/error', errorBody(e)).catch(() => {});
    process.exit(1);
  }
  for (;;) {
    // The server closes the socket when it stops the process: nothing to report then.
    const next = await call('GET', '/invocation/next').catch(() => process.exit(0));
    if (next.status !== 200) process.exit(0);
    const id = next.headers['lambda-runtime-aws-request-id'];
    currentId = /^[A-Za-z0-9_-]{1,64}$/.test(id ?? '') ? id : '';
    let meta = {};
    try {
      meta = JSON.parse(next.headers['lambda-runtime-client-context'] || '{}').custom || {};
    } catch {}
    meta.deadline = Number(next.headers['lambda-runtime-deadline-ms'] || 0);
    try {
      const event = JSON.parse(next.body.toString('utf8'));
      const result =
        handler.version === 2
          ? await runV2(handler.fn, event, meta, id)
          : await runV1(handler.fn, event, meta, id);
      if (result.streamed) {
        // The server drops the connection when it cuts the stream; it stops this process then.
        await stream(id, result);
        continue;
      }
      const body = typeof result.body === 'string' ? result.body : String(result.body ?? '');
      const size = result.isBase64Encoded ? Math.floor((body.length * 3) / 4) : Buffer.byteLength(body);
      if (size > MAX_BODY) throw new Error(`the response body (${size} bytes) is larger than 6 MB`);
      await call('POST', `/invocation/${id}/response`, result);
    } catch (e) {
      console.error(e);
      await call('POST', `/invocation/${id}/error`, errorBody(e));
    }
  }
}

process.on('unhandledRejection', (e) => {
  console.error(e);
  process.exit(1);
});
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
