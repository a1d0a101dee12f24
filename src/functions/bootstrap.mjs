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
// The build puts adapter.mjs (entry, v1/v2 adapters: findEntry, loadHandler, runV1, runV2,
// errorBody) in front of this file.
import http from 'node:http';
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
