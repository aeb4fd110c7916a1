// OpenID Connect sign-in in the browser, against a real OpenID provider (panva's oidc-provider,
// tests/oidc/provider.mjs): the administrator adds the provider on /admin/sign-in, a person signs
// in with it from the sign-in page and comes back to a token URL with a token carrying the
// provider's claims, the account shows where it comes from, a stale callback is refused, and
// signing out goes back to /login.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  setup, visit, screenshot, jwtPayload, httpGet, assertPageHeaders, repoRoot, TIMEOUT,
} from './harness.mjs';
import { createAsset, assetSubmit, submit } from './ui.mjs';

const PROVIDER_PASSWORD = 'provider-password-1';
const CHAT = {
  name: 'chat',
  path: '/t/chat',
  secret: '0123456789abcdef0123456789abcdef',
  template:
    '{"sub": %globals_user_attribute_username^json_encode%, "first": %globals_user_attribute_first_name^json_encode%, "groups": %globals_user_groups^json_encode%}',
};

/**
 * Start tests/oidc/provider.mjs on a free port. Resolves with its issuer once it printed
 * `listening on http://127.0.0.1:PORT`. With --control-stdin the end of its stdin ends it too,
 * so it never outlives this test process.
 */
async function startProvider({ timeoutMs = 30_000 } = {}) {
  const script = path.join(repoRoot, 'tests', 'oidc', 'provider.mjs');
  const child = spawn(process.execPath, [script, '--port', '0', '--control-stdin'], {
    cwd: path.dirname(script),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const issuer = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the OpenID provider did not say "listening on" within ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
      const m = stdout.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the OpenID provider exited (code ${code}, signal ${signal}); stderr:\n${stderr}`));
    });
  });
  let stopped = false;
  return {
    issuer,
    log: () => stderr,
    async stop() {
      if (stopped) return;
      stopped = true;
      child.stdin.end();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/** Register a client at the provider (dynamic client registration); its id and secret. */
async function registerClient(issuer, body) {
  const res = await fetch(`${issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(TIMEOUT),
  });
  const text = await res.text();
  assert.equal(res.status, 201, `client registration answered ${res.status}: ${text}`);
  const { client_id: clientId, client_secret: clientSecret } = JSON.parse(text);
  assert.ok(clientId && clientSecret, `no client id or secret in ${text}`);
  return { clientId, clientSecret };
}

/** Record every CSP report and script error of a session with the page it happened on. */
function watchPage(session) {
  const seen = { csp: [], errors: [] };
  session.page.on('console', (m) => {
    if (m.type() === 'error' && /content security policy/i.test(m.text())) {
      seen.csp.push(`${session.page.url()}: ${m.text()}`);
    }
  });
  session.page.on('pageerror', (e) => seen.errors.push(`${session.page.url()}: ${e}`));
  return seen;
}

/** No CSP violation, no script error and no dialog so far in this session. */
function assertClean(session, seen, where) {
  assert.deepEqual(seen.csp, [], `${where}: the CSP had to block something`);
  assert.deepEqual(seen.errors, [], `${where}: script errors`);
  assert.deepEqual(session.dialogs, [], `${where}: a dialog opened`);
}

const env = setup();
let provider;
let admin;
let adminSeen;
/** The browser session alice signed in with (test 2), signed out in test 5. */
let alice;
let aliceSeen;
/** The id of the CHAT asset. */
let chatId;

before(async () => {
  provider = await startProvider();
  await env.start();
  admin = await env.admin();
  adminSeen = watchPage(admin);
  admin.acceptConfirms = true;
  chatId = await createAsset(admin.page, CHAT);
});
after(async () => {
  await env.stop();
  if (provider) await provider.stop();
});

test('the administrator adds an identity provider on the sign-in settings page', async () => {
  const { page } = admin;
  const server = env.server.url;
  const redirectUri = `${server}/login/oidc/corp/callback`;
  const { clientId, clientSecret } = await registerClient(provider.issuer, {
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [`${server}/login`],
  });

  await visit(page, '/admin');
  await page.getByRole('link', { name: 'Sign-in', exact: true }).click();
  await page.waitForURL((u) => u.pathname === '/admin/sign-in', { timeout: TIMEOUT });
  const res = await visit(page, '/admin/sign-in');
  assertPageHeaders(res.headers(), '/admin/sign-in');
  await page.getByRole('heading', { name: 'Add an identity provider' }).waitFor();

  const form = page.locator('form').filter({ has: page.getByRole('button', { name: 'Add provider' }) });
  await form.getByLabel('Id', { exact: true }).fill('corp');
  await form.getByLabel('Button label').fill('Corp ID');
  await form.getByLabel('Issuer URL').fill(provider.issuer);
  await form.getByLabel('Client id').fill(clientId);
  await form.getByLabel('Client secret').fill(clientSecret);
  await form.getByLabel('Scopes').fill('openid profile email groups');
  await form.getByLabel('Groups claim').fill('groups');
  await form.getByLabel(/create their account at their first sign-in/i).check();
  assert.equal(await form.getByLabel(/also signs out at the provider/i).isChecked(), false);
  const added = await submit(page, form.getByRole('button', { name: 'Add provider' }));
  assert.equal(added.status, 303, `adding the provider answered ${added.status}: ${await page.locator('main').innerText()}`);
  assert.equal(new URL(page.url()).pathname, '/admin/sign-in');

  const row = page.locator('tbody tr').filter({ hasText: 'Corp ID' });
  await row.waitFor();
  const text = await row.innerText();
  assert.ok(text.includes(redirectUri), `the provider's row does not show the redirect URI ${redirectUri}: ${text}`);
  assert.ok(text.includes(provider.issuer), `the provider's row does not show the issuer: ${text}`);
  // The client secret is kept sealed: never on the page.
  assert.ok(!(await page.content()).includes(clientSecret), 'the client secret is on the page');
  await screenshot(page, 'sign-in-settings');
  assertClean(admin, adminSeen, '/admin/sign-in');
});

test('a person signs in with the provider and comes back to the token URL', async () => {
  alice = await env.session();
  aliceSeen = watchPage(alice);
  const { page, context } = alice;

  // Not signed in, the token URL answers 403 (it never redirects to the sign-in page).
  const before = await httpGet(`${env.server.url}/t/chat`);
  assert.equal(before.status, 403, `/t/chat answered ${before.status} before signing in`);
  const res = await visit(page, '/login?next=/t/chat');
  assertPageHeaders(res.headers(), '/login?next=/t/chat');
  const button = page.getByRole('link', { name: 'Sign in with Corp ID' });
  await button.waitFor();
  const href = await button.getAttribute('href');
  const target = new URL(href, env.server.url);
  assert.equal(target.pathname, '/login/oidc/corp', `the provider button goes to ${href}`);
  assert.equal(target.searchParams.get('next'), '/t/chat', `the provider button loses next: ${href}`);
  // The password form is still there, below the button.
  await page.getByLabel('Username').waitFor();
  await screenshot(page, 'sign-in-with-provider');
  assertClean(alice, aliceSeen, '/login with a provider');

  await button.click();
  await page.waitForURL((u) => u.href.startsWith(provider.issuer), { timeout: TIMEOUT });
  await page.locator('input[name="login"]').fill('alice');
  await page.locator('input[name="password"]').fill(PROVIDER_PASSWORD);

  // The provider sends the browser back to the callback, which redirects to next=/t/chat, whose
  // answer is the token (application/jwt: Chromium may show it or save it as a download).
  let callback = null;
  let chat = null;
  const onResponse = (r) => {
    const u = new URL(r.url());
    if (u.origin !== env.server.url || !r.request().isNavigationRequest()) return;
    if (u.pathname === '/login/oidc/corp/callback') callback = r;
    if (u.pathname === '/t/chat') chat = r;
  };
  page.on('response', onResponse);
  const download = page.waitForEvent('download', { timeout: TIMEOUT }).catch(() => null);
  // A download aborts the navigation (ERR_ABORTED): the responses seen tell where it ended.
  const landed = page
    .waitForURL((u) => u.href === `${env.server.url}/t/chat`, { timeout: TIMEOUT, waitUntil: 'commit' })
    .catch(() => {});
  await page.getByRole('button', { name: 'Sign in' }).click();
  await landed;
  const deadline = Date.now() + TIMEOUT;
  while (!chat && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  page.off('response', onResponse);

  assert.ok(callback, `the browser never came back to the callback (at ${page.url()}; server log:\n${env.server.log()})`);
  assert.equal(callback.status(), 303, `the callback answered ${callback.status()}: ${await callback.text().catch(() => '')}`);
  assert.equal(callback.headers().location, '/t/chat', 'the callback does not go to next');
  assert.ok(chat, `the browser did not end at /t/chat (at ${page.url()})`);
  assert.equal(chat.status(), 200, `/t/chat answered ${chat.status()} after signing in`);
  let body = await chat.text().catch(() => null);
  if (!body) {
    const d = await download;
    assert.ok(d, '/t/chat: neither a page nor a download');
    body = readFileSync(await d.path(), 'utf8');
  }
  const claims = jwtPayload(body);
  assert.equal(claims.sub, 'alice');
  assert.equal(claims.first, 'Alice');
  assert.deepEqual([...claims.groups].sort(), ['dev', 'staff']);

  assert.ok((await context.cookies()).some((c) => c.name === 'jas_session'), 'no session cookie after signing in');
  assertClean(alice, aliceSeen, 'the sign-in with the provider');
});

test("the account's admin page shows it comes from the provider", async () => {
  const { page } = admin;
  await visit(page, '/admin/users/alice');
  await page.locator('main').getByText('from corp', { exact: true }).waitFor();
  const section = page.locator('section').filter({ has: page.getByRole('heading', { name: 'Where the account comes from' }) });
  await section.waitFor();
  const text = await section.innerText();
  assert.match(text, /signs in through corp/i, `the section says: ${text}`);
  assert.ok(text.includes('sub-alice-0001'), `the provider's sub is not shown: ${text}`);
  assertClean(admin, adminSeen, '/admin/users/alice');
});

test('a callback without a pending sign-in is refused with the sign-in form', async () => {
  const session = await env.session();
  const seen = watchPage(session);
  const { page, context } = session;
  const res = await visit(page, '/login/oidc/corp/callback?code=x&state=y', 400);
  assertPageHeaders(res.headers(), '/login/oidc/corp/callback (stale)');
  await page.getByRole('alert').filter({ hasText: /expired or was already used/i }).waitFor();
  await page.getByLabel('Username').waitFor();
  await page.getByLabel('Password', { exact: true }).waitFor();
  await page.getByRole('link', { name: 'Sign in with Corp ID' }).waitFor();
  assert.ok(!(await context.cookies()).some((c) => c.name === 'jas_session'), 'a session cookie was set');
  assertClean(session, seen, 'the stale callback');
});

test('signing out (provider session kept) goes back to the sign-in page', async () => {
  assert.ok(alice, 'alice did not sign in');
  const { page } = alice;
  await visit(page, '/login');
  await page.getByText(/you are signed in as alice/i).waitFor();
  const out = await submit(page, page.getByRole('button', { name: 'Sign out' }));
  assert.equal(out.status, 303);
  assert.equal(out.location, '/login', `signing out went to ${out.location}, not /login`);
  assert.equal(new URL(page.url()).href, `${env.server.url}/login`);
  await page.getByRole('link', { name: 'Sign in with Corp ID' }).waitFor();
  const token = await page.evaluate(async () => (await fetch('/t/chat', { cache: 'no-store' })).status);
  assert.equal(token, 403, 'the token URL still answers after signing out');
  assertClean(alice, aliceSeen, 'signing out');
});

test('an edit saved after the session ended comes back after signing in with the provider', async () => {
  // alice becomes an administrator, who signs in with the provider only.
  const { page: adminPage } = admin;
  await visit(adminPage, '/admin/users/alice');
  await adminPage.getByLabel('Administrator').check();
  const profile = adminPage.locator('form').filter({ has: adminPage.getByLabel('Administrator') });
  const saved = await submit(adminPage, profile.getByRole('button', { name: 'Save' }));
  assert.equal(saved.status, 303, `making alice an administrator answered ${saved.status}`);

  const s = await env.session();
  const seen = watchPage(s);
  const { page } = s;
  const viaProvider = async () => {
    await page.getByRole('link', { name: 'Sign in with Corp ID' }).click();
    await page.waitForURL((u) => u.href.startsWith(provider.issuer), { timeout: TIMEOUT });
    await page.locator('input[name="login"]').fill('alice');
    await page.locator('input[name="password"]').fill(PROVIDER_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };
  await visit(page, `/login?next=/admin/assets/${chatId}`);
  await viaProvider();
  await page.waitForURL((u) => u.pathname === `/admin/assets/${chatId}`, { timeout: TIMEOUT });

  await page.getByLabel('Name', { exact: true }).fill('chat, edited while the session ended');
  await page.context().clearCookies(); // the session ends while the form is open (the provider's too)
  const res = await submit(page, assetSubmit(page));
  assert.equal(res.status, 401, 'the sign-in page answers the post');
  const kept = await page.locator('#draft-kept').innerText();
  assert.match(kept, /with a password or with a provider/);
  await viaProvider();
  // Back on the form, app.js posts the kept changes to it: shown, not saved.
  await page.getByText(/These are the changes you typed before your session ended/).waitFor({ timeout: TIMEOUT });
  assert.equal(new URL(page.url()).pathname, `/admin/assets/${chatId}`);
  assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), 'chat, edited while the session ended');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'the changes stay in the tab after use');
  await visit(adminPage, '/admin/assets');
  assert.equal(await adminPage.getByText('chat, edited while the session ended').count(), 0, 'the changes were saved without a save');
  assertClean(s, seen, 'the sign-in with the provider after the session ended');
});
