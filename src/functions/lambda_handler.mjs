// The handler module RepliDeploy adds to each function zip it uploads to AWS Lambda, as
// ___replideploy_handler.mjs (Handler "___replideploy_handler.handler", runtime nodejs20.x).
// The build puts adapter.mjs in front of this file: the user's module is found and adapted
// exactly as our local bootstrap does. Lambda gives us Netlify's v1 event (the server's
// LambdaEvent) and the client context {custom: {site, deploy, ip, requestId, params}} (the
// X-Amz-Client-Context header); the answer is the v1 {statusCode, multiValueHeaders, body,
// isBase64Encoded}. A streamed v2 body is read whole (Lambda's buffered invocation).
let loaded;

async function bufferedResult(result) {
  if (!result.streamed) return result;
  const body = Buffer.from(await new Response(result.body).arrayBuffer());
  return { ...result.prelude, body: body.toString('base64'), isBase64Encoded: true };
}

export const handler = async (event, context) => {
  if (!loaded) {
    process.chdir(ROOT);
    loaded = await loadHandler();
  }
  const meta = { ...(context?.clientContext?.custom || {}) };
  const remaining = context?.getRemainingTimeInMillis?.() ?? 0;
  meta.deadline = Date.now() + remaining;
  const requestId = meta.requestId || context?.awsRequestId || '';
  const result =
    loaded.version === 2
      ? await runV2(loaded.fn, event, meta, requestId)
      : await runV1(loaded.fn, event, meta, requestId);
  return bufferedResult(result);
};
