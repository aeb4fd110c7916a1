// Secrets stay secret: a known asset secret, a user's password, a wrong password, session ids,
// an API key and issued tokens appear in no page (but the form that sets them, while it is being
// set, and the one-time API key page) and in no line of the server's log.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setup, visit, signIn, openAsText, httpGet } from './harness.mjs';
import {
  createAsset, createUser, submit, fillAsset, assetSubmit, assetFields, adminPages, API_KEY_RE,
} from './ui.mjs';

const tag = randomBytes(6).toString('hex');
const SECRET = `canary-secret-${tag}-0123456789abcdef0123`;
const PASSWORD = `canary-password-${tag}`;
const WRONG_PASSWORD = `canary-wrong-password-${tag}`;
const env = setup();
let admin;
let id;
const leaks = {}; // name -> value that must not appear

before(async () => {
  await env.start();
  admin = await env.admin();
  admin.acceptConfirms = true;
  leaks.secret = SECRET;
  leaks.password = PASSWORD;
  leaks.wrongPassword = WRONG_PASSWORD;
});
after(env.stop);

/** Fail if any canary is in the text. */
function assertClean(text, where, except = []) {
  for (const [name, value] of Object.entries(leaks)) {
    if (except.includes(name)) continue;
    assert.ok(!text.includes(value), `${where} contains the ${name}`);
  }
}

test('the secret appears only in the asset form while it is being set', async () => {
  const { page } = admin;
  // A refused save keeps what was typed, the secret included: that is the form setting it.
  await visit(page, '/admin/assets/new');
  await fillAsset(page, { name: 'Canary', path: '/tokens/canary', secret: SECRET, template: '{"sub": ' });
  assert.notEqual((await submit(page, assetSubmit(page))).status, 303);
  id = await createAsset(page, {
    name: 'Canary', path: '/tokens/canary', secret: SECRET,
    template: '{"sub": "%globals_user_attribute_username^json_encode%"}',
  });
  // Once saved, the edit form says it is set and holds nothing.
  await visit(page, `/admin/assets/${id}`);
  assert.equal(await assetFields(page).secret.inputValue(), '');
  assertClean(await page.content(), 'the edit form');
});

test('a user signs in with a known password, fetches tokens, gets an API key', async () => {
  assert.equal((await createUser(admin.page, { username: 'canary', password: PASSWORD })).status, 303);
  // A wrong password first.
  const user = await env.session();
  await visit(user.page, '/login');
  await user.page.getByLabel('Username').fill('canary');
  await user.page.getByLabel('Password', { exact: true }).fill(WRONG_PASSWORD);
  assert.equal((await submit(user.page, user.page.getByRole('button', { name: 'Sign in' }))).status, 401);
  assertClean(await user.page.content(), 'the sign-in error page');
  await signIn(user.page, 'canary', PASSWORD);
  const t = await openAsText(user.page, '/tokens/canary');
  assert.equal(t.status, 200);
  leaks.token = t.body.trim();
  leaks.userSession = (await user.context.cookies()).find((c) => c.name === 'jas_session').value;
  leaks.adminSession = (await admin.context.cookies()).find((c) => c.name === 'jas_session').value;
  for (const url of ['/admin/my-tokens', '/login', '/admin/no-such-page', '/admin/users']) {
    await user.page.goto(url);
    assertClean(await user.page.content(), `${url} (as the user)`);
  }
  // An API key, shown once on the page the post that creates it leads to.
  await visit(admin.page, '/admin/users/canary');
  assert.equal((await submit(admin.page, admin.page.getByRole('button', { name: /create api key/i }))).status, 303);
  leaks.apiKey = (await admin.page.locator('main').innerText()).match(API_KEY_RE)[0];
  assertClean(await admin.page.content(), 'the API key page', ['apiKey']);
  const viaKey = await httpGet(`${env.server.url}/tokens/canary`, { Authorization: `Bearer ${leaks.apiKey}` });
  assert.equal(viaKey.status, 200);
  leaks.keyToken = (await viaKey.text()).trim();
  // Refused requests are logged too: a wrong key and an unknown session id.
  assert.equal((await httpGet(`${env.server.url}/tokens/canary`, { Authorization: `Bearer ${leaks.apiKey}x` })).status, 403);
  assert.equal((await httpGet(`${env.server.url}/tokens/canary`, { Cookie: `jas_session=${leaks.userSession}x` })).status, 403);
});

test('no page holds a secret, password, session id, API key or issued token', async () => {
  const { page } = admin;
  const pages = [...adminPages({ assetId: id, username: 'canary' }), '/admin/no-such-page'];
  for (const url of pages) {
    await page.goto(url);
    assertClean(await page.content(), url);
  }
  // The trash and the purge confirmation, with the asset in the trash.
  await visit(page, `/admin/assets/${id}`);
  assert.equal((await submit(page, page.getByRole('button', { name: /trash/i }).first())).status, 303);
  for (const url of ['/admin/trash', `/admin/assets/${id}/purge`, `/admin/assets/${id}`, '/admin/audit']) {
    await page.goto(url);
    assertClean(await page.content(), url);
  }
});

test("the server's log holds none of them", async () => {
  // Let the audit writer and the request logger flush.
  await new Promise((r) => setTimeout(r, 500));
  const log = env.server.log();
  assert.match(log, /POST/, 'the log has no request lines: is JWT_ASSET_SERVER_LOG=info in effect?');
  assertClean(log, "the server's log");
  assert.ok(!log.includes(SECRET.slice(0, 24)), 'part of the secret is in the log');
});
