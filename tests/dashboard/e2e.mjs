// The dashboard, end to end, in Debian's Chromium (playwright-core, no downloaded browser):
// register, log in, create a site by folder upload, see it go live, deploy again, roll back,
// save build settings, create and revoke an API token, environment variables, a site deployed
// by `git push` to the platform's remote whose build log is followed live, a function's calls
// and live log on the Functions tab, GitHub against the
// fake (connect the account through the fake's authorize redirect, a site from a repository
// with picker, search and detected build settings, whose webhook the fake records, and
// disconnect), and an expired session. Every step runs: one that cannot fails the run. One
// screenshot per step. Started by run.sh, which starts the server and the fake GitHub;
// configured by the environment:
//   DASHBOARD_URL   http://127.0.0.1:PORT (the control host serving the dashboard and the API,
//                   also the server's --public-url)
//   SHOTS_DIR       where the screenshots go
//   WORK_DIR        scratch space for the folders to deploy
//   BUILDS_DIR      the server's build workspaces (<data dir>/builds): the pushed build waits
//                   for a file the test drops there
//   CHROMIUM        the browser binary (default /usr/bin/chromium)
//   SERVER_LOG      optional: the server's stderr with request lines, for the upload dedup check
//   GITHUB_URL      the fake GitHub the server's --github-web-url/--github-api-url name
//   GITHUB_STATE    the fake GitHub's --state-file (hooks, statuses)
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";

import { chromium } from "playwright-core";

const base = process.env.DASHBOARD_URL;
const shots = process.env.SHOTS_DIR;
const work = process.env.WORK_DIR;
const buildsDir = process.env.BUILDS_DIR;
const serverLog = process.env.SERVER_LOG; // optional: the server's request log (--log-level debug)
const githubUrl = process.env.GITHUB_URL; // the fake GitHub
const githubState = process.env.GITHUB_STATE; // its state file
if (!base || !shots || !work || !buildsDir || !githubUrl || !githubState) {
  console.error("e2e.mjs: set DASHBOARD_URL, SHOTS_DIR, WORK_DIR, BUILDS_DIR, GITHUB_URL and GITHUB_STATE (run.sh does)");
  process.exit(2);
}

const kStepTimeout = 20_000; // every wait in a step is bounded by this
const kBuildTimeout = 120_000; // except those for a build, which starts a sandbox
const nonce = Date.now().toString(36);
const site = `e2e-${nonce}`;
const gitSite = `e2e-git-${nonce}`;
const githubSite = `e2e-gh-${nonce}`;
const fnSite = `e2e-fn-${nonce}`;
const email = `e2e-${nonce}@example.com`;
const password = "correct horse battery";

let passed = 0;
let shotNumber = 0;
const pageErrors = [];

function folder(name, files) {
  const dir = path.join(work, name);
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  return dir;
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function screenshot(page, name) {
  shotNumber++;
  const file = path.join(shots, `${String(shotNumber).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

async function step(page, name, body) {
  try {
    await body();
  } catch (e) {
    const file = await screenshot(page, `FAILED-${name}`).catch(() => "(no screenshot)");
    console.error(`\nFAIL: ${name}: ${e instanceof Error ? e.message : e}`);
    console.error(`page: ${page.url()}  screenshot: ${file}`);
    if (pageErrors.length > 0) console.error("page errors:\n  " + pageErrors.join("\n  "));
    if (e instanceof Error) e.reported = true;
    throw e;
  }
  await screenshot(page, name);
  passed++;
  console.log(`ok ${passed} - ${name}`);
}

// The fake GitHub's state file: {"hooks":[...],"statuses":[...]}, or empty lists before any change.
function readGithubState() {
  let text = "";
  try {
    text = readFileSync(githubState, "utf8");
  } catch (e) {
    if (e.code === "ENOENT") return { hooks: [], statuses: [] };
    throw e;
  }
  return JSON.parse(text);
}

function git(cwd, ...args) {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", HOME: work },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

// The page's own API call with the logged-in token (from localStorage).
async function apiFromPage(page, method, apiPath, body) {
  return page.evaluate(
    async ({ method, apiPath, body }) => {
      const answer = await fetch(apiPath, {
        method,
        headers: {
          Authorization: `Bearer ${localStorage.getItem("replideploy.token")}`,
          "Content-Type": "application/json",
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: answer.status, json: await answer.json().catch(() => null) };
    },
    { method, apiPath, body },
  );
}

// Plain HTTP from the test itself (outside the browser), e.g. to check an API token works.
// Node does not resolve *.localhost as browsers do: those go to 127.0.0.1 with the Host header.
function httpGet(url, headers = {}) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: u.hostname.endsWith(".localhost") ? "127.0.0.1" : u.hostname,
        port: u.port || 80,
        path: u.pathname + u.search,
        headers: { Host: u.host, ...headers },
        timeout: 10_000,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode, text }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
  });
}

const v1 = folder("v1", {
  "index.html": `<!doctype html><title>v1</title><h1>Hello from version one ${nonce}</h1>\n`,
  "css/site.css": "h1 { color: teal; }\n",
  "about/index.html": `<!doctype html><p>about ${nonce}</p>\n`,
  ".DS_Store": "junk",
});
const v2 = folder("v2", {
  "index.html": `<!doctype html><title>v2</title><h1>Hello from version two ${nonce}</h1>\n`,
  "css/site.css": "h1 { color: teal; }\n", // same as v1: must not be uploaded again
  _redirects: "/old / 301\n",
});

const v3 = folder("v3", {
  "index.html": `<!doctype html><title>v3</title><h1>Hello from version three ${nonce}</h1>\n`,
});

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
  timeout: 30_000,
});

let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(kStepTimeout);
  context.setDefaultNavigationTimeout(kStepTimeout);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(`${page.url()}: ${e.message}`));

  let liveUrl = "";
  let apiToken = "";

  await step(page, "register-field-errors", async () => {
    await page.goto(`${base}/register/`);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Create account" }).click();
    const error = page.getByText("Password must be at least 8 characters");
    await error.waitFor();
    check((await page.getByLabel("Password").getAttribute("aria-invalid")) === "true", "password not marked invalid");
  });

  await step(page, "register-then-empty-sites", async () => {
    await page.getByLabel("Name").fill("E2E Tester");
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.waitForURL(`${base}/`);
    await page.getByRole("heading", { name: "No sites yet" }).waitFor();
  });

  await step(page, "login-wrong-password", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL(/\/login\/$/);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("alert").getByText("Invalid email or password").waitFor();
  });

  await step(page, "login", async () => {
    await page.getByLabel("Password").fill(password);
    await page.getByLabel("Password").press("Enter"); // the keyboard way
    await page.waitForURL(`${base}/`);
    await page.getByRole("link", { name: "Create your first site" }).waitFor();
  });

  await step(page, "new-site-folder-upload", async () => {
    await page.getByRole("link", { name: "Create your first site" }).click();
    await page.waitForURL(/\/new\/$/);
    await page.getByRole("tab", { name: "Upload a folder" }).click();
    await page.waitForURL(/\/new\/#upload$/);
    await page.getByLabel("Site name").fill(site);
    await page.getByTestId("folder-input").setInputFiles(v1);
    await page.getByText("Deploy is live").waitFor();
    const summary = await page.getByText(/3 files/).textContent();
    check(summary?.includes("1 hidden"), `expected the .DS_Store to be left out, got: ${summary}`);
    liveUrl = (await page.getByRole("status").getByRole("link").first().getAttribute("href")) ?? "";
    check(liveUrl.includes(`${site}.localhost`), `live URL ${liveUrl} does not name ${site}.localhost`);
  });

  await step(page, "live-site-v1", async () => {
    await page.goto(liveUrl);
    await page.getByText(`Hello from version one ${nonce}`).waitFor();
    const about = await httpGet(`${liveUrl}/about/`);
    check(about.status === 200 && about.text.includes(`about ${nonce}`), `GET /about/ on the live site: ${about.status}`);
    const hidden = await httpGet(`${liveUrl}/.DS_Store`);
    check(hidden.status === 404, `.DS_Store should not be deployed, got ${hidden.status}`);
  });

  await step(page, "sites-list", async () => {
    await page.goto(`${base}/`);
    const card = page.getByRole("listitem").filter({ hasText: site });
    await card.getByText("Ready").waitFor();
    await card.getByText("No repository: deploys by upload").waitFor();
  });

  await step(page, "site-overview", async () => {
    await page.getByRole("link", { name: site, exact: true }).click();
    await page.waitForURL(`${base}/sites/${site}/`);
    await page.getByRole("heading", { name: site, level: 1 }).waitFor();
    await page.getByText("Production URL").waitFor();
    await page.getByTestId("auto-publish-state").getByText("On.").waitFor();
  });

  await step(page, "redeploy-v2", async () => {
    await page.getByTestId("folder-input").setInputFiles(v2);
    await page.getByText("Deploy is live").waitFor();
    await page.getByText("Drop another folder to deploy it").waitFor();
    if (serverLog) {
      // css/site.css is the same in v1 and v2: the server must have asked for it only once.
      const uploads = readFileSync(serverLog, "utf8").match(/"PUT \/api\/v1\/deploys\/[^/]+\/files\/css\/site\.css"/g) ?? [];
      check(uploads.length === 1, `css/site.css uploaded ${uploads.length} times; the second deploy should reuse it`);
    }
  });

  await step(page, "live-site-v2", async () => {
    await page.goto(liveUrl);
    await page.getByText(`Hello from version two ${nonce}`).waitFor();
  });

  await step(page, "deploys-list", async () => {
    await page.goto(`${base}/sites/${site}/deploys/`);
    const rows = page.getByRole("article");
    await rows.first().waitFor();
    check((await rows.count()) === 2, `expected 2 deploys, found ${await rows.count()}`);
    await rows.nth(0).getByText("Published").waitFor();
    check((await rows.nth(1).getByText("Published").count()) === 0, "the older deploy is marked published");
  });

  await step(page, "deploy-rules-panel", async () => {
    await page.getByRole("article").nth(0).getByRole("link").first().click();
    await page.waitForURL(new RegExp(`/sites/${site}/deploys/[^/]+/$`));
    const panel = page.getByRole("form", { name: "Test the rules" });
    await panel.getByLabel("Path or URL").fill("/old?ref=e2e");
    await panel.getByRole("button", { name: "Test" }).click();
    await page.getByTestId("rules-summary").getByText("301 redirect to /?ref=e2e by _redirects:1").waitFor();
    await page.getByRole("list", { name: "Redirect rules" }).getByText("Matched").waitFor();
    await page.goto(`${base}/sites/${site}/deploys/`);
    await page.getByRole("article").first().waitFor();
  });

  await step(page, "rollback-confirm-dialog", async () => {
    await page.getByRole("article").nth(1).getByRole("button", { name: "Publish deploy" }).click();
    await page.getByRole("dialog", { name: "Publish this deploy?" }).waitFor();
  });

  await step(page, "rollback-done", async () => {
    await page.getByRole("dialog").getByRole("button", { name: "Publish deploy" }).click();
    await page.getByText("Deploy published. The site serves it now.").waitFor();
    await page.getByRole("article").nth(1).getByText("Published").waitFor();
  });

  await step(page, "live-site-rolled-back", async () => {
    await page.goto(liveUrl);
    await page.getByText(`Hello from version one ${nonce}`).waitFor();
  });

  await step(page, "build-settings-saved", async () => {
    await page.goto(`${base}/sites/${site}/`);
    await page.getByLabel("Publish directory").fill("dist");
    await page.getByLabel("Build command").fill("npm run build");
    await page.getByRole("button", { name: "Save build settings" }).click();
    await page.getByText("Build settings saved.").waitFor();
    await page.reload();
    check((await page.getByLabel("Publish directory").inputValue()) === "dist", "publish directory not kept");
  });

  await step(page, "auto-publish-stopped", async () => {
    await page.getByRole("button", { name: "Stop auto publishing" }).click();
    await page.getByTestId("auto-publish-state").getByText("Stopped.").waitFor();
    await page.getByTestId("folder-input").setInputFiles(v3);
    await page.getByText("It is not the published deploy").waitFor();
    const live = await httpGet(liveUrl + "/");
    check(live.text.includes(`version one ${nonce}`), "a deploy while auto publishing is stopped went live");
  });

  await step(page, "auto-publish-started", async () => {
    await page.getByRole("button", { name: "Start auto publishing" }).click();
    await page.getByTestId("auto-publish-state").getByText("On.").waitFor();
  });

  await step(page, "env-vars-hidden-then-revealed", async () => {
    const value = `value-${nonce}`;
    await page.goto(`${base}/sites/${site}/`);
    const card = page.getByRole("region", { name: "Environment variables" });
    await card.getByText("No environment variables yet.").waitFor();
    await card.getByLabel("Key").fill("E2E_SECRET");
    await card.getByLabel("Value").fill(value);
    await card.getByLabel("Value").press("Enter"); // the keyboard way
    await card.getByText("E2E_SECRET saved. The next build uses it.").waitFor();
    const list = card.getByRole("list", { name: "Environment variables" });
    await list.getByText("E2E_SECRET").waitFor();
    check((await page.getByText(value).count()) === 0, "the value shows before it is revealed");
    await card.getByRole("button", { name: "Reveal value of E2E_SECRET" }).click();
    await list.getByText(value).waitFor();
    await page.reload();
    await page.getByRole("list", { name: "Environment variables" }).getByText("E2E_SECRET").waitFor();
    check((await page.getByText(value).count()) === 0, "the value shows after a reload");
  });

  await step(page, "site-password-sign-in", async () => {
    await page.goto(`${base}/sites/${site}/`);
    const card = page.getByRole("region", { name: "Password protection" });
    await card.getByText("Off: everyone can see every deploy.").waitFor();
    await card.getByLabel("Password").fill(`pw-${nonce}`);
    await card.getByRole("button", { name: "Turn on password protection" }).click();
    await card.getByText("Password saved. Every deploy of this site now asks for it.").waitFor();
    const plain = await httpGet(liveUrl);
    check(plain.status === 401 && !plain.text.includes(nonce), `the live site without a password: ${plain.status}`);
    // A visitor's browser: the sign-in page, a wrong password, then the right one.
    const visitor = await page.context().browser().newPage();
    try {
      await visitor.goto(`${liveUrl}/about/`);
      await visitor.getByRole("heading", { name: "This site is password protected" }).waitFor();
      await visitor.getByLabel("Password").fill("wrong");
      await visitor.getByRole("button", { name: "Open the site" }).click();
      await visitor.getByText("Wrong password. Try again.").waitFor();
      await visitor.getByLabel("Password").fill(`pw-${nonce}`);
      await visitor.getByRole("button", { name: "Open the site" }).click();
      await visitor.getByText(`about ${nonce}`).waitFor();
      check(new URL(visitor.url()).pathname === "/about/", `signed in at ${visitor.url()}, not /about/`);
    } finally {
      await visitor.close();
    }
    await card.getByRole("button", { name: "Remove password" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Remove password" }).click();
    await card.getByText("Password removed. The site is open to everyone.").waitFor();
    const open = await httpGet(liveUrl);
    check(open.status === 200, `the live site after the password was removed: ${open.status}`);
  });

  await step(page, "custom-domain-instructions", async () => {
    // The domain never becomes active here (nothing points its DNS at us): adding it shows the
    // record to create and its state.
    const domain = `www.shop-${nonce}.example.com`;
    await page.goto(`${base}/sites/${site}/`);
    const card = page.getByRole("region", { name: "Domains" });
    await card.getByText("No custom domains yet").waitFor();
    await card.getByLabel("Domain").fill("not a domain");
    await card.getByRole("button", { name: "Add domain" }).click();
    await card.getByText("is not a valid host name", { exact: false }).waitFor();
    await card.getByLabel("Domain").fill(domain.toUpperCase());
    await card.getByRole("button", { name: "Add domain" }).click();
    const item = card.locator(`li[data-domain="${domain}"]`);
    await item.getByText("Waiting for DNS").waitFor();
    await item.getByText("Primary").waitFor();
    const value = await item.getByTestId("dns-value").first().textContent();
    check(value?.trim() === `${site}.localhost`, `the CNAME value shown: ${value}`);
    await item.getByRole("button", { name: `Copy CNAME value for ${domain}` }).waitFor();
  });

  await step(page, "custom-domain-removed", async () => {
    const domain = `www.shop-${nonce}.example.com`;
    const card = page.getByRole("region", { name: "Domains" });
    const item = card.locator(`li[data-domain="${domain}"]`);
    await item.getByRole("button", { name: "Remove" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Remove domain" }).click();
    await card.getByText("No custom domains yet").waitFor();
  });

  await step(page, "api-token-created", async () => {
    await page.getByRole("link", { name: "Account" }).click();
    await page.waitForURL(`${base}/account/`);
    await page.getByText(email).waitFor();
    await page.getByLabel("Token name").fill("e2e laptop");
    await page.getByRole("button", { name: "Create token" }).click();
    const notice = page.getByRole("status").filter({ hasText: "shown only this once" });
    apiToken = (await notice.locator("code").textContent()) ?? "";
    check(apiToken.startsWith("rdp_"), `token should start with rdp_, got "${apiToken}"`);
    await notice.getByRole("button", { name: "Copy token" }).click();
    await notice.getByText("Copied", { exact: true }).waitFor();
    const me = await httpGet(`${base}/api/v1/user`, { Authorization: `Bearer ${apiToken}` });
    check(me.status === 200 && me.text.includes(email), `the new token does not work: ${me.status} ${me.text}`);
    await page.getByRole("list", { name: "API tokens" }).getByText("e2e laptop").waitFor();
  });

  await step(page, "api-token-revoked", async () => {
    await page.getByRole("button", { name: "Revoke token e2e laptop" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Revoke token" }).click();
    await page.getByText("You have no API tokens.").waitFor();
    const me = await httpGet(`${base}/api/v1/user`, { Authorization: `Bearer ${apiToken}` });
    check(me.status === 401, `a revoked token should get 401, got ${me.status}`);
  });

  let gitRemotePath = "";
  let gitDeployUrl = "";

  await step(page, "new-site-git-remote", async () => {
    await page.goto(`${base}/new/`);
    await page.getByRole("tab", { name: "Git push" }).click();
    await page.getByLabel("Site name").fill(gitSite);
    await page.getByRole("button", { name: "Create site" }).click();
    const instructions = page.getByTestId("git-remote-instructions");
    const addLine = (await instructions.locator("code").filter({ hasText: "git remote add" }).textContent()) ?? "";
    const pushLine = (await instructions.locator("code").filter({ hasText: "git push" }).textContent()) ?? "";
    const match = /^git remote add replideploy (\S+)$/.exec(addLine.trim());
    check(match !== null, `unexpected git remote line: "${addLine}"`);
    check(pushLine.trim() === "git push replideploy main", `unexpected git push line: "${pushLine}"`);
    gitRemotePath = new URL(match[1]).pathname;
    check(gitRemotePath === `/git/${gitSite}.git`, `the remote ${match[1]} is not /git/${gitSite}.git`);
    await instructions.getByRole("link", { name: /API token/ }).waitFor();
  });

  await step(page, "git-push", async () => {
    const created = await apiFromPage(page, "POST", "/api/v1/tokens", { name: "e2e git push" });
    check(created.status === 201 || created.status === 200, `POST /api/v1/tokens: ${created.status}`);
    const token = created.json.token;
    // Two lines, then the build waits at a gate (a file in its workspace) that deploy-log-live
    // opens once it has seen them, then four more.
    const repo = folder("pushed", {
      "netlify.toml":
        "[build]\n" +
        `command = "echo step 1; echo step 2; for i in $(seq 1200); do test -e /workspace/go && break; sleep 0.1; done; for i in 3 4 5 6; do echo step $i; done; mkdir -p out; echo '<h1>pushed</h1>' > out/index.html"\n` +
        'publish = "out"\n',
    });
    git(repo, "init", "--quiet", "--initial-branch=main");
    git(repo, "add", "netlify.toml");
    git(repo, "-c", "user.name=E2E", "-c", "user.email=e2e@example.com", "commit", "--quiet", "-m", "Build in six steps");
    const port = new URL(base).port;
    git(repo, "-c", "credential.helper=", "push", "--quiet", `http://x:${token}@127.0.0.1:${port}${gitRemotePath}`, "main");
  });

  await step(page, "deploy-log-live", async () => {
    await page.goto(`${base}/sites/${gitSite}/deploys/`);
    const row = page.getByRole("article").first();
    await row.waitFor();
    await row.getByRole("link", { name: "View live log" }).click();
    await page.waitForURL(new RegExp(`/sites/${gitSite}/deploys/[^/]+/$`));
    gitDeployUrl = page.url();
    const log = page.getByRole("region", { name: "Build log" });
    const badge = page.getByTestId("deploy-state");
    // The build holds at its gate: the lines showing now came while it builds, over the
    // WebSocket (the connection says "Live"; the polling fallback does not count).
    // (exact: the log also shows the build command, which names "step 2")
    await log.getByText("step 2", { exact: true }).waitFor({ timeout: kBuildTimeout });
    await page.getByTestId("log-connection").getByText("Live", { exact: true }).waitFor();
    await badge.locator('[data-state="building"]').first().waitFor();
    check(!/\bstep 3\b/.test(await log.innerText()), "step 3 showed before the build was let through the gate");
    const workspaces = readdirSync(buildsDir);
    check(workspaces.length > 0, `no build workspace in ${buildsDir}`);
    for (const workspace of workspaces) writeFileSync(path.join(buildsDir, workspace, "go"), "go");
    // Let through: the rest arrives on the same page, and the build ends.
    await log.getByText("step 6", { exact: true }).waitFor({ timeout: kBuildTimeout });
    await badge.locator('[data-state="ready"]').first().waitFor({ timeout: kBuildTimeout });
    for (let i = 1; i <= 6; i++) await log.getByText(`step ${i}`, { exact: true }).waitFor();
  });

  await step(page, "git-deploy-ready-live-site", async () => {
    await page.getByTestId("deploy-state").getByText("Ready").waitFor();
    await page.getByRole("region", { name: "Build log" }).getByText("step 6").waitFor();
    const port = new URL(base).port;
    const live = await httpGet(`http://${gitSite}.localhost:${port}/`);
    check(live.status === 200 && live.text.includes("pushed"), `the live site answers ${live.status}: ${live.text.slice(0, 200)}`);
  });

  await step(page, "site-analytics", async () => {
    // A known mix on the git site (the server flushes analytics every second: run.sh).
    const port = new URL(base).port;
    const missing = `/e2e-missing-${nonce}`;
    for (let i = 0; i < 3; i++) await httpGet(`http://${gitSite}.localhost:${port}/`);
    for (let i = 0; i < 2; i++) {
      const got = await httpGet(`http://${gitSite}.localhost:${port}${missing}`);
      check(got.status === 404, `${missing} answered ${got.status}`);
    }
    await page.goto(`${base}/sites/${gitSite}/analytics/`);
    const notFound = page.getByRole("table", { name: "Top 404s" }).getByRole("row").filter({ hasText: missing });
    // Counts reach the database at the next flush: reload until they are there (bounded).
    for (let i = 0; i < 60 && (await notFound.count()) === 0; i++) {
      await new Promise((r) => setTimeout(r, 500));
      await page.getByRole("button", { name: "Refresh" }).click();
    }
    await notFound.getByRole("cell", { name: "2", exact: true }).waitFor();
    const home = page.getByRole("table", { name: "Top paths" }).getByRole("row").filter({ hasText: /^\/\s*\d/ });
    const homeCount = Number((await home.getByRole("cell").nth(1).textContent()) ?? "0");
    check(homeCount >= 3, `"/" counted ${homeCount} times, expected at least 3`);
    const requests = Number(((await page.locator('[data-total="Requests"]').textContent()) ?? "").replace(/,/g, ""));
    check(requests >= 5, `total requests ${requests}, expected at least 5`);
    check((await page.locator('[data-total="4xx"]').textContent()) === "2", "4xx total is not 2");
    check((await page.locator('[data-total="Builds succeeded"]').textContent()) === "1", "the git build is not counted");
    for (const chart of ["Requests", "Bandwidth", "Status classes", "Build durations"]) {
      await page.locator(`[data-chart="${chart}"] canvas`).first().waitFor();
    }
    await page.getByRole("button", { name: "Last week" }).click();
    await page.getByRole("button", { name: "Last week", pressed: true }).waitFor();
    await notFound.getByRole("cell", { name: "2", exact: true }).waitFor();
  });

  await step(page, "site-functions-live-log", async () => {
    // A site with one function, deployed over the API (a zip, as netlify-cli uploads it).
    const port = new URL(base).port;
    const fnDir = path.join(work, "fn");
    mkdirSync(fnDir, { recursive: true });
    writeFileSync(
      path.join(fnDir, "hello.mjs"),
      "export default async (req) => { const m = new URL(req.url).searchParams.get('m');\n" +
        "  console.log('e2e-fn-marker ' + m); return new Response('fn ' + m); };\n",
    );
    execFileSync("zip", ["-q", "-X", path.join(work, "hello.zip"), "hello.mjs"], { cwd: fnDir });
    const zip = readFileSync(path.join(work, "hello.zip"));
    const sha = createHash("sha256").update(zip).digest("hex");
    const created = await apiFromPage(page, "POST", "/api/v1/sites", { name: fnSite });
    check(created.status === 201, `POST /api/v1/sites: ${created.status}`);
    const deploy = await apiFromPage(page, "POST", `/api/v1/sites/${fnSite}/deploys`, { functions: { hello: sha } });
    check(deploy.status === 200, `POST deploys: ${deploy.status}`);
    const uploaded = await page.evaluate(
      async ({ id, b64 }) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const answer = await fetch(`/api/v1/deploys/${id}/functions/hello`, {
          method: "PUT",
          headers: {
            Authorization: `Bearer ${localStorage.getItem("replideploy.token")}`,
            "Content-Type": "application/octet-stream",
          },
          body: bytes,
        });
        return answer.status;
      },
      { id: deploy.json.id, b64: zip.toString("base64") },
    );
    check(uploaded === 200, `PUT the function's zip: ${uploaded}`);
    for (let i = 0; i < 100; i++) {
      const got = await apiFromPage(page, "GET", `/api/v1/deploys/${deploy.json.id}`);
      if (got.json?.state === "ready") break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const first = await httpGet(`http://${fnSite}.localhost:${port}/.netlify/functions/hello?m=first`);
    check(first.status === 200 && first.text === "fn first", `the function answered ${first.status}: ${first.text}`);

    await page.goto(`${base}/sites/${fnSite}/functions/`);
    await page.getByRole("table", { name: "Functions" }).getByRole("button", { name: "hello" }).waitFor();
    const log = page.getByRole("region", { name: "Log of hello" });
    await log.getByText("e2e-fn-marker first").waitFor();
    // A line printed while the page is open arrives live.
    await page.getByText("Live", { exact: true }).waitFor();
    const second = await httpGet(`http://${fnSite}.localhost:${port}/.netlify/functions/hello?m=second`);
    check(second.status === 200, `the second call answered ${second.status}`);
    await log.getByText("e2e-fn-marker second").waitFor();
    // The calls are counted at the next flush (every second: run.sh): refresh until they are.
    const calls = page.getByTestId("calls-hello");
    for (let i = 0; i < 60 && (await calls.textContent()) !== "2"; i++) {
      await new Promise((r) => setTimeout(r, 500));
      await page.getByRole("button", { name: "Refresh" }).click();
    }
    check((await calls.textContent()) === "2", `calls shown: ${await calls.textContent()}, expected 2`);
  });

  // GitHub, against the fake: connect, a site from a repository, its webhook, disconnect.
  const githubRequests = []; // every browser request to the fake GitHub
  page.on("request", (r) => {
    if (r.url().startsWith(githubUrl)) githubRequests.push(r.url());
  });
  const githubCard = page.getByRole("region", { name: "GitHub", exact: true });

  await step(page, "github-not-connected", async () => {
    await page.goto(`${base}/account/`);
    await githubCard.getByText("No GitHub account is connected.").waitFor();
    await githubCard.getByRole("button", { name: "Connect with GitHub" }).waitFor();
  });

  await step(page, "github-connected", async () => {
    const callbacks = [];
    const onRequest = (r) => {
      if (r.url().startsWith(`${base}/api/v1/github/callback?`)) callbacks.push(r.url());
    };
    page.on("request", onRequest);
    try {
      await githubCard.getByRole("button", { name: "Connect with GitHub" }).click();
      // fake GitHub's authorize -> the server's callback -> /account/?github=connected
      await page.waitForURL(/\/account\/(\?github=connected)?$/);
      await githubCard.getByText("GitHub is connected.").waitFor();
      await githubCard.getByText("Connected as").waitFor();
      await githubCard.getByRole("link", { name: "@octocat" }).waitFor();
    } finally {
      page.off("request", onRequest);
    }
    const authorize = githubRequests.find((u) => u.startsWith(`${githubUrl}/login/oauth/authorize?`));
    check(authorize !== undefined, `the browser never went to ${githubUrl}/login/oauth/authorize`);
    const redirectUri = new URL(authorize).searchParams.get("redirect_uri");
    check(redirectUri === `${base}/api/v1/github/callback`, `authorize asked to come back to ${redirectUri}`);
    check(callbacks.length === 1 && new URL(callbacks[0]).searchParams.get("code"), `the server's callback was not visited with a code: ${callbacks}`);
    check(page.url() === `${base}/account/`, `?github=connected stays in the address: ${page.url()}`);
  });

  await step(page, "github-connected-after-reload", async () => {
    await page.reload(); // the notice is shown once; the connection stays
    await githubCard.getByRole("link", { name: "@octocat" }).waitFor();
    await githubCard.getByRole("button", { name: "Disconnect GitHub" }).waitFor();
    check((await githubCard.getByText("GitHub is connected.").count()) === 0, "the connected notice shows again after a reload");
  });

  await step(page, "github-repo-picker", async () => {
    await page.goto(`${base}/new/`);
    await page.getByRole("tab", { name: "GitHub" }).click();
    const panel = page.getByRole("tabpanel");
    await panel.getByText("Connected as").waitFor();
    await panel.getByText("@octocat").waitFor();
    const list = panel.getByRole("list", { name: "Repositories" });
    await list.waitFor();
    const names = (await list.getByRole("listitem").locator("span.font-mono").allTextContents()).map((t) => t.trim());
    check(
      JSON.stringify([...names].sort()) === JSON.stringify(["octocat/hello-world", "octocat/private-notes", "octocat/vite-app"]),
      `the picker lists ${JSON.stringify(names)}`,
    );
    check(names[0] === "octocat/vite-app", `the most recently pushed repository is not first: ${JSON.stringify(names)}`);
    await panel.getByText("3 repositories").waitFor();
    await list.getByRole("button", { name: /octocat\/private-notes/ }).getByText(/^Private\b/).waitFor();
    await list.getByRole("button", { name: /octocat\/vite-app/ }).getByText(/^Public\b/).waitFor();
  });

  await step(page, "github-repo-search", async () => {
    const panel = page.getByRole("tabpanel");
    await panel.getByLabel("Search repositories").fill("vite");
    await panel.getByText("1 repository", { exact: true }).waitFor();
    const items = panel.getByRole("list", { name: "Repositories" }).getByRole("listitem");
    check((await items.count()) === 1, `"vite" leaves ${await items.count()} repositories`);
    await items.getByText("octocat/vite-app").waitFor();
    await panel.getByLabel("Search repositories").fill("no-such-repo");
    await panel.getByText("No repository matches “no-such-repo”.").waitFor();
    await panel.getByLabel("Search repositories").fill("vite");
    await items.getByText("octocat/vite-app").waitFor();
  });

  await step(page, "github-repo-detected", async () => {
    const panel = page.getByRole("tabpanel");
    await panel.getByRole("button", { name: /octocat\/vite-app/ }).click();
    await panel.getByText("Repository octocat/vite-app").waitFor();
    await panel.getByRole("status").filter({ hasText: /^Detected / }).waitFor();
    const detected = (await panel.getByRole("status").filter({ hasText: /^Detected / }).textContent()) ?? "";
    check(detected.startsWith("Detected Vite (npm)."), `detection did not name Vite: "${detected}"`);
    check((await panel.getByLabel("Build command").inputValue()) === "npm run build", `build command: "${await panel.getByLabel("Build command").inputValue()}"`);
    check((await panel.getByLabel("Publish directory").inputValue()) === "dist", `publish directory: "${await panel.getByLabel("Publish directory").inputValue()}"`);
    check((await panel.getByLabel("Site name").inputValue()) === "vite-app", `site name not prefilled from the repository: "${await panel.getByLabel("Site name").inputValue()}"`);
    check((await panel.getByLabel("Production branch").inputValue()) === "main", "production branch not the default branch");
    await panel.getByLabel("Site name").fill(githubSite);
  });

  let githubSiteId = "";
  await step(page, "github-site-created", async () => {
    await page.getByRole("button", { name: "Create site and deploy" }).click();
    await page.waitForURL(`${base}/sites/${githubSite}/deploys/`);
    const answer = await apiFromPage(page, "GET", `/api/v1/sites/${githubSite}`);
    check(answer.status === 200, `GET /api/v1/sites/${githubSite}: ${answer.status}`);
    githubSiteId = answer.json.id;
    const b = answer.json.build_settings;
    check(b.provider === "github" && b.repo_path === "octocat/vite-app", `the site's repository: ${JSON.stringify(b)}`);
    check(b.cmd === "npm run build" && b.dir === "dist" && b.repo_branch === "main", `the site's build settings: ${JSON.stringify(b)}`);
    // The first build is not checked (it needs git from the fake and npm packages): only told.
    const first = await apiFromPage(page, "GET", `/api/v1/sites/${githubSiteId}/deploys`);
    const states = (first.json ?? []).map((d) => d.state).join(", ");
    console.log(`# first build of ${githubSite}: ${states === "" ? "none queued (see the server log)" : states}`);
    if (states !== "") await page.getByRole("article").first().waitFor();
  });

  await step(page, "github-site-repository-and-hook", async () => {
    await page.goto(`${base}/sites/${githubSite}/`);
    await page.getByRole("heading", { name: githubSite, level: 1 }).waitFor();
    const card = page.getByRole("region", { name: "Repository" });
    await card.getByText("octocat/vite-app").waitFor();
    await card.getByText("GitHub", { exact: true }).waitFor();
    await card.getByText("GitHub tells the server about every push").waitFor();
    const hooks = readGithubState().hooks.filter((h) => h.repo === "octocat/vite-app");
    check(hooks.length === 1, `expected one hook on octocat/vite-app, found ${hooks.length}: ${JSON.stringify(hooks)}`);
    const [hook] = hooks;
    const events = [...hook.events].sort();
    check(JSON.stringify(events) === JSON.stringify(["pull_request", "push"]), `hook events: ${JSON.stringify(hook.events)}`);
    check(hook.content_type === "json", `hook content_type: ${hook.content_type}`);
    check(hook.active === true, "the hook is not active");
    check(typeof hook.secret === "string" && hook.secret.length >= 16, "the hook has no secret");
    const suffix = `/api/hooks/deploy?site_id=${githubSiteId}`;
    check(hook.url.endsWith(suffix), `hook url ${hook.url} does not end with ${suffix}`);
    check(hook.url === `${base}${suffix}`, `hook url ${hook.url} is not on the server's public URL ${base}`);
  });

  await step(page, "github-disconnect-confirm", async () => {
    await page.goto(`${base}/account/`);
    await githubCard.getByRole("link", { name: "@octocat" }).waitFor();
    await githubCard.getByRole("button", { name: "Disconnect GitHub" }).click();
    await page.getByRole("dialog", { name: "Disconnect GitHub?" }).getByText("@octocat").waitFor();
  });

  await step(page, "github-disconnected", async () => {
    await page.getByRole("dialog").getByRole("button", { name: "Disconnect", exact: true }).click();
    await githubCard.getByText("No GitHub account is connected.").waitFor();
    await githubCard.getByRole("button", { name: "Connect with GitHub" }).waitFor();
    check((await page.getByRole("dialog").count()) === 0, "the dialog stays open");
    const account = await apiFromPage(page, "GET", "/api/v1/github/account");
    check(account.status === 200 && account.json.connected === false, `GET /api/v1/github/account: ${JSON.stringify(account.json)}`);
  });

  await step(page, "github-tab-not-connected", async () => {
    await page.goto(`${base}/new/#github`);
    const panel = page.getByRole("tabpanel", { name: "GitHub" });
    await panel.getByText("Connect your GitHub account to pick a repository.").waitFor();
    await panel.getByRole("button", { name: "Connect with GitHub" }).waitFor();
    check((await panel.getByRole("list", { name: "Repositories" }).count()) === 0, "repositories are listed without a connection");
  });

  await step(page, "session-expired", async () => {
    await page.evaluate(() => localStorage.setItem("replideploy.token", "expired-or-revoked"));
    await page.goto(`${base}/sites/${site}/deploys/`);
    await page.waitForURL(/\/login\/\?next=/);
    await page.getByText("Your session expired, please log in again").waitFor();
  });

  await step(page, "login-returns-to-page", async () => {
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(`${base}/sites/${site}/deploys/`); // back where the user was
    await page.getByRole("article").first().waitFor();
  });

  await step(page, "not-found", async () => {
    const answer = await page.goto(`${base}/no/such/page/`);
    check(answer?.status() === 404, `expected 404, got ${answer?.status()}`);
    await page.getByRole("heading", { name: "Page not found" }).waitFor();
    await page.goto(`${base}/sites/no-such-site-${nonce}/`);
    await page.getByText("Site not found").waitFor();
  });

  await step(page, "phone-sites-list", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/`);
    await page.getByRole("listitem").filter({ hasText: site }).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    check(!overflow, "the sites page scrolls sideways on a phone-sized screen");
  });

  await step(page, "phone-site-overview", async () => {
    await page.goto(`${base}/sites/${site}/`);
    await page.getByText("Production URL").waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    check(!overflow, "the site overview scrolls sideways on a phone-sized screen");
  });

  await step(page, "phone-deploy-log", async () => {
    await page.goto(gitDeployUrl);
    await page.getByRole("region", { name: "Build log" }).getByText("step 6").waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    check(!overflow, "the deploy page scrolls sideways on a phone-sized screen");
  });

  check(pageErrors.length === 0, "uncaught errors in the page:\n  " + pageErrors.join("\n  "));
} catch (e) {
  failed = true;
  if (!(e instanceof Error && e.reported)) console.error(`\nFAIL: ${e instanceof Error ? e.message : e}`);
} finally {
  await browser.close().catch(() => {});
}

console.log(`screenshots: ${shots}`);
console.log(`${passed} passed, ${failed ? 1 : 0} failed`);
process.exit(failed ? 1 : 0);
