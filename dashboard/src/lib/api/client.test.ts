import { describe, expect, it, vi } from "vitest";

import { kSessionExpiredNotice, loadToken, saveToken, takeLoginNotice } from "../session";
import { ApiClient, encodeFilePath, redirectToLogin } from "./client";
import { ApiError, describeError, fieldOfError } from "./errors";

interface Call {
  url: string;
  init: RequestInit;
}

// A fetch that answers every call with the given responses, in order, and records the calls.
function fakeFetch(...responses: (Response | Error)[]) {
  const calls: Call[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(input), init: init ?? {} });
    const next = responses.shift();
    if (next === undefined) throw new Error("unexpected fetch " + String(input));
    if (next instanceof Error) throw next;
    return next;
  });
  return { fetch: fn as unknown as typeof fetch, calls };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", ...headers },
  });
}

function apiError(status: number, code: string, message: string, headers: Record<string, string> = {}) {
  return json(status, { error: { code, message } }, headers);
}

function header(call: Call, name: string): string | undefined {
  return (call.init.headers as Record<string, string>)[name];
}

async function caught(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return e as ApiError;
  }
  throw new Error("expected the call to fail");
}

describe("ApiClient requests", () => {
  it("sends the kept token as a Bearer header", async () => {
    saveToken("jwt-123");
    const { fetch, calls } = fakeFetch(json(200, []));
    await new ApiClient({ fetch }).listSites();
    expect(calls[0]!.url).toBe("/api/v1/sites");
    expect(header(calls[0]!, "Authorization")).toBe("Bearer jwt-123");
  });

  it("sends no Authorization header without a token, nor on login", async () => {
    const { fetch, calls } = fakeFetch(json(200, []), json(200, { token: "t", user: {} }));
    const client = new ApiClient({ fetch });
    await client.listSites();
    saveToken("old");
    await client.login({ email: "a@b.c", password: "correct horse" });
    expect(header(calls[0]!, "Authorization")).toBeUndefined();
    expect(header(calls[1]!, "Authorization")).toBeUndefined();
  });

  it("login keeps the new token; logout forgets it", async () => {
    const { fetch, calls } = fakeFetch(
      json(200, { token: "new-token", token_type: "Bearer", user: {} }),
      new Response(null, { status: 204 }),
    );
    const client = new ApiClient({ fetch });
    await client.login({ email: "me@example.com", password: "correct horse" });
    expect(calls[0]!.init.method).toBe("POST");
    expect(calls[0]!.url).toBe("/auth/login");
    expect(JSON.parse(calls[0]!.init.body as string)).toEqual({
      email: "me@example.com",
      password: "correct horse",
    });
    expect(header(calls[0]!, "Content-Type")).toBe("application/json");
    expect(loadToken()).toBe("new-token");
    await client.logout();
    expect(calls[1]!.url).toBe("/auth/logout");
    expect(calls[1]!.init.method).toBe("POST");
    expect(header(calls[1]!, "Authorization")).toBe("Bearer new-token");
    expect(loadToken()).toBeNull();
  });

  it("logout forgets the token even when the session had already ended", async () => {
    saveToken("ended");
    const expired = vi.fn();
    const { fetch } = fakeFetch(json(401, { error: { code: "session_revoked", message: "this session has ended" } }));
    const client = new ApiClient({ fetch, onSessionExpired: expired });
    await client.logout();
    expect(loadToken()).toBeNull();
    expect(expired).not.toHaveBeenCalled();
  });

  it("builds paths, queries and bodies of the deploy calls", async () => {
    saveToken("t");
    const { fetch, calls } = fakeFetch(
      json(200, []),
      json(200, { id: "d1", required: [] }),
      json(200, { path: "/a b/c#1.html" }),
      new Response(null, { status: 204 }),
    );
    const client = new ApiClient({ fetch });
    await client.listDeploys("my-site", 1);
    await client.setDeployFiles("my-site", "d1", { "index.html": "abc" });
    const bytes = new Uint8Array([1, 2, 3]);
    await client.uploadDeployFile("d1", "a b/c#1.html", bytes);
    expect(await client.revokeToken("tok/1")).toBeUndefined();

    expect(calls[0]!.url).toBe("/api/v1/sites/my-site/deploys?per_page=1");
    expect(calls[1]!.init.method).toBe("PUT");
    expect(calls[1]!.url).toBe("/api/v1/sites/my-site/deploys/d1");
    expect(JSON.parse(calls[1]!.init.body as string)).toEqual({ files: { "index.html": "abc" } });
    expect(calls[2]!.url).toBe("/api/v1/deploys/d1/files/a%20b/c%231.html");
    expect(header(calls[2]!, "Content-Type")).toBe("application/octet-stream");
    expect(calls[2]!.init.body).toBeInstanceOf(Blob);
    expect(calls[3]!.init.method).toBe("DELETE");
    expect(calls[3]!.url).toBe("/api/v1/tokens/tok%2F1");
  });

  it("encodes each segment of a file path and drops a leading slash", () => {
    expect(encodeFilePath("/css/site.css")).toBe("css/site.css");
    expect(encodeFilePath("über/50%?.txt")).toBe("%C3%BCber/50%25%3F.txt");
  });
});

describe("ApiClient errors", () => {
  it("maps a 400 naming a field to that field", async () => {
    const { fetch } = fakeFetch(apiError(400, "bad_request", "password is required"));
    const e = await caught(new ApiClient({ fetch }).register({ email: "a@b.c", password: "" }));
    expect(e.status).toBe(400);
    expect(e.code).toBe("bad_request");
    expect(e.message).toBe("password is required");
    expect(e.field).toBe("password");
  });

  it.each([
    [422, "invalid_email", "email is not a valid address", "email"],
    [422, "password_too_short", "password must be at least 8 characters", "password"],
    [409, "email_taken", "an account with this email already exists", "email"],
    [422, "name_taken", "a site named 'x' already exists", "name"],
    [422, "invalid_build_settings", "build_settings.dir must not leave the site", "build_settings.dir"],
    [404, "not_found", "site not found", null],
  ])("maps %i %s to field %s", async (status, code, message, field) => {
    const { fetch } = fakeFetch(apiError(status, code, message));
    const e = await caught(new ApiClient({ fetch }).createSite({ name: "x" }));
    expect(e.code).toBe(code);
    expect(e.field).toBe(field);
  });

  it("reads Retry-After of a 429", async () => {
    const { fetch } = fakeFetch(
      apiError(429, "rate_limited", "too many failed logins; try again in 7 s", { "Retry-After": "7" }),
    );
    const e = await caught(new ApiClient({ fetch }).login({ email: "a@b.c", password: "xxxxxxxx" }));
    expect(e.status).toBe(429);
    expect(e.retryAfterSeconds).toBe(7);
    expect(describeError(e)).toBe("Too many failed logins; try again in 7 s");
    expect(describeError(new ApiError(429, "rate_limited", "slow down", 3))).toBe(
      "Slow down (try again in 3 s)",
    );
  });

  it("keeps a useful message for an answer that is not the API's JSON", async () => {
    const { fetch } = fakeFetch(new Response("<html>bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
    const e = await caught(new ApiClient({ fetch }).listSites());
    expect(e.status).toBe(502);
    expect(e.code).toBe("http_502");
    expect(e.message).toBe("the server answered 502 Bad Gateway");
  });

  it("turns a network failure into status 0", async () => {
    const { fetch } = fakeFetch(new TypeError("Failed to fetch"));
    const e = await caught(new ApiClient({ fetch }).listSites());
    expect(e.status).toBe(0);
    expect(e.code).toBe("network");
  });

  it("fieldOfError only reads field names from 400 and 422 messages", () => {
    expect(fieldOfError(400, "bad_request", "email must be a string")).toBe("email");
    expect(fieldOfError(400, "bad_request", "request body is not valid JSON: x")).toBeNull();
    expect(fieldOfError(500, "internal", "name is broken")).toBeNull();
  });
});

describe("expired sessions", () => {
  it("forgets the token and reports the expiry on a 401 to a request with a token", async () => {
    saveToken("expired");
    const onSessionExpired = vi.fn();
    const { fetch } = fakeFetch(apiError(401, "unauthenticated", "invalid or expired credentials"));
    const e = await caught(new ApiClient({ fetch, onSessionExpired }).listSites());
    expect(e.status).toBe(401);
    expect(onSessionExpired).toHaveBeenCalledTimes(1);
    expect(loadToken()).toBeNull();
  });

  it("does not treat a failed login as an expired session", async () => {
    const onSessionExpired = vi.fn();
    const { fetch } = fakeFetch(apiError(401, "unauthenticated", "invalid email or password"));
    const e = await caught(
      new ApiClient({ fetch, onSessionExpired }).login({ email: "a@b.c", password: "wrong-password" }),
    );
    expect(e.message).toBe("invalid email or password");
    expect(onSessionExpired).not.toHaveBeenCalled();
  });

  it("redirectToLogin leaves the message for the login page and comes back after", () => {
    window.history.pushState({}, "", "/sites/my-blog/deploys/?x=1");
    const navigate = vi.fn();
    redirectToLogin(navigate);
    expect(navigate).toHaveBeenCalledWith("/login/?next=%2Fsites%2Fmy-blog%2Fdeploys%2F%3Fx%3D1");
    expect(takeLoginNotice()).toBe(kSessionExpiredNotice);
    expect(takeLoginNotice()).toBeNull(); // shown once
  });
});

describe("ApiClient git, build, log and env calls", () => {
  it("creates sites from GitHub, from a git URL and for the git remote", async () => {
    saveToken("t");
    const { fetch, calls } = fakeFetch(json(201, { id: "a" }), json(201, { id: "b" }), json(201, { id: "c" }));
    const client = new ApiClient({ fetch });
    const settings = { repo_branch: "main", cmd: "npm run build", dir: "dist", base: "", functions_dir: "" };
    await client.createSite({ name: "x", repo: { provider: "github", repo_path: "o/r", ...settings } });
    await client.createSite({ repo: { provider: "git", repo_url: "https://host/x.git", ...settings } });
    await client.createSite({});
    expect(calls.map((c) => [c.init.method, c.url])).toEqual([
      ["POST", "/api/v1/sites"],
      ["POST", "/api/v1/sites"],
      ["POST", "/api/v1/sites"],
    ]);
    expect(JSON.parse(calls[0]!.init.body as string)).toEqual({
      name: "x",
      repo: { provider: "github", repo_path: "o/r", ...settings },
    });
    expect(JSON.parse(calls[1]!.init.body as string).repo.repo_url).toBe("https://host/x.git");
    expect(JSON.parse(calls[2]!.init.body as string)).toEqual({});
  });

  it("triggers a build with an empty body and reports no_source", async () => {
    saveToken("t");
    const { fetch, calls } = fakeFetch(
      json(201, { id: "j1", deploy_id: "d1", sha: "abc", done: false, error: null, created_at: "x" }),
      apiError(422, "no_source", "the site has nothing to build"),
    );
    const client = new ApiClient({ fetch });
    const build = await client.triggerBuild("my site");
    expect(build.deploy_id).toBe("d1");
    expect(calls[0]!.init.method).toBe("POST");
    expect(calls[0]!.url).toBe("/api/v1/sites/my%20site/builds");
    expect(calls[0]!.init.body).toBeUndefined();
    const e = await caught(client.triggerBuild("s"));
    expect(e.status).toBe(422);
    expect(e.code).toBe("no_source");
  });

  it("patches build settings with the toggles", async () => {
    saveToken("t");
    const { fetch, calls } = fakeFetch(json(200, { id: "s" }));
    await new ApiClient({ fetch }).updateBuildSettings("s", { branch_deploys: true, deploy_previews: false });
    expect(calls[0]!.init.method).toBe("PATCH");
    expect(JSON.parse(calls[0]!.init.body as string)).toEqual({
      build_settings: { branch_deploys: true, deploy_previews: false },
    });
  });

  it("reads, sets and deletes environment variables, and names the key field on 422", async () => {
    saveToken("t");
    const { fetch, calls } = fakeFetch(
      json(200, [{ key: "API_KEY", values: [{ context: "all", value: "v" }] }]),
      json(200, { key: "API_KEY", context: "production" }),
      new Response(null, { status: 204 }),
      apiError(422, "invalid_env_key", "key must be letters, digits and '_', not starting with a digit"),
    );
    const client = new ApiClient({ fetch });
    expect(await client.listEnv("s1")).toEqual([{ key: "API_KEY", values: [{ context: "all", value: "v" }] }]);
    await client.setEnv("s1", "API_KEY", "secret", "production");
    await client.deleteEnv("s1", "API_KEY");
    const e = await caught(client.setEnv("s1", "1X", "v"));
    expect(calls.map((c) => [c.init.method, c.url])).toEqual([
      ["GET", "/api/v1/sites/s1/env"],
      ["PUT", "/api/v1/sites/s1/env/API_KEY"],
      ["DELETE", "/api/v1/sites/s1/env/API_KEY"],
      ["PUT", "/api/v1/sites/s1/env/1X"],
    ]);
    expect(JSON.parse(calls[1]!.init.body as string)).toEqual({ value: "secret", context: "production" });
    expect(JSON.parse(calls[3]!.init.body as string)).toEqual({ value: "v", context: "all" });
    expect(e.field).toBe("key");
  });

  it("talks to the GitHub endpoints", async () => {
    saveToken("t");
    const { fetch, calls } = fakeFetch(
      json(200, { connected: false, configured: true }),
      json(200, { authorize_url: "https://github.com/login/oauth/authorize?state=s" }),
      json(200, []),
      json(200, { framework: "Vite", package_manager: "npm", cmd: "npm run build", dir: "dist", base: "" }),
      new Response(null, { status: 204 }),
      apiError(403, "github_reconnect", "GitHub rejected the token"),
      apiError(409, "github_not_connected", "connect GitHub first"),
    );
    const client = new ApiClient({ fetch });
    expect(await client.githubAccount()).toEqual({ connected: false, configured: true });
    expect(await client.githubAuthorizeUrl("/new/")).toBe("https://github.com/login/oauth/authorize?state=s");
    await client.listGitHubRepos();
    expect((await client.detectGitHubRepo("my-org/site.io", "feat/x")).framework).toBe("Vite");
    await client.disconnectGitHub();
    expect((await caught(client.listGitHubRepos())).code).toBe("github_reconnect");
    expect((await caught(client.listGitHubRepos())).status).toBe(409);
    expect(calls.map((c) => [c.init.method, c.url])).toEqual([
      ["GET", "/api/v1/github/account"],
      ["GET", "/api/v1/github/connect?return_to=%2Fnew%2F"],
      ["GET", "/api/v1/github/repos"],
      ["GET", "/api/v1/github/repos/my-org/site.io/detect?ref=feat%2Fx"],
      ["DELETE", "/api/v1/github/account"],
      ["GET", "/api/v1/github/repos"],
      ["GET", "/api/v1/github/repos"],
    ]);
    expect(header(calls[1]!, "Accept")).toBe("application/json");
  });

  it("reads a deploy's log", async () => {
    saveToken("t");
    const body = { deploy_id: "d1", state: "ready", lines: [{ n: 0, ts: "t", stream: "stdout", line: "hi" }] };
    const { fetch, calls } = fakeFetch(json(200, body));
    expect(await new ApiClient({ fetch }).getDeployLog("d1")).toEqual(body);
    expect(calls[0]!.url).toBe("/api/v1/deploys/d1/log");
  });
});
