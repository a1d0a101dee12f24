// Fakes of three DNS hosts' HTTP APIs for the DNS-01 tests (src/domains/dns_providers_test.cpp):
// acme-dns (POST /update), Cloudflare API v4 (/client/v4/zones, dns_records) and Route 53
// (/2013-04-01/: hostedzonesbyname, rrset changes, change status), each speaking the real wire
// format (JSON envelopes, Route 53's XML, SigV4 checked by ../s3/sigv4_check.js, an independent
// implementation). What they accept is applied to a real authoritative server (Knot) by RFC 2136
// (knsupdate with TSIG), so that Pebble validates against what the API calls produced.
//
// Usage: node fake.js CONFIG.json PORT_FILE. Listens on 127.0.0.1, port 0; writes {"port": N}
// to PORT_FILE once it accepts requests. GET /_fake/requests answers the requests seen so far.
'use strict';
const fs = require('fs');
const http = require('http');
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const { expectedSignature } = require('../s3/sigv4_check');

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const portFile = process.argv[3];
const seen = [];

// --- Knot ---------------------------------------------------------------------------------
function setTxt(name, values) {
  const [keyName, alg, secret] = config.knot.tsig.split(':');
  const lines = [
    `server 127.0.0.1 ${config.knot.port}`,
    `zone ${config.knot.zone}.`,
    `key ${alg}:${keyName} ${secret}`,
    `update delete ${name}. TXT`,
    ...values.map((v) => `update add ${name}. 60 TXT "${v}"`),
    'send',
    'quit',
  ];
  execFileSync('knsupdate', [], { input: lines.join('\n') + '\n' });
}

const inZone = (name, zone) => name === zone || name.endsWith('.' + zone);
const txtValue = (v) => typeof v === 'string' && /^[A-Za-z0-9_-]{43}$/.test(v);

function send(res, status, type, body) {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

// --- acme-dns -----------------------------------------------------------------------------
const acmeDnsValues = {}; // subdomain -> [newest two values]
function acmeDns(req, res, body) {
  const json = (status, obj) => send(res, status, 'application/json', JSON.stringify(obj));
  if (req.method !== 'POST' || req.url !== '/update') return json(404, { error: 'not_found' });
  const account = config.acmeDns.accounts[req.headers['x-api-user'] || ''];
  if (!account || account.password !== req.headers['x-api-key']) return json(401, { error: 'forbidden' });
  let update;
  try {
    update = JSON.parse(body);
  } catch {
    return json(400, { error: 'malformed_json_payload' });
  }
  if (update.subdomain !== account.subdomain) return json(401, { error: 'forbidden' });
  if (!txtValue(update.txt)) return json(400, { error: 'bad_txt' });
  const values = [update.txt, ...(acmeDnsValues[update.subdomain] || [])].slice(0, 2);
  acmeDnsValues[update.subdomain] = values;
  setTxt(`${update.subdomain}.${config.acmeDns.domain}`, values);
  json(200, { txt: update.txt });
}

// --- Cloudflare ---------------------------------------------------------------------------
const cfRecords = {}; // record id -> {zone, name, content}
function cloudflare(req, res, body) {
  const envelope = (status, result, errors = []) =>
    send(res, status, 'application/json',
      JSON.stringify({ success: errors.length === 0, errors, messages: [], result }));
  if (req.headers.authorization !== `Bearer ${config.cloudflare.token}`) {
    return envelope(403, null, [{ code: 10000, message: 'Authentication error' }]);
  }
  const url = new URL(req.url, 'http://x');
  const path = url.pathname.replace(/^\/client\/v4/, '');
  const zoneName = (id) => Object.keys(config.cloudflare.zones).find((z) => config.cloudflare.zones[z] === id);
  let m;
  if (req.method === 'GET' && path === '/zones') {
    const name = url.searchParams.get('name');
    const id = config.cloudflare.zones[name];
    return envelope(200, id ? [{ id, name, status: 'active' }] : []);
  }
  if (req.method === 'POST' && (m = /^\/zones\/([0-9a-f]+)\/dns_records$/.exec(path))) {
    const zone = zoneName(m[1]);
    if (!zone) return envelope(404, null, [{ code: 7003, message: 'Could not route to /zones/' + m[1] }]);
    if (req.headers['content-type'] !== 'application/json') {
      return envelope(400, null, [{ code: 6003, message: 'Invalid request headers' }]);
    }
    let r;
    try {
      r = JSON.parse(body);
    } catch {
      return envelope(400, null, [{ code: 9207, message: 'Request body is invalid.' }]);
    }
    if (r.type !== 'TXT' || typeof r.name !== 'string' || !inZone(r.name, zone) || !txtValue(r.content) ||
        !(r.ttl === 1 || (Number.isInteger(r.ttl) && r.ttl >= 60 && r.ttl <= 86400))) {
      return envelope(400, null, [{ code: 9005, message: 'Content for TXT record is invalid.' }]);
    }
    const id = crypto.randomBytes(16).toString('hex');
    cfRecords[id] = { zone, name: r.name, content: r.content };
    setTxt(r.name, Object.values(cfRecords).filter((x) => x.name === r.name).map((x) => x.content));
    return envelope(200, { id, zone_id: m[1], type: 'TXT', name: r.name, content: r.content, ttl: r.ttl });
  }
  if (req.method === 'DELETE' && (m = /^\/zones\/([0-9a-f]+)\/dns_records\/([0-9a-f]+)$/.exec(path))) {
    const record = cfRecords[m[2]];
    if (!record || config.cloudflare.zones[record.zone] !== m[1]) {
      return envelope(404, null, [{ code: 81044, message: 'Record does not exist.' }]);
    }
    delete cfRecords[m[2]];
    setTxt(record.name, Object.values(cfRecords).filter((x) => x.name === record.name).map((x) => x.content));
    return envelope(200, { id: m[2] });
  }
  envelope(404, null, [{ code: 7003, message: 'No route for that URI' }]);
}

// --- Route 53 -----------------------------------------------------------------------------
const r53Sets = {}; // name (with dot) -> {ttl, values: [...]}
const r53Changes = {}; // id -> number of reads left before INSYNC
let r53Counter = 0;
function route53(req, res, body) {
  const xml = (status, text) => send(res, status, 'text/xml', '<?xml version="1.0"?>\n' + text);
  const error = (status, code, message) =>
    xml(status, `<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type>` +
      `<Code>${code}</Code><Message>${message}</Message></Error><RequestId>r${++r53Counter}</RequestId></ErrorResponse>`);
  const sig = expectedSignature(req, config.route53.secrets);
  if (!sig.ok) return error(403, 'SignatureDoesNotMatch', sig.why);
  if (!/\/us-east-1\/route53\/aws4_request/.test(req.headers.authorization)) {
    return error(403, 'SignatureDoesNotMatch', 'Credential should be scoped to a valid region/service');
  }
  if (crypto.createHash('sha256').update(body).digest('hex') !== req.headers['x-amz-content-sha256']) {
    return error(400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 does not match the body');
  }
  const url = new URL(req.url, 'http://x');
  const zones = config.route53.zones; // name -> id
  let m;
  if (req.method === 'GET' && url.pathname === '/2013-04-01/hostedzonesbyname') {
    // As AWS does: zones in order starting at dnsname (not only an exact match).
    const dnsname = (url.searchParams.get('dnsname') || '').replace(/\.$/, '');
    const rev = (n) => n.split('.').reverse().join('.');
    const names = Object.keys(zones).sort((a, b) => (rev(a) < rev(b) ? -1 : 1)).filter((n) => rev(n) >= rev(dnsname));
    const first = names.slice(0, 1);
    return xml(200, '<ListHostedZonesByNameResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><HostedZones>' +
      first.map((n) => `<HostedZone><Id>/hostedzone/${zones[n]}</Id><Name>${n}.</Name><CallerReference>x</CallerReference>` +
        '<Config><PrivateZone>false</PrivateZone></Config><ResourceRecordSetCount>3</ResourceRecordSetCount></HostedZone>').join('') +
      `</HostedZones><DNSName>${dnsname}.</DNSName><IsTruncated>false</IsTruncated><MaxItems>1</MaxItems></ListHostedZonesByNameResponse>`);
  }
  if (req.method === 'POST' && (m = /^\/2013-04-01\/hostedzone\/([A-Z0-9]+)\/rrset\/?$/.exec(url.pathname))) {
    const zone = Object.keys(zones).find((n) => zones[n] === m[1]);
    if (!zone) return error(404, 'NoSuchHostedZone', `No hosted zone found with ID: ${m[1]}`);
    const tag = (t, s = body) => (new RegExp(`<${t}>([^<]*)</${t}>`).exec(s) || [])[1];
    if (!body.includes('<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/">')) {
      return error(400, 'InvalidInput', 'Invalid XML ; not a ChangeResourceRecordSetsRequest');
    }
    const action = tag('Action');
    const name = tag('Name');
    const ttl = Number(tag('TTL'));
    const values = [...body.matchAll(/<Value>&quot;([^<&]*)&quot;<\/Value>/g)].map((x) => x[1]);
    if (tag('Type') !== 'TXT' || !name || !name.endsWith('.') || !inZone(name.slice(0, -1), zone) ||
        !Number.isInteger(ttl) || values.length === 0 || !values.every(txtValue)) {
      return error(400, 'InvalidChangeBatch', 'Invalid resource record set');
    }
    if (action === 'UPSERT') {
      r53Sets[name] = { ttl, values };
    } else if (action === 'DELETE') {
      const cur = r53Sets[name];
      if (!cur || cur.ttl !== ttl || cur.values.slice().sort().join() !== values.slice().sort().join()) {
        return error(400, 'InvalidChangeBatch',
          `[Tried to delete resource record set [name='${name}', type='TXT'] but the values provided do not match the current values]`);
      }
      delete r53Sets[name];
    } else {
      return error(400, 'InvalidChangeBatch', `Invalid action ${action}`);
    }
    setTxt(name.slice(0, -1), r53Sets[name] ? r53Sets[name].values : []);
    const id = `C${String(++r53Counter).padStart(12, '0')}`;
    r53Changes[id] = config.route53.insyncAfterReads;
    return xml(200, '<ChangeResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeInfo>' +
      `<Id>/change/${id}</Id><Status>PENDING</Status><SubmittedAt>2026-12-06T00:00:00.000Z</SubmittedAt></ChangeInfo></ChangeResourceRecordSetsResponse>`);
  }
  if (req.method === 'GET' && (m = /^\/2013-04-01\/change\/(C[0-9]+)$/.exec(url.pathname))) {
    if (!(m[1] in r53Changes)) return error(404, 'NoSuchChange', `A change with the specified change ID does not exist.`);
    const status = r53Changes[m[1]] <= 0 ? 'INSYNC' : 'PENDING';
    r53Changes[m[1]] -= 1;
    return xml(200, '<GetChangeResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeInfo>' +
      `<Id>/change/${m[1]}</Id><Status>${status}</Status><SubmittedAt>2026-12-06T00:00:00.000Z</SubmittedAt></ChangeInfo></GetChangeResponse>`);
  }
  error(404, 'InvalidInput', 'No such operation');
}

// --- the server ---------------------------------------------------------------------------
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    try {
      if (req.url === '/_fake/requests') return send(res, 200, 'application/json', JSON.stringify(seen));
      let api;
      if (req.url.startsWith('/client/v4/')) api = 'cloudflare';
      else if (req.url.startsWith('/2013-04-01/')) api = 'route53';
      else api = 'acme-dns';
      seen.push({ api, method: req.method, url: req.url });
      ({ 'acme-dns': acmeDns, cloudflare, route53 })[api](req, res, body);
    } catch (e) {
      send(res, 500, 'text/plain', String(e && e.stack ? e.stack : e));
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(portFile + '.tmp', JSON.stringify({ port: server.address().port }));
  fs.renameSync(portFile + '.tmp', portFile);
});
