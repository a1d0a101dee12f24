// Checks the AWS Signature Version 4 of every request before s3rver sees it: s3rver 3.7.1
// parses V4 Authorization headers but does not verify them. An independent implementation
// (Node's crypto) of the canonical request, so that a signing bug in the C++ client fails the
// tests here as it would against AWS. Requests signed wrongly get 403 SignatureDoesNotMatch.
'use strict';
const crypto = require('crypto');

const hmac = (key, data) => crypto.createHmac('sha256', key).update(data, 'utf8').digest();
const sha256 = (data) => crypto.createHash('sha256').update(data, 'utf8').digest('hex');

// RFC 3986: everything but unreserved characters percent-encoded, upper-case hex.
const encode = (text) =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

function canonicalQuery(raw) {
  if (!raw) return '';
  return raw
    .split('&')
    .filter((part) => part.length > 0)
    .map((part) => {
      const eq = part.indexOf('=');
      const name = eq < 0 ? part : part.slice(0, eq);
      const value = eq < 0 ? '' : part.slice(eq + 1);
      const decode = (s) => decodeURIComponent(s.replace(/\+/g, '%20'));
      return [encode(decode(name)), encode(decode(value))];
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([n, v]) => `${n}=${v}`)
    .join('&');
}

function expectedSignature(req, secrets) {
  const auth = req.headers.authorization || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { ok: false, why: 'malformed Authorization header' };
  const [, accessKey, date, region, service, signedHeaders, signature] = m;
  const secret = secrets[accessKey];
  if (secret === undefined) return { ok: false, why: 'unknown access key' };
  const amzDate = req.headers['x-amz-date'] || '';
  if (!amzDate.startsWith(date)) return { ok: false, why: 'x-amz-date does not match the scope' };
  const payload = req.headers['x-amz-content-sha256'];
  if (!payload) return { ok: false, why: 'no x-amz-content-sha256' };
  const names = signedHeaders.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) {
    return { ok: false, why: 'host and x-amz-date must be signed' };
  }
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  const query = q < 0 ? '' : req.url.slice(q + 1);
  const headers = names
    .map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonical = [req.method, path, canonicalQuery(query), headers, signedHeaders, payload].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let key = hmac('AWS4' + secret, date);
  key = hmac(key, region);
  key = hmac(key, service);
  key = hmac(key, 'aws4_request');
  const expected = crypto.createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  return expected === signature ? { ok: true } : { ok: false, why: 'signature mismatch', canonical };
}

// A Koa middleware for the front of s3rver's chain.
module.exports = (secrets) => async (ctx, next) => {
  const result = expectedSignature(ctx.req, secrets);
  if (!result.ok) {
    if (process.env.RD_S3_SIGV4_DEBUG) console.error(`sigv4: ${result.why}\n${result.canonical || ''}`);
    ctx.status = 403;
    ctx.type = 'application/xml';
    ctx.body =
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>' +
      `<Message>${result.why}</Message></Error>`;
    return;
  }
  await next();
};

// The check itself, for other fakes (tests/dns-providers: Route 53).
module.exports.expectedSignature = expectedSignature;
