// Soak under change: full-rate page loads on every edge while deploys and rollbacks land through
// the api. Started by bench/soak/run.sh, which starts the processes and passes (environment):
//
//   EDGE_PORTS   comma-separated loopback ports of the edges
//   API_URL      the api's base URL (http://127.0.0.1:PORT)
//   TOKEN        an API token
//   SITE         the site's name (served as Host: SITE.localhost); it has no deploy yet
//   DURATION     seconds of load (60)
//   DEPLOYS      changes during the load (100): deploys and rollbacks
//   ROLLBACK_PERCENT  share of the changes that are rollbacks (30)
//   CONNECTIONS  keep-alive connections per edge (16)
//   OUT          file the Markdown figures go to; OUT.json gets the raw per-change figures
//   SKEW_PROTECTION  the site's skew protection window in seconds (0: off; set by run.sh)
//
// One worker thread per edge runs CONNECTIONS loops of page loads (GET /, /app.js, /style.css on
// one connection) over raw sockets (HTTP/1.1, keep-alive), and records every response: start and
// end time, path, deploy version found in the body. Each loop is one visitor with its own
// cookie jar, as a browser's: cookies set by the answers are sent with its later requests. The main thread makes the changes and, after
// the load, computes everything from the records.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import net from 'node:net';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';

const PATHS = ['/', '/app.js', '/style.css'];
const FILES = ['index.html', 'app.js', 'style.css'];

// Wall-clock milliseconds with sub-millisecond resolution (comparable across threads and with
// the server's published_at, which is wall-clock milliseconds).
const now = () => performance.timeOrigin + performance.now();

// The exact bytes of file `idx` of deploy `n`: the marker v=N at the start and the end, padding
// to ~2 KB, every line naming the version so that a body made of two versions cannot pass.
function content(idx, n) {
  const v = `v=${n}`;
  const lorem = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor';
  let out;
  let line;
  let tail;
  if (idx === 0) {
    out = `<!doctype html>\n<html><head><meta charset="utf-8"><title>soak ${v}</title>` +
          `<link rel="stylesheet" href="/style.css"><script src="/app.js" defer></script></head>` +
          `<body>\n<h1>${v}</h1>\n`;
    line = (k) => `<p>${v} paragraph ${k}: ${lorem}</p>\n`;
    tail = `<!-- end ${v} -->\n</body></html>\n`;
  } else if (idx === 1) {
    out = `// ${v}\n"use strict";\n`;
    line = (k) => `const line${k} = "${v} ${lorem}";\n`;
    tail = `// end ${v}\n`;
  } else {
    out = `/* ${v} */\nbody { font-family: sans-serif; }\n`;
    line = (k) => `.c${k}::after { content: "${v} ${lorem}"; }\n`;
    tail = `/* end ${v} */\n`;
  }
  for (let k = 0; out.length < 2000; k++) out += line(k);
  return out + tail;
}

// ---------------------------------------------------------------------------------------------
// worker: the load on one edge

// One keep-alive HTTP/1.1 connection, one request at a time.
class Conn {
  constructor(port, host) {
    this.port = port;
    this.host = host;
    this.sock = null;
    this.buf = Buffer.alloc(0);
    this.pending = null; // {resolve, reject}
    this.connects = 0;
    this.cookies = new Map(); // the visitor's cookie jar: name -> value (Path=/ on one host)
  }
  open() {
    this.connects++;
    this.buf = Buffer.alloc(0);
    const s = net.connect({ host: '127.0.0.1', port: this.port });
    s.setNoDelay(true);
    s.on('data', (d) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.parse();
    });
    const fail = (why) => {
      if (this.sock === s) this.sock = null;
      const p = this.pending;
      this.pending = null;
      if (p) p.reject(new Error(why));
    };
    s.on('error', (e) => fail(e.code || e.message));
    s.on('close', () => fail('closed'));
    this.sock = s;
  }
  close() {
    if (this.sock) this.sock.destroy();
    this.sock = null;
  }
  get(path) {
    if (!this.sock) this.open();
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      const cookie = this.cookies.size
        ? `Cookie: ${[...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')}\r\n`
        : '';
      this.sock.write(`GET ${path} HTTP/1.1\r\nHost: ${this.host}\r\nUser-Agent: soak\r\n${cookie}\r\n`);
    });
  }
  // name=value; attributes: kept until Max-Age=0 (a visitor's page loads are seconds long, so
  // other expiries do not matter here)
  setCookie(header) {
    const parts = header.split(';').map((x) => x.trim());
    const eq = parts[0].indexOf('=');
    if (eq <= 0) return;
    const name = parts[0].slice(0, eq);
    if (parts.some((a) => /^max-age=0$/i.test(a))) this.cookies.delete(name);
    else this.cookies.set(name, parts[0].slice(eq + 1));
  }
  parse() {
    if (!this.pending) return;
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buf.subarray(0, end).toString('latin1');
    const lines = head.split('\r\n');
    const status = parseInt(lines[0].split(' ')[1], 10);
    let length = -1;
    let chunked = false;
    let close = false;
    for (let i = 1; i < lines.length; i++) {
      const c = lines[i].indexOf(':');
      const name = lines[i].slice(0, c).trim().toLowerCase();
      const value = lines[i].slice(c + 1).trim().toLowerCase();
      if (name === 'content-length') length = parseInt(value, 10);
      else if (name === 'transfer-encoding' && value.includes('chunked')) chunked = true;
      else if (name === 'connection' && value.includes('close')) close = true;
      else if (name === 'set-cookie') this.setCookie(lines[i].slice(c + 1).trim());
    }
    let body;
    let used;
    if (chunked) {
      const parts = [];
      let pos = end + 4;
      for (;;) {
        const eol = this.buf.indexOf('\r\n', pos);
        if (eol < 0) return;
        const size = parseInt(this.buf.subarray(pos, eol).toString('latin1'), 16);
        if (this.buf.length < eol + 2 + size + 2) return;
        if (size === 0) {
          used = eol + 4; // no trailers from our servers
          break;
        }
        parts.push(this.buf.subarray(eol + 2, eol + 2 + size));
        pos = eol + 2 + size + 2;
      }
      body = Buffer.concat(parts);
    } else {
      if (length < 0) length = 0;
      if (this.buf.length < end + 4 + length) return;
      body = this.buf.subarray(end + 4, end + 4 + length);
      used = end + 4 + length;
    }
    this.buf = this.buf.subarray(used);
    const p = this.pending;
    this.pending = null;
    if (close) this.close();
    p.resolve({ status, body: body.toString('latin1') });
  }
}

async function edgeWorker({ port, host, connections }) {
  let stopping = false;
  let started = false;
  // per response: start, end (ms), path index, version (>0), -1 non-200, -2 connection error,
  // -3 a 200 whose body is no complete version
  const starts = [];
  const ends = [];
  const paths = [];
  const versions = [];
  const pageVersions = []; // the version of the page (GET /) of the response's page load
  let pages = 0;
  let mixed = 0;
  const mixedSamples = [];
  const errorSamples = [];
  const expected = new Map();
  const versionOf = (idx, body) => {
    const m = /v=(\d+)/.exec(body);
    if (!m) return -3;
    const n = parseInt(m[1], 10);
    const key = idx * 1e6 + n;
    let want = expected.get(key);
    if (want === undefined) {
      want = content(idx, n);
      expected.set(key, want);
    }
    return body === want ? n : -3;
  };
  const conns = [];
  const loop = async (c) => {
    while (!stopping) {
      const vers = [];
      const pageStart = now();
      for (let i = 0; i < 3; i++) {
        const t0 = now();
        let v;
        try {
          const r = await c.get(PATHS[i]);
          if (r.status !== 200) {
            v = -1;
            if (errorSamples.length < 10) errorSamples.push(`${PATHS[i]}: ${r.status} ${r.body.slice(0, 200)}`);
          } else {
            v = versionOf(i, r.body);
            if (v === -3 && errorSamples.length < 10) errorSamples.push(`${PATHS[i]}: incomplete body ${JSON.stringify(r.body.slice(0, 120))}`);
          }
        } catch (e) {
          v = -2;
          if (errorSamples.length < 10) errorSamples.push(`${PATHS[i]}: connection error ${e.message}`);
          c.close();
        }
        if (started) {
          starts.push(t0);
          ends.push(now());
          paths.push(i);
          versions.push(v);
          pageVersions.push(i === 0 ? v : vers[0]);
        }
        vers.push(v);
        if (v === -2) break;
      }
      if (started && vers.length === 3 && vers.every((v) => v > 0)) {
        pages++;
        if (vers[0] !== vers[1] || vers[1] !== vers[2]) {
          mixed++;
          mixedSamples.push({ start: pageStart, end: now(), versions: vers });
        }
      }
    }
  };
  parentPort.on('message', (m) => {
    if (m === 'start') started = true;
    if (m === 'stop') stopping = true;
  });
  const running = [];
  for (let i = 0; i < connections; i++) {
    const c = new Conn(port, host);
    conns.push(c);
    running.push(loop(c));
  }
  parentPort.postMessage({ ready: true });
  await Promise.all(running);
  for (const c of conns) c.close();
  parentPort.postMessage({
    starts: Float64Array.from(starts),
    ends: Float64Array.from(ends),
    paths: Uint8Array.from(paths),
    versions: Int32Array.from(versions),
    pageVersions: Int32Array.from(pageVersions),
    pages,
    mixed,
    mixedSamples,
    errorSamples,
    connects: conns.reduce((a, c) => a + c.connects, 0),
  });
}

if (!isMainThread) {
  edgeWorker(workerData).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

// ---------------------------------------------------------------------------------------------
// main: the changes, then the figures

// CPU ticks (utime+stime) of a process and all its descendants, by pid; and the machine's busy
// and total ticks (busy leaves out irq/softirq, where loopback networking is charged to no one)
function treePids(pid) {
  const out = [pid];
  let tasks = [];
  try { tasks = fs.readdirSync(`/proc/${pid}/task`); } catch (e) { return out; }
  for (const t of tasks) {
    let kids = '';
    try { kids = fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8'); } catch (e) { continue; }
    for (const k of kids.split(' ').filter(Boolean)) out.push(...treePids(parseInt(k, 10)));
  }
  return out;
}
function pidTicks(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return parseInt(f[11], 10) + parseInt(f[12], 10);
  } catch (e) {
    return 0;
  }
}
function cpuSnapshot(named) {
  const procs = {};
  for (const [name, pid] of named) {
    procs[name] = new Map(treePids(pid).map((p) => [p, pidTicks(p)]));
  }
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
  return { procs, busy: user + nice + system + steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
}
// cores used by each named process tree between two snapshots, and by the rest of the machine
function cpuUse(a, b, seconds, hz) {
  const out = {};
  let ours = 0;
  for (const name of Object.keys(b.procs)) {
    let t = 0;
    for (const [pid, ticks] of b.procs[name]) t += ticks - (a.procs[name]?.get(pid) ?? 0);
    out[name] = t / hz / seconds;
    ours += t;
  }
  out['rest of the machine'] = Math.max(0, b.busy - a.busy - ours) / hz / seconds;
  out['idle'] = Math.max(0, (b.total - b.busy) - (a.total - a.busy)) / hz / seconds;
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sha1 = (s) => crypto.createHash('sha1').update(s, 'latin1').digest('hex');

async function main() {
  const env = process.env;
  const edgePorts = env.EDGE_PORTS.split(',').map((p) => parseInt(p, 10));
  const apiUrl = env.API_URL;
  const token = env.TOKEN;
  const site = env.SITE;
  const host = `${site}.localhost`;
  const duration = parseFloat(env.DURATION || '60');
  const changes = parseInt(env.DEPLOYS || '100', 10);
  const rollbackPercent = parseFloat(env.ROLLBACK_PERCENT || '30');
  const connections = parseInt(env.CONNECTIONS || '16', 10);
  const skew = parseInt(env.SKEW_PROTECTION || '0', 10);
  const out = env.OUT;
  const hz = parseInt(env.CLK_TCK || '100', 10);
  // "name:pid,..." of the processes whose CPU use is reported (with their children)
  const named = (env.PIDS || '').split(',').filter(Boolean).map((x) => {
    const c = x.lastIndexOf(':');
    return [x.slice(0, c), parseInt(x.slice(c + 1), 10)];
  });
  named.push(['load generator (node)', process.pid]);

  const api = async (method, path, body, raw) => {
    const headers = { Authorization: `Bearer ${token}` };
    let payload;
    if (raw !== undefined) {
      headers['Content-Type'] = 'application/octet-stream';
      payload = raw;
    } else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(apiUrl + path, { method, headers, body: payload });
    const text = await res.text();
    if (res.status !== 200 && res.status !== 201) {
      throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    }
    return { at: now(), json: text ? JSON.parse(text) : null };
  };

  // deploy N: the three files by digest, the required ones uploaded, then polled until ready and
  // published. Its moment: the deploy's published_at (the api's clock, set in the publishing
  // transaction; there is no single answer that says "published" for an upload deploy).
  const deploy = async (n) => {
    const files = {};
    for (let i = 0; i < 3; i++) files['/' + FILES[i]] = sha1(content(i, n));
    const t0 = now();
    const created = (await api('POST', `/api/v1/sites/${site}/deploys`, { files })).json;
    const createdAt = now();
    const required = new Set(created.required || []);
    for (let i = 0; i < 3; i++) {
      if (required.has(files['/' + FILES[i]])) {
        await api('PUT', `/api/v1/deploys/${created.id}/files/${FILES[i]}`, undefined, content(i, n));
      }
    }
    const uploaded = now();
    for (;;) {
      const got = await api('GET', `/api/v1/deploys/${created.id}`);
      const d = got.json;
      if (d.state === 'ready') {
        if (!d.published_at) throw new Error(`deploy ${created.id} (v=${n}) is ready but not published`);
        const at = Date.parse(d.published_at);
        // from: the first moment an edge may serve it (the commit follows published_at)
        return { id: created.id, version: n, kind: 'deploy', started: t0, createdAt, uploaded, at, from: at, seenReady: got.at };
      }
      if (d.state === 'error' || d.state === 'canceled') throw new Error(`deploy v=${n}: ${d.state} ${d.error_message}`);
      await sleep(2);
    }
  };
  const restore = async (d) => {
    const t0 = now();
    const got = await api('POST', `/api/v1/sites/${site}/deploys/${d.id}/restore`);
    // an edge may serve it before the api's answer arrives: from the moment it was asked for
    return { id: d.id, version: d.version, kind: 'rollback', started: t0, at: got.at, from: t0 };
  };

  // the first deploy, served by every edge before the load starts
  const deployed = [];
  let next = 1;
  const first = await deploy(next++);
  deployed.push(first);
  for (const port of edgePorts) {
    const deadline = now() + 30000;
    for (;;) {
      const c = new Conn(port, host);
      let ok = false;
      try {
        const r = await c.get('/');
        ok = r.status === 200 && r.body === content(0, 1);
      } catch (e) {
        // not yet
      }
      c.close();
      if (ok) break;
      if (now() > deadline) throw new Error(`edge on ${port} does not serve v=1`);
      await sleep(20);
    }
  }

  const workers = edgePorts.map(
    (port) => new Worker(new URL(import.meta.url), { workerData: { port, host, connections } }));
  const results = workers.map((w) => new Promise((resolve, reject) => {
    w.on('message', (m) => { if (!m.ready) resolve(m); });
    w.on('error', reject);
    w.on('exit', (code) => { if (code !== 0) reject(new Error(`worker exited ${code}`)); });
  }));
  await sleep(500); // connections open, warm
  const loadStart = now();
  for (const w of workers) w.postMessage('start');
  const cpu0 = cpuSnapshot(named);
  const load0 = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

  // the changes, evenly over the load, the last one ~1 s before its end; a rollback goes to a
  // random earlier deploy whose version is not the live one
  const log = [];
  let live = first;
  const span = Math.max(1000, duration * 1000 - 2000);
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  let rollbacksWanted = 0;
  for (let k = 0; k < changes; k++) {
    const due = loadStart + 500 + (span * k) / changes;
    const wait = due - now();
    if (wait > 0) await sleep(wait);
    // rollbacks spread through the sequence at the chosen share; never one without a target
    rollbacksWanted += rollbackPercent / 100;
    const candidates = deployed.filter((d) => d.version !== live.version);
    let change;
    if (rollbacksWanted >= 1 && candidates.length > 0) {
      rollbacksWanted -= 1;
      change = await restore(candidates[Math.floor(rand() * candidates.length)]);
    } else {
      change = await deploy(next++);
      deployed.push(change);
    }
    log.push(change);
    live = change;
  }
  // the load runs DURATION s, longer when the changes took longer: until 1 s after the last
  const remaining = Math.max(loadStart + duration * 1000, now() + 1000) - now();
  if (remaining > 0) await sleep(remaining);
  const loadEnd = now();
  const cpu1 = cpuSnapshot(named);
  const load1 = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  for (const w of workers) w.postMessage('stop');
  const edges = await Promise.all(results);
  await Promise.all(workers.map((w) => w.terminate()));

  // -------------------------------------------------------------------------------------------
  // figures
  const pct = (arr, p) => {
    if (arr.length === 0) return NaN;
    const s = [...arr].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
  };
  const ms = (x) => (Number.isNaN(x) ? 'n/a' : x.toFixed(1));
  const seconds = (loadEnd - loadStart) / 1000;
  const perEdge = edges.map((e, idx) => {
    const n = e.ends.length;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => e.ends[a] - e.ends[b]);
    let non200 = 0;
    let connErrors = 0;
    let incomplete = 0;
    for (let i = 0; i < n; i++) {
      if (e.versions[i] === -1) non200++;
      else if (e.versions[i] === -2) connErrors++;
      else if (e.versions[i] === -3) incomplete++;
    }
    // per change: first response ending at or after the change's moment that carries its
    // version (searched until the next change), and the last response carrying another version
    // that started after that first one (an edge that goes back: must not happen)
    const firstSeen = [];
    const notSeen = [];
    let backwards = 0;
    const backSamples = [];
    const windows = []; // per change: from when it could be seen until this edge showed it
    const perChange = [];
    let j = 0;
    for (let k = 0; k < log.length; k++) {
      const c = log[k];
      // until the next change could be seen
      const until = k + 1 < log.length ? log[k + 1].from : Infinity;
      while (j < n && e.ends[order[j]] < c.at) j++;
      let seenAt = null;
      let i = j;
      for (; i < n && e.ends[order[i]] < until; i++) {
        if (e.versions[order[i]] === c.version) {
          seenAt = e.ends[order[i]];
          break;
        }
      }
      windows.push([c.from, seenAt === null ? until : seenAt]);
      if (seenAt === null) {
        notSeen.push(until - c.at); // how soon the next change came
        perChange.push(null);
        continue;
      }
      firstSeen.push(seenAt - c.at);
      perChange.push(seenAt - c.at);
    }
    // went back: once the edge has served change k (a response with its version ended), every
    // response that starts later must carry the version of k or of a change after it that could
    // be seen before that response ended
    const shown = []; // [time the edge first served change k, k], by time, k a running maximum
    perChange.forEach((d, k) => { if (d !== null) shown.push([log[k].at + d, k]); });
    shown.sort((a, b) => a[0] - b[0]);
    for (let x = 1; x < shown.length; x++) shown[x][1] = Math.max(shown[x][1], shown[x - 1][1]);
    const lastBefore = (arr, t, key) => { // index of the last element with key(el) < t, or -1
      let lo = 0;
      let hi = arr.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (key(arr[mid]) < t) lo = mid + 1;
        else hi = mid;
      }
      return lo - 1;
    };
    for (let r = 0; r < n; r++) {
      const v = e.versions[r];
      if (v <= 0) continue;
      // with skew protection an asset of its page's deploy is right, however old that page
      if (skew > 0 && e.paths[r] !== 0 && v === e.pageVersions[r]) continue;
      const x = lastBefore(shown, e.starts[r], (a) => a[0]);
      if (x < 0) continue;
      const k = shown[x][1];
      const m = lastBefore(log, e.ends[r] + 1e-9, (c) => c.from); // from <= end
      let ok = false;
      for (let q = k; q <= m && !ok; q++) ok = log[q].version === v;
      if (!ok) {
        backwards++;
        if (backSamples.length < 10) {
          backSamples.push(`change ${k + 1} (${log[k].kind} to v=${log[k].version}) first served ${ms(shown[x][0] - log[k].at)} ms after it; ` +
            `then ${PATHS[e.paths[r]]} answered v=${v}, started ${ms(e.starts[r] - shown[x][0])} ms after that, took ${ms(e.ends[r] - e.starts[r])} ms`);
        }
      }
    }
    // a change this edge never showed on its own (the next came first) stays possible until the
    // edge shows a later one: its window ends with the next change's
    for (let k = log.length - 2; k >= 0; k--) {
      if (perChange[k] === null) windows[k][1] = Math.max(windows[k][1], windows[k + 1][1]);
    }
    // a mixed page load is explained when it overlaps changes' windows on this edge (the edge
    // switched during it) and its versions are of those changes and the one before them
    let unexplained = 0;
    const unexplainedSamples = [];
    for (const m of e.mixedSamples) {
      // (changes close together: a page load may overlap several, and carry three versions)
      let lo = -1;
      let hi = -1;
      for (let k = 0; k < log.length; k++) {
        const [a, b] = windows[k];
        if (a > m.end || b < m.start) continue;
        if (lo < 0) lo = k;
        hi = k;
      }
      let ok = false;
      if (lo >= 0) {
        const allowed = new Set([lo > 0 ? log[lo - 1].version : 1]);
        for (let k = lo; k <= hi; k++) allowed.add(log[k].version);
        ok = m.versions.every((v) => allowed.has(v));
      }
      if (!ok) {
        unexplained++;
        if (unexplainedSamples.length < 5) unexplainedSamples.push(`versions ${m.versions.join(', ')}, page load ${ms(m.end - m.start)} ms`);
      }
    }
    return {
      edge: idx + 1,
      unexplained,
      unexplainedSamples,
      port: edgePorts[idx],
      responses: n,
      rps: n / seconds,
      pages: e.pages,
      mixed: e.mixed,
      non200,
      connErrors,
      incomplete,
      backwards,
      connects: e.connects,
      firstSeen,
      notSeen,
      perChange,
      mixedSamples: e.mixedSamples.slice(0, 20),
      errorSamples: e.errorSamples,
      backSamples,
    };
  });

  const deploys = log.filter((c) => c.kind === 'deploy');
  const rollbacks = log.filter((c) => c.kind === 'rollback');
  const lastChangeEnd = log.length ? log[log.length - 1].at : loadStart;
  const deployMs = deploys.map((c) => c.at - c.started);
  const createMs = deploys.map((c) => c.createdAt - c.started);
  const uploadMs = deploys.map((c) => c.uploaded - c.createdAt);
  const processMs = deploys.map((c) => c.at - c.uploaded);
  const restoreMs = rollbacks.map((c) => c.at - c.started);
  const lines = [];
  const total = perEdge.reduce((a, e) => a + e.responses, 0);
  lines.push(`- load: ${seconds.toFixed(1)} s, ${edgePorts.length} edges, ${connections} keep-alive connections each, page loads back to back (GET /, /app.js, /style.css on one connection; one visitor per connection, sending the cookies it was given)`);
  lines.push(`- skew protection: ${skew > 0 ? `on (\`skew_protection_max_age\` ${skew} s)` : 'off'}`);
  lines.push(`- changes: ${log.length} (${deploys.length} deploys, ${rollbacks.length} rollbacks to a random earlier deploy), the last ${((loadEnd - lastChangeEnd) / 1000).toFixed(1)} s before the load's end; a deploy (create with digests, 3 uploads, until published) took p50 ${ms(pct(deployMs, 50))} ms, max ${ms(Math.max(...deployMs))} ms ` +
    `(create p50 ${ms(pct(createMs, 50))} ms, 3 uploads p50 ${ms(pct(uploadMs, 50))} ms, then until \`published_at\` p50 ${ms(pct(processMs, 50))} ms); ` +
    `a rollback's restore call took p50 ${ms(pct(restoreMs, 50))} ms, max ${ms(Math.max(...restoreMs))} ms`);
  lines.push('');
  lines.push('| edge | req/s | responses | page loads | non-200 | connection errors | incomplete bodies | mixed page loads | of which not across a change | went back to an older version | connections opened |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const e of perEdge) {
    lines.push(`| edge ${e.edge} | ${Math.round(e.rps)} | ${e.responses} | ${e.pages} | ${e.non200} | ${e.connErrors} | ${e.incomplete} | ${e.mixed} | ${e.unexplained} | ${e.backwards} | ${e.connects} |`);
  }
  const sum = (f) => perEdge.reduce((a, e) => a + f(e), 0);
  lines.push(`| total | ${Math.round(total / seconds)} | ${total} | ${sum((e) => e.pages)} | ${sum((e) => e.non200)} | ${sum((e) => e.connErrors)} | ${sum((e) => e.incomplete)} | ${sum((e) => e.mixed)} | ${sum((e) => e.unexplained)} | ${sum((e) => e.backwards)} | ${sum((e) => e.connects)} |`);
  lines.push('');
  lines.push('Publish-to-visible delay (ms): from the change\'s moment (a deploy\'s `published_at`, a rollback\'s 200) until the first response of that edge that ends later and carries the new version.');
  lines.push('');
  lines.push('| edge | changes seen | not seen before the next change | all: p50 | p99 | max | deploys: p50 | max | rollbacks: p50 | max | rollbacks from the request sent: p50 | max |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const allSeen = [];
  for (const e of perEdge) {
    const dep = [];
    const rb = [];
    const rbSent = [];
    e.perChange.forEach((d, k) => {
      if (d === null) return;
      (log[k].kind === 'deploy' ? dep : rb).push(d);
      if (log[k].kind === 'rollback') rbSent.push(d + log[k].at - log[k].started);
    });
    allSeen.push(...e.firstSeen);
    lines.push(`| edge ${e.edge} | ${e.firstSeen.length} | ${e.notSeen.length} | ${ms(pct(e.firstSeen, 50))} | ${ms(pct(e.firstSeen, 99))} | ${ms(Math.max(...e.firstSeen))} | ${ms(pct(dep, 50))} | ${ms(Math.max(...dep))} | ${ms(pct(rb, 50))} | ${ms(Math.max(...rb))} | ${ms(pct(rbSent, 50))} | ${ms(Math.max(...rbSent))} |`);
  }
  const gaps = perEdge.flatMap((e) => e.notSeen);
  lines.push(`| both | ${allSeen.length} | ${gaps.length} | ${ms(pct(allSeen, 50))} | ${ms(pct(allSeen, 99))} | ${ms(Math.max(...allSeen))} | | | | | | |`);
  lines.push('');
  lines.push(`CPU during the load (cores; the machine has ${(await import('node:os')).cpus().length}; load average ${load0} at the start, ${load1} at the end):`);
  lines.push('');
  const use = cpuUse(cpu0, cpu1, seconds, hz);
  lines.push(`| ${Object.keys(use).join(' | ')} |`);
  lines.push(`|${Object.keys(use).map(() => '---:').join('|')}|`);
  lines.push(`| ${Object.values(use).map((v) => v.toFixed(2)).join(' | ')} |`);
  if (gaps.length) {
    lines.push('');
    lines.push(`Changes not seen before the next change: the next one could be seen ${gaps.map((g) => ms(g)).join(', ')} ms after them (the deployer runs behind its schedule when a deploy takes long, and then starts the next change at once).`);
  }
  const samples = perEdge.flatMap((e) => e.errorSamples.map((s) => `edge ${e.edge}: ${s}`));
  const mixedSamples = perEdge.flatMap((e) => e.mixedSamples.slice(0, 3).map((s) => `edge ${e.edge}: versions ${s.versions.join(', ')} (page load ${ms(s.end - s.start)} ms)`));
  if (samples.length) {
    lines.push('');
    lines.push('First errors:');
    lines.push('');
    for (const s of samples.slice(0, 10)) lines.push(`- ${s}`);
  }
  const backs = perEdge.flatMap((e) => e.backSamples.map((s) => `edge ${e.edge}: ${s}`));
  if (backs.length) {
    lines.push('');
    lines.push('Responses that went back to an older version:');
    lines.push('');
    for (const s of backs.slice(0, 10)) lines.push(`- ${s}`);
  }
  const unexplainedSamples = perEdge.flatMap((e) => e.unexplainedSamples.map((s) => `edge ${e.edge}: ${s}`));
  if (unexplainedSamples.length) {
    lines.push('');
    lines.push('Mixed page loads not across a change:');
    lines.push('');
    for (const s of unexplainedSamples) lines.push(`- ${s}`);
  }
  if (mixedSamples.length) {
    lines.push('');
    lines.push('Some mixed page loads:');
    lines.push('');
    for (const s of mixedSamples) lines.push(`- ${s}`);
  }
  fs.writeFileSync(out, lines.join('\n') + '\n');
  fs.writeFileSync(out + '.json', JSON.stringify({
    loadStart, loadEnd,
    changes: log,
    edges: perEdge.map((e) => ({ ...e, firstSeen: undefined })),
  }, null, 1));
  console.log(lines.join('\n'));
}

if (isMainThread) {
  main().catch((e) => {
    console.error(`soak: ${e.stack || e}`);
    process.exit(1);
  });
}
