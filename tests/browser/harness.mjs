// Shared pieces of the browser tests: start the real server on a free port with a fresh data
// directory, launch the system's headless Chromium through playwright-core, sign in, save
// screenshots, and a few HTTP helpers. Every wait is bounded.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');

/** The server binary (built by scripts/browser-tests); JAS_BIN overrides it. */
export const serverBin =
  process.env.JAS_BIN || path.join(repoRoot, 'target', 'debug', 'jwt-asset-server');
/** Where screenshots go (CI artifacts); SCREENSHOT_DIR overrides it. */
export const screenshotDir =
  process.env.SCREENSHOT_DIR || path.join(repoRoot, 'target', 'screenshots');
/** The system Chromium; never a downloaded one. */
export const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

export const ADMIN_PASSWORD = 'browser-test-admin-password-5f1c';
/** Default timeout of every wait in the tests, in milliseconds. */
export const TIMEOUT = 15_000;

/**
 * Start the server: fresh temporary data directory, port 0, the admin password set, info logs.
 * Resolves once stderr says `listening on http://127.0.0.1:PORT`.
 * @returns {Promise<{url: string, port: number, log: () => string, stop: () => Promise<void>}>}
 */
export async function startServer({ timeoutMs = 30_000 } = {}) {
  assert.ok(existsSync(serverBin), `server binary missing: ${serverBin} (run cargo build)`);
  // The data directory and its master key file (data.key beside it) in one temporary directory.
  const tmpDir = mkdtempSync(path.join(tmpdir(), 'jas-browser-'));
  const dataDir = path.join(tmpDir, 'data');
  const child = spawn(serverBin, ['--data-dir', dataDir, '--bind', '127.0.0.1:0'], {
    env: {
      ...process.env,
      JWT_ASSET_SERVER_ADMIN_PASSWORD: ADMIN_PASSWORD,
      JWT_ASSET_SERVER_LOG: 'info',
      NO_COLOR: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not say "listening on" within ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    child.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d;
      // Log lines may carry ANSI colour codes; strip them before matching.
      const m = stderr.replace(/\x1b\[[0-9;]*m/g, '').match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (code ${code}, signal ${signal}) before listening; stderr:\n${stderr}`));
    });
  });

  let stopped = false;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    /** Everything the server wrote so far (stderr and stdout), colour codes removed. */
    log: () => (stderr + stdout).replace(/\x1b\[[0-9;]*m/g, ''),
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(tmpDir, { recursive: true, force: true });
    },
  };
}

/** The server address each page was opened for (relative URLs in openAsText). */
const baseOf = new WeakMap();

/** Launch the system Chromium headless (never downloads a browser). */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    timeout: 60_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/**
 * A fresh browser context (its own cookies: a separate browser session) and page, 1280x900,
 * with bounded timeouts. Any JavaScript dialog (alert/confirm/prompt) is recorded in `dialogs`:
 * tests assert it stays empty unless they expect a confirm (then `acceptConfirms` accepts it).
 */
export async function newSession(browser, server, { width = 1280, height = 900, colorScheme = 'light', javaScript = true } = {}) {
  const context = await browser.newContext({
    baseURL: server.url,
    viewport: { width, height },
    colorScheme,
    acceptDownloads: true,
    javaScriptEnabled: javaScript,
  });
  context.setDefaultTimeout(TIMEOUT);
  context.setDefaultNavigationTimeout(TIMEOUT);
  const page = await context.newPage();
  baseOf.set(page, server.url);
  const session = { context, page, dialogs: [], pageErrors: [], consoleErrors: [], acceptConfirms: false };
  page.on('dialog', async (dialog) => {
    session.dialogs.push({ type: dialog.type(), message: dialog.message() });
    if (dialog.type() === 'confirm' && session.acceptConfirms) await dialog.accept();
    else await dialog.dismiss();
  });
  page.on('pageerror', (e) => session.pageErrors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') session.consoleErrors.push(m.text()); });
  return session;
}

/**
 * Sign in through the form. Asserts the form answered 303 (signed in) and waits for the page it
 * redirects to (whose own status the caller checks).
 */
export async function signIn(page, username, password) {
  await page.goto('/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  const posted = page.waitForResponse(
    (r) => new URL(r.url()).pathname === '/login' && r.request().method() === 'POST',
    { timeout: TIMEOUT },
  );
  const landed = page
    .waitForURL((u) => !u.pathname.startsWith('/login'), { timeout: TIMEOUT, waitUntil: 'commit' })
    .catch(() => {});
  await page.getByRole('button', { name: 'Sign in' }).click();
  const res = await posted;
  assert.equal(res.status(), 303, `signing in as ${username} answered ${res.status()}`);
  await landed;
}

/** Navigate and assert the answer's status (default 200). Returns the response. */
export async function visit(page, url, status = 200) {
  const res = await page.goto(url);
  assert.ok(res, `no response for ${url}`);
  assert.equal(res.status(), status, `${url} answered ${res.status()}, expected ${status}`);
  return res;
}

/** Save a PNG of the current page (viewport, or full page) under the screenshot directory. */
export async function screenshot(page, name, { fullPage = true } = {}) {
  mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage, timeout: TIMEOUT, animations: 'disabled' });
  return file;
}

/** Submit the form that contains the given locator (a button in it) and wait for the load. */
export async function clickAndLoad(page, locator) {
  const [res] = await Promise.all([
    page.waitForNavigation({ timeout: TIMEOUT }),
    locator.click(),
  ]);
  return res;
}

/** GET with node's fetch, bounded, no redirects followed. */
export async function httpGet(url, headers = {}) {
  return fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT) });
}

/** Decode a JWT's payload (no verification: the tests compare claims). */
export function jwtPayload(token) {
  const parts = token.trim().split('.');
  assert.equal(parts.length, 3, `not a JWT: ${token.slice(0, 80)}`);
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
}

export function jwtHeader(token) {
  return JSON.parse(Buffer.from(token.trim().split('.')[0], 'base64url').toString('utf8'));
}

/** The text of a URL fetched in the page's own browser session (its cookies). */
export async function fetchInPage(page, url) {
  return page.evaluate(async (u) => {
    const r = await fetch(u, { credentials: 'same-origin', cache: 'no-store' });
    return { status: r.status, body: await r.text(), type: r.headers.get('content-type') };
  }, url);
}

/**
 * Open a URL in the page like a person would (address bar) and return its status and body.
 * A token answer is `application/jwt`, which Chromium may show or save as a download; an error
 * answer has an empty body, for which Chromium shows its own error page: all are handled.
 */
export async function openAsText(page, url) {
  const target = new URL(url, baseOf.get(page)).href;
  let response = null;
  const onResponse = (r) => {
    if (r.url() === target && r.request().isNavigationRequest()) response = r;
  };
  page.on('response', onResponse);
  const download = page.waitForEvent('download', { timeout: TIMEOUT }).catch(() => null);
  try {
    await page.goto(target);
  } catch (e) {
    if (/ERR_HTTP_RESPONSE_CODE_FAILURE/.test(String(e))) {
      // An error answer with an empty body: Chromium goes on to its own error page. Let that
      // navigation finish so it cannot interrupt the caller's next one.
      await page.waitForURL(/^chrome-error:/, { timeout: 5_000 }).catch(() => {});
      await page.waitForLoadState('load', { timeout: TIMEOUT }).catch(() => {});
    } else if (!/download is starting|ERR_ABORTED/i.test(String(e))) {
      throw e;
    }
  } finally {
    page.off('response', onResponse);
  }
  assert.ok(response, `${url}: no response`);
  const status = response.status();
  if (status !== 200) return { status, body: '' };
  let body = await response.text().catch(() => null);
  if (body === null || body === '') {
    const d = await download;
    assert.ok(d, `${url}: neither a page nor a download`);
    body = readFileSync(await d.path(), 'utf8');
  }
  return { status, body };
}

/**
 * Everything a test file needs: a server and a browser, stopped in `after`. Use as
 *   const env = setup(); before(env.start); after(env.stop);
 */
export function setup() {
  const env = {
    server: null,
    browser: null,
    sessions: [],
    async start() {
      env.server = await startServer();
      env.browser = await launchBrowser();
    },
    async session(opts) {
      const s = await newSession(env.browser, env.server, opts);
      env.sessions.push(s);
      return s;
    },
    async admin(opts) {
      const s = await env.session(opts);
      await signIn(s.page, 'admin', ADMIN_PASSWORD);
      return s;
    },
    async stop() {
      for (const s of env.sessions) await s.context.close().catch(() => {});
      if (env.browser) await env.browser.close().catch(() => {});
      if (env.server) await env.server.stop();
    },
  };
  return env;
}

/** A unique suffix for names in one test run. */
export function unique(prefix) {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Verify an HS256/384/512 token's signature with a secret (node's crypto: independent of the server). */
export async function verifyHmac(token, secret) {
  const { createHmac, timingSafeEqual } = await import('node:crypto');
  const [h, p, sig] = token.trim().split('.');
  const alg = jwtHeader(token).alg;
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg];
  assert.ok(hash, `unexpected alg ${alg}`);
  const expected = createHmac(hash, Buffer.from(secret, 'utf8')).update(`${h}.${p}`).digest();
  const got = Buffer.from(sig, 'base64url');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/**
 * The security headers every HTML page must carry: a strict CSP (no inline script or style),
 * nosniff, a Referrer-Policy, and `no-store` (pages hold CSRF tokens or private data).
 */
export function assertPageHeaders(headers, where) {
  const csp = headers['content-security-policy'];
  assert.ok(csp, `${where}: no Content-Security-Policy`);
  assert.ok(!/unsafe-inline|unsafe-eval/.test(csp), `${where}: CSP allows inline code: ${csp}`);
  for (const d of ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"]) {
    assert.ok(csp.includes(d), `${where}: CSP lacks ${d}: ${csp}`);
  }
  assert.match(csp, /script-src 'self'(;|$)/, `${where}: script-src is not just 'self': ${csp}`);
  assert.equal(headers['x-content-type-options'], 'nosniff', `${where}: X-Content-Type-Options`);
  assert.ok(headers['referrer-policy'], `${where}: no Referrer-Policy`);
  assert.match(headers['cache-control'] ?? '', /no-store/, `${where}: Cache-Control is not no-store`);
  assert.match(headers['content-type'] ?? '', /^text\/html/, `${where}: Content-Type`);
}

/** The session cookie of a browser context, as a Cookie header for node's fetch. */
export async function cookieHeader(context) {
  const cookies = await context.cookies();
  return cookies.map((c) => `${c.name}=${c.value}`).join('; ');
}
