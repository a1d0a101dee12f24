// Starts s3rver (the pinned version in package-lock.json) for the S3 blob store's tests:
//
//   node server.js DIRECTORY BUCKET
//
// Listens on 127.0.0.1, port 0 (a free one), with the bucket created and signatures checked
// (credentials S3RVER / S3RVER, verified by sigv4_check.js). Prints one line, {"port": N}, once it accepts requests, and
// exits when its standard input closes, so a test that dies takes the server with it.
'use strict';
const S3rver = require('s3rver');
const sigv4Check = require('./sigv4_check');

const [directory, bucket] = process.argv.slice(2);
if (!directory || !bucket) {
  console.error('usage: node server.js DIRECTORY BUCKET');
  process.exit(2);
}
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  allowMismatchedSignatures: false,
  configureBuckets: [{ name: bucket }],
});
// Signatures are checked by sigv4_check.js (s3rver 3.7.1 does not verify V4 ones), first in
// the middleware chain.
server.middleware.unshift(sigv4Check({ S3RVER: 'S3RVER' }));
server.run().then(
  (address) => {
    process.stdout.write(JSON.stringify({ port: address.port }) + '\n');
  },
  (err) => {
    console.error(`s3rver: ${err.stack || err}`);
    process.exit(1);
  },
);
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
