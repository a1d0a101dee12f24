// The part of our function runtime shared by the local bootstrap (bootstrap.mjs, the Lambda
// Runtime API loop over our unix socket) and the handler module uploaded to AWS Lambda
// (lambda_handler.mjs): finding the user's module in the bundle and adapting v1 (`handler`) and
// v2 (`default`: Request -> Response) functions to Netlify's v1 event and answer. The build
// concatenates this file in front of each of the two (embed_bootstrap.cmake), so they cannot
// drift; it must not import what they import.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = process.env.LAMBDA_TASK_ROOT || '/var/task';
const NAME = process.env.RD_FUNCTION_NAME || '';

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

