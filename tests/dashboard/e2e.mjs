// The dashboard, end to end, in Debian's Chromium (playwright-core, no downloaded browser):
// register, log in, create a site by folder upload, see it go live, deploy again, roll back,
// save build settings, create and revoke an API token, and an expired session. One screenshot
// per step. Started by run.sh, which starts the server; configured by the environment:
//   DASHBOARD_URL   http://127.0.0.1:PORT (the control host serving the dashboard and the API)
//   SHOTS_DIR       where the screenshots go
//   WORK_DIR        scratch space for the folders to deploy
//   CHROMIUM        the browser binary (default /usr/bin/chromium)
//   SERVER_LOG      optional: the server's stderr with request lines, for the upload dedup check
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";

import { chromium } from "playwright-core";

const base = process.env.DASHBOARD_URL;
const shots = process.env.SHOTS_DIR;
const work = process.env.WORK_DIR;
const serverLog = process.env.SERVER_LOG; // optional: the server's request log (--log-level debug)
if (!base || !shots || !work) {
  console.error("e2e.mjs: set DASHBOARD_URL, SHOTS_DIR and WORK_DIR (run.sh does)");
  process.exit(2);
}

const kStepTimeout = 20_000; // every wait in a step is bounded by this
const nonce = Date.now().toString(36);
const site = `e2e-${nonce}`;
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
