#!/usr/bin/env node
// Differential test of RepliDeploy's redirect matcher against Netlify's own engine.
//
//   node compare.mjs path/to/rd_rules_oracle [--seed N] [--sets N] [--requests N] [--show N]
//
// Generates rule sets (`_redirects` text) and requests from a seeded PRNG, asks
// netlify-redirector (a WebAssembly build of Netlify's C++ matcher, pinned in package.json) and
// our rd_rules_oracle binary, and compares what they decide. Exits 1 on any mismatch, printing
// the first few.
//
// The engine knows nothing of static files; the shadowing step is emulated as Netlify's CLI
// does it: the first match, if not forced and a file exists, gives way to the file. One
// deliberate difference is built in: after a refused Role rule (the engine flags the later
// match `negative`), a shadowed match is a denial rather than the protected file.
//
// Some `_redirects` files get invalid lines among the valid ones: lines the engine drops (with
// a parse error) and lines it keeps that we skip on purpose. Both sides must drop the same lines
// (plus, on our side, exactly the deliberate ones), and then decide every request the same.
//
// The generator's valid rules stay inside the syntax where we agree by design. It leaves out
// what src/edge/rules_parse.cpp and rules_match.cpp document as deliberate differences: rule and
// request paths with percent-escapes or non-ASCII (we decode both sides, the engine compares
// raw text), '//' and '*' in the middle of FROM, statuses outside 200..599, upper-case hosts,
// placeholder names that are prefixes of one another, malformed escapes in query values.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function parseArgs(argv) {
  const opts = { seed: 20240601, sets: 600, requests: 16, show: 5, binary: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seed') opts.seed = Number(argv[++i]);
    else if (a === '--sets') opts.sets = Number(argv[++i]);
    else if (a === '--requests') opts.requests = Number(argv[++i]);
    else if (a === '--show') opts.show = Number(argv[++i]);
    else if (!opts.binary) opts.binary = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  if (!opts.binary) throw new Error('usage: compare.mjs BINARY [--seed N] [--sets N] [--requests N]');
  return opts;
}

// mulberry32: small, fast, and the same sequence on every machine.
function makeRng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    chance: (p) => next() < p,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (list) => list[Math.floor(next() * list.length)],
    shuffle: (list) => {
      const out = [...list];
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [out[i], out[j]] = [out[j], out[i]];
      }
      return out;
    },
  };
}

const SEGMENTS = ['a', 'b', 'blog', 'news', 'docs', 'en', 'v1', 'x-y', 'a.b', '_c', 'd~e', '2020'];
const NAMES = ['id', 'slug', 'year', 'lang', 'page', 'cat']; // none is a prefix of another
const QUERY_KEYS = ['q', 'id', 'page', 'ref', 'utm'];
const QUERY_LITERALS = ['1', 'abc', 'x.y', 'a+b', '5'];
const QUERY_VALUES = ['1', 'abc', 'x.y', 'a+b', 'a%2Bb', '%35', '5', 'a%20b', '%C3%A9', '', 'x~y'];
const HOSTS = [['https', 'h1.test'], ['http', 'h2.test']];
const STATUSES = [null, 200, 301, 302, 303, 307, 308, 404, 410, 451];
const CONDITIONS = {
  Country: [['us'], ['us', 'ca'], ['DE'], ['fr', 'gb']],
  Language: [['en'], ['de', 'fr'], ['EN']],
  Role: [['admin'], ['editor', 'admin']],
  Cookie: [['beta'], ['beta', 'ab']],
};
// Lines that Netlify's engine drops (it reports a parse error for the line and keeps the rest),
// and so do we.
const INVALID_LINES = [
  '/x', '/x b', '/x ftp://y', '/x /y abc', '/x /y 301 Foo', '/x /y Country=us',
  '/x https://', 'y /z', '/x /y 301 Country=', '/x k= /y', '/g/* 301', '/r 307',
  '/x /y 301 junk', '/x /y /z', '/x /y Country=us 301', '/x http://', '/x /y 200 Role=',
  '/x =v /y', '/x https:///y', '/x /y 302 Sign=',
];
// Lines the engine keeps without a parse error but we skip on purpose (rules_parse.cpp lists
// why). Their FROM is under /zz-skip (or /.netlify), which no generated request asks for, so
// keeping or skipping them cannot change a decision: what is compared is that the engine keeps
// them and we skip exactly them.
const DELIBERATE_SKIPS = [
  '/zz-skip/*.jpg /img', '/zz-skip/*/x /c', '/zz-skip /b 999', '/zz-skip /b 0301',
  '/zz-skip /b 301!!', '/zz-skip? /b', '/zz-skip//b /c', '/zz-skip/:id* /y',
  '/zz-skip //evil.test/x', '/zz-skip /b\\c', '/zz-skip /b 301 Colour=red', '/zz-skip k=1 k=2 /b',
  '/zz-skip k=x&y /b', '/zz-skip /b 301 Country=us Country=ca', '/zz-skip%2Fb /c',
  '/zz-skip%zz /c', '/zz-skip /b 0', '/.netlify/zz /y', '/zz-skip /b 301 Country=us,',
  'https://bad_host!/zz-skip /b',
];

const JWT_SECRET = 'oracle-secret';
const ROLE_CLAIM = 'app_metadata.authorization.roles';

function jwtFor(roles) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const body = b64({ exp: Math.floor(Date.now() / 1000) + 3600, app_metadata: { authorization: { roles } } });
  const sig = crypto.createHmac('sha256', JWT_SECRET).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

function generateRule(rng, index, previous) {
  const rule = { index, segments: [], splat: 'none', suffix: '', host: null, query: [], names: [] };
  if (previous.length > 0 && rng.chance(0.15)) {
    // Same FROM as an earlier rule, so that conditions decide which one wins.
    const p = rng.pick(previous);
    Object.assign(rule, { segments: p.segments, splat: p.splat, suffix: p.suffix, host: p.host, names: p.names });
    rule.fromText = p.fromText;
    rule.pathText = p.pathText;
  } else {
    const kind = rng.pick(['exact', 'exact', 'exact', 'splat', 'splat', 'splat', 'suffix', 'placeholder',
      'placeholder', 'placeholder', 'root', 'rootsplat', 'forward']);
    const n = kind === 'root' || kind === 'rootsplat' ? 0 : rng.int(kind === 'suffix' ? 0 : 1, 3);
    const names = rng.shuffle(NAMES);
    for (let i = 0; i < n; i++) {
      if (kind === 'placeholder' && rng.chance(0.5)) {
        const name = names.pop();
        rule.segments.push(`:${name}`);
        rule.names.push(name);
      } else {
        rule.segments.push(rng.pick(SEGMENTS));
      }
    }
    if (kind === 'placeholder' && rule.names.length === 0 && n > 0) {
      const name = names.pop();
      rule.segments[n - 1] = `:${name}`;
      rule.names.push(name);
    }
    if (kind === 'splat' || kind === 'rootsplat' || kind === 'forward' || (kind === 'placeholder' && rng.chance(0.3))) {
      rule.splat = 'segment';
    } else if (kind === 'suffix') {
      rule.splat = 'suffix';
      rule.suffix = rng.pick(['g', 'blog', 'x-', 'v']);
    }
    let from = '/' + rule.segments.join('/');
    if (rule.splat === 'segment') from += rule.segments.length ? '/*' : '*';
    if (rule.splat === 'suffix') from += (rule.segments.length ? '/' : '') + rule.suffix + '*';
    if (rule.splat === 'none' && from !== '/' && rng.chance(0.2)) from += '/';
    if (kind !== 'forward' && rng.chance(0.1)) {
      rule.host = rng.pick(HOSTS);
      from = `${rule.host[0]}://${rule.host[1]}${from}`;
    }
    rule.fromText = from;
    rule.pathText = from.replace(/^https?:\/\/[^/]+/, '');
    if (kind === 'forward') {
      rule.status = 200;
      rule.force = rng.chance(0.3);
      rule.forward = true;
      rule.conditions = [];
      rule.to = from.replace(/\/\*$/, '/:splat');
      rule.text = `${from} 200${rule.force ? '!' : ''}`;
      return rule;
    }
  }

  const free = NAMES.filter((n) => !rule.names.includes(n));
  if (rng.chance(0.25)) {
    for (const key of rng.shuffle(QUERY_KEYS).slice(0, rng.int(1, 2))) {
      if (rng.chance(0.5) && free.length > 0) {
        const name = free.splice(rng.int(0, free.length - 1), 1)[0];
        rule.query.push({ key, placeholder: name });
      } else {
        rule.query.push({ key, literal: rng.pick(QUERY_LITERALS) });
      }
    }
  }

  let to = rng.chance(0.15) ? `https://ex.test/t${index}` : `/t${index}`;
  const usable = [...rule.names, ...rule.query.filter((q) => q.placeholder).map((q) => q.placeholder)];
  for (const name of rng.shuffle(usable)) if (rng.chance(0.8)) to += `/:${name}`;
  if (rule.splat !== 'none' && rng.chance(0.9)) to += '/:splat';
  if (rule.splat === 'none' && rng.chance(0.05)) to += '/:splat';
  if (rng.chance(0.05)) to += '/:zzz';
  if (usable.length > 0 && rng.chance(0.15)) to += `?k=:${rng.pick(usable)}`;
  else if (rng.chance(0.08)) to += '?fixed=1';
  if (rng.chance(0.05)) to += '/';

  rule.to = to;
  const parts = [rule.fromText, ...rule.query.map((q) => `${q.key}=${q.placeholder ? ':' + q.placeholder : q.literal}`), to];
  rule.status = rng.pick(STATUSES);
  rule.force = false;
  rule.conditions = [];
  if (rule.status !== null) {
    rule.force = rng.chance(0.3);
    parts.push(`${rule.status}${rule.force ? '!' : ''}`);
    if (rng.chance(0.25)) {
      for (const name of rng.shuffle(Object.keys(CONDITIONS)).slice(0, rng.int(1, 2))) {
        const values = rng.pick(CONDITIONS[name]);
        rule.conditions.push([name, values]);
        parts.push(`${name}=${values.join(',')}`);
      }
    }
  }
  rule.text = parts.join(rng.chance(0.2) ? '\t' : ' ');
  if (rng.chance(0.05)) rule.text += ' # a comment';
  return rule;
}

function generateSet(rng, id, requestsPerSet) {
  const rules = [];
  const lines = [];
  const count = rng.int(1, 12);
  for (let i = 0; i < count; i++) {
    const rule = generateRule(rng, i, rules);
    rules.push(rule);
    if (rng.chance(0.1)) lines.push(rng.pick(['', '# comment', '   ', '\t# indented comment']));
    lines.push(rule.text);
  }
  const requests = [];
  for (let i = 0; i < requestsPerSet; i++) requests.push(generateRequest(rng, rules));
  if (rng.chance(0.25)) {
    // The same rules as netlify.toml [[redirects]] for us and as JSON for the engine.
    return { id, toml: toToml(rng, rules), json: rules.map(toEngineJson), invalid: false, requests, text: '' };
  }
  // Some files get lines that do not parse, among the valid ones: both sides must keep the
  // same lines, and then decide every request the same.
  const invalid = rng.chance(0.2);
  const deliberate = [];
  if (invalid) {
    const marked = lines.map((text) => ({ text, kind: 'valid' }));
    for (let n = rng.int(1, 3); n > 0; n--) {
      const kind = rng.chance(0.6) ? 'invalid' : 'deliberate';
      const text = rng.pick(kind === 'invalid' ? INVALID_LINES : DELIBERATE_SKIPS);
      marked.splice(rng.int(0, marked.length), 0, { text, kind });
    }
    lines.length = 0;
    marked.forEach((m, i) => {
      lines.push(m.text);
      if (m.kind === 'deliberate') deliberate.push(i + 1);
    });
  }
  return { id, text: lines.join(rng.chance(0.1) ? '\r\n' : '\n') + (rng.chance(0.5) ? '\n' : ''), invalid, deliberate, requests };
}

function toToml(rng, rules) {
  const out = ['[build]', 'command = "make"', ''];
  for (const r of rules) {
    out.push('[[redirects]]', `from = ${JSON.stringify(r.fromText)}`);
    if (!r.forward || rng.chance(0.5)) out.push(`to = ${JSON.stringify(r.to)}`);
    if (r.status !== null) out.push(`status = ${r.status}`);
    if (r.force || rng.chance(0.2)) out.push(`force = ${r.force}`);
    if (r.query.length > 0) {
      out.push(`query = {${r.query.map((q) => `${q.key} = ${JSON.stringify(q.placeholder ? ':' + q.placeholder : q.literal)}`).join(', ')}}`);
    }
    if (r.conditions.length > 0) {
      const items = r.conditions.map(([name, values]) =>
        `${name} = ${rng.chance(0.5) ? JSON.stringify(values) : JSON.stringify(values.join(','))}`);
      out.push(`conditions = {${items.join(', ')}}`);
    }
    out.push('');
  }
  return out.join('\n');
}

function toEngineJson(r) {
  const rule = { path: r.pathText, to: r.to, force: r.force };
  if (r.host) [rule.scheme, rule.host] = r.host;
  if (r.status !== null) rule.status = r.status;
  if (r.query.length > 0) {
    rule.params = Object.fromEntries(r.query.map((q) => [q.key, q.placeholder ? ':' + q.placeholder : q.literal]));
  }
  // netlify.toml conditions have no order; we check Role last, so the engine gets it last.
  const conditions = [...r.conditions.filter(([n]) => n !== 'Role'), ...r.conditions.filter(([n]) => n === 'Role')];
  if (conditions.length > 0) rule.conditions = Object.fromEntries(conditions.map(([n, v]) => [n, v]));
  return rule;
}

function generateRequest(rng, rules) {
  const rule = rng.chance(0.7) ? rng.pick(rules) : null;
  let segs = [];
  let host = rng.pick([...HOSTS, ['https', 'other.test']]);
  if (rule) {
    for (const s of rule.segments) segs.push(s.startsWith(':') ? rng.pick([...SEGMENTS, 'Z9', 'q.r']) : s);
    if (rule.splat === 'segment') for (let n = rng.int(0, 3); n > 0; n--) segs.push(rng.pick(SEGMENTS));
    if (rule.splat === 'suffix') {
      let last = rule.suffix + rng.pick(['', 'x', 'blog', '-1']);
      segs.push(last);
      for (let n = rng.int(0, 2); n > 0; n--) segs.push(rng.pick(SEGMENTS));
    }
    if (rule.host && rng.chance(0.8)) host = rule.host;
    if (rng.chance(0.08) && segs.length > 0) {
      const k = rng.int(0, segs.length - 1);
      segs[k] = segs[k].toUpperCase();
    }
    if (rng.chance(0.05) && segs.length > 0) segs.pop();
    if (rng.chance(0.05)) segs.push(rng.pick(SEGMENTS));
  } else {
    for (let n = rng.int(0, 3); n > 0; n--) segs.push(rng.pick(SEGMENTS));
  }
  let path = '/' + segs.join('/');
  if (path !== '/' && rng.chance(0.25)) path += '/';

  const params = [];
  if (rule && rule.query.length > 0 && rng.chance(0.75)) {
    for (const q of rule.query) {
      if (rng.chance(0.9)) params.push(`${q.key}=${q.literal && rng.chance(0.6) ? q.literal : rng.pick(QUERY_VALUES)}`);
    }
  }
  for (let n = rng.int(0, 2); n > 0; n--) params.push(`${rng.pick(QUERY_KEYS)}=${rng.pick(QUERY_VALUES)}`);
  let query = rng.shuffle(params).join('&');
  if (rng.chance(0.05)) query += '&';
  if (rng.chance(0.05)) query = '&' + query;
  if (rng.chance(0.03)) query += `&${rng.pick(QUERY_KEYS)}`;

  return {
    path,
    query,
    scheme: host[0],
    host: host[1],
    country: rng.pick(['', 'us', 'US', 'ca', 'de', 'fr']),
    language: rng.pick(['', 'en', 'en-US', 'de', 'de-AT', 'fr', 'EN-gb']),
    roles: rng.pick([[], [], ['admin'], ['editor'], ['user'], ['user', 'admin']]),
    cookie: rng.pick(['', '', 'beta=1', 'ab=', 'x=1; ab=2', 'beta=on; x=2']),
    static: rng.chance(0.2),
  };
}

function cookieValue(header, name) {
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq >= 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return '';
}

function engineDecision(matcher, req) {
  const m = matcher.match({
    scheme: req.scheme,
    host: req.host,
    path: req.path,
    query: req.query,
    getHeader: (name) => {
      const n = name.toLowerCase();
      if (n === 'x-country') return req.country;
      if (n === 'x-language') return req.language;
      return '';
    },
    getCookie: (name) => (name === 'nf_jwt' ? (req.roles.length ? jwtFor(req.roles) : '') : cookieValue(req.cookie, name)),
  });
  if (m === null || m === undefined) return { kind: 'none' };
  if (m.force404) return { kind: 'denied' };
  if (req.static && !m.force) return m.negative ? { kind: 'denied' } : { kind: 'shadowed', from: m.from };
  return { kind: 'rule', from: m.from, to: m.to, status: m.status, force: m.force };
}

function ourDecision(r) {
  if (r.kind === 'rule') return { kind: 'rule', from: r.from, to: r.to, status: r.status, force: r.force };
  if (r.kind === 'shadowed') return { kind: 'shadowed', from: r.from };
  return { kind: r.kind };
}

function loadEngine() {
  const Module = require('netlify-redirector/lib/redirects.js');
  return new Promise((resolve) => {
    if (Module.calledRun) resolve(Module);
    else Module.onRuntimeInitialized = () => resolve(Module);
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const rng = makeRng(opts.seed);
  const sets = [];
  for (let id = 0; id < opts.sets; id++) sets.push(generateSet(rng, id, opts.requests));

  const input = sets.map((s) => JSON.stringify({ id: s.id, redirects: s.text, toml: s.toml, requests: s.requests })).join('\n') + '\n';
  const run = spawnSync(opts.binary, [], { input, maxBuffer: 1 << 30, encoding: 'utf8' });
  if (run.error || run.status !== 0) {
    console.error(`${opts.binary} failed: ${run.error ?? `exit ${run.status}`}\n${run.stderr}`);
    process.exit(2);
  }
  const ours = new Map(run.stdout.trim().split('\n').map((line) => {
    const o = JSON.parse(line);
    return [o.id, o];
  }));

  const Engine = await loadEngine();
  const mismatches = [];
  let requests = 0;
  let kinds = {};
  for (const set of sets) {
    const parser = new Engine.RedirectParser({ jwtSecret: JWT_SECRET, jwtRoleClaim: ROLE_CLAIM });
    const matcher = set.json ? parser.parseJSON(JSON.stringify(set.json)) : parser.parsePlain(set.text);
    // The engine reports "origin and destination cannot be the same" (also for rules that do
    // differ, such as "/ id=1 /x" or a host rule to its own path) but keeps the rule: a warning.
    const engineErrors = parser.parseErrors().filter((e) => e.msg !== 'origin and destination cannot be the same');
    const our = ours.get(set.id);
    if (!our) {
      mismatches.push({ set, problem: 'no answer from our binary' });
    } else if (our.error) {
      mismatches.push({ set, problem: 'our parser failed the whole file', engine: engineErrors, ours: our.error });
    } else {
      // Which lines each side drops: the engine drops a line it reports an error for; we skip
      // those, plus the deliberate ones, which the engine must keep.
      const engineDropped = [...new Set(engineErrors.map((e) => e.lineNumber))].sort((a, b) => a - b);
      const ourSkipped = our.skipped.filter((s) => s.file === '_redirects').map((s) => s.line);
      const expected = [...new Set([...engineDropped, ...(set.deliberate ?? [])])].sort((a, b) => a - b);
      const keptByEngine = (set.deliberate ?? []).filter((n) => engineDropped.includes(n));
      if (JSON.stringify(ourSkipped) !== JSON.stringify(expected) || keptByEngine.length > 0) {
        mismatches.push({
          set, problem: 'kept lines differ', engine: { dropped: engineDropped, errors: engineErrors },
          ours: { skipped: our.skipped }, expectedSkipped: expected,
        });
      } else {
        if (set.invalid) {
          kinds.invalid_files = (kinds.invalid_files ?? 0) + 1;
          kinds.skipped_lines = (kinds.skipped_lines ?? 0) + ourSkipped.length;
        }
        set.requests.forEach((req, i) => {
          requests++;
          const expectedDecision = engineDecision(matcher, req);
          const actual = ourDecision(our.results[i]);
          kinds[expectedDecision.kind] = (kinds[expectedDecision.kind] ?? 0) + 1;
          if (JSON.stringify(expectedDecision) !== JSON.stringify(actual)) {
            mismatches.push({ set, request: req, engine: expectedDecision, ours: actual });
          }
        });
      }
    }
    matcher.delete();
    parser.delete();
  }

  const tomlSets = sets.filter((s) => s.toml).length;
  console.log(`oracle: ${sets.length} rule sets (${sets.length - tomlSets} _redirects, ${tomlSets} netlify.toml), ` +
    `${requests} requests (seed ${opts.seed}); engine decisions: ${JSON.stringify(kinds)}`);
  for (const m of mismatches.slice(0, opts.show)) {
    console.log('--- mismatch ---');
    console.log(m.set.toml ? `netlify.toml:\n${m.set.toml}` : `rules:\n${m.set.text}`);
    if (m.request) console.log(`request: ${JSON.stringify(m.request)}`);
    if (m.problem) console.log(`problem: ${m.problem}`);
    if (m.expectedSkipped) console.log(`expected skipped lines: ${JSON.stringify(m.expectedSkipped)}`);
    console.log(`netlify-redirector: ${JSON.stringify(m.engine)}`);
    console.log(`ours:               ${JSON.stringify(m.ours)}`);
  }
  if (mismatches.length > 0) {
    console.log(`0 passed, ${mismatches.length} failed`);
    process.exit(1);
  }
  console.log(`${requests + sets.length} passed, 0 failed`);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
