// API keys on a user's page: created and shown once, used by an integration (node's fetch with the
// Bearer header), revoked (then 403).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setup, visit, screenshot, httpGet, jwtPayload, verifyHmac } from './harness.mjs';
import { createUser, createAsset, submit, API_KEY_RE } from './ui.mjs';

const env = setup();
let admin;
const SECRET = 'api-key-test-secret-0123456789abcdef-01234567';
const PATH = '/tokens/integration';
let key;

before(async () => {
  await env.start();
  admin = await env.admin();
  admin.acceptConfirms = true;
  assert.equal((await createUser(admin.page, { username: 'bot', attributes: { email: 'bot@example.test' } })).status, 303);
  await createAsset(admin.page, {
    name: 'Integration',
    path: PATH,
    secret: SECRET,
    template: '{"sub": "%globals_user_attribute_username^json_encode%", "email": "%globals_user_attribute_email%"}',
  });
});
after(env.stop);

test('an API key is shown once, when it is created; a reload or Back and Forward makes no second key', async () => {
  const { page } = admin;
  await visit(page, '/admin/users/bot');
  const res = await submit(page, page.getByRole('button', { name: /create api key/i }));
  assert.equal(res.status, 303, 'the post redirects (Post/Redirect/Get)');
  assert.equal(res.location, '/admin/once');
  assert.equal(new URL(page.url()).pathname, '/admin/once', 'the key is in no URL');
  const shown = (await page.locator('main').innerText()).match(API_KEY_RE);
  assert.ok(shown, 'no key on the page');
  key = shown[0];
  await page.getByText(/won.t see it again|shown once|only once/i).first().waitFor();
  await page.getByRole('button', { name: /copy key/i }).waitFor();
  await screenshot(page, 'api-key-created');
  // Reload: nothing shown again, nothing made.
  const reloaded = await page.reload();
  assert.equal(reloaded.status(), 410);
  await page.getByRole('heading', { name: /nothing to show again/i }).waitFor();
  assert.match(await page.locator('main').innerText(), /Nothing was created or changed/);
  assert.ok(!(await page.content()).includes(key), 'the reload shows the key again');
  await page.goBack();
  await page.goForward();
  assert.ok(!(await page.content()).includes(key), 'Back and Forward show the key again');
  await visit(page, '/admin/users/bot');
  const rows = await page.locator('tr').filter({ hasText: /jas_/ }).count();
  assert.equal(rows, 1, `one key after reloads, found ${rows}`);
  // Back on the user's page: only its first characters.
  await visit(page, '/admin/users/bot');
  const html = await page.content();
  assert.ok(!html.includes(key), 'the full key is on the user page');
  assert.ok(html.includes(key.slice(0, 12)), 'the key prefix is not listed');
  await screenshot(page, 'user');
});

test('the key fetches a token for its user', async () => {
  const res = await httpGet(env.server.url + PATH, { Authorization: `Bearer ${key}` });
  assert.equal(res.status, 200);
  const token = (await res.text()).trim();
  assert.ok(await verifyHmac(token, SECRET));
  assert.equal(jwtPayload(token).sub, 'bot');
  assert.equal(jwtPayload(token).email, 'bot@example.test');
  // The page now shows when it was last used.
  await visit(admin.page, '/admin/users/bot');
  const row = admin.page.locator('tr').filter({ hasText: key.slice(0, 12) });
  assert.doesNotMatch(await row.innerText(), /never/i, 'last use is not shown');
});

test('a revoked key gets 403 on the token URL', async () => {
  const { page } = admin;
  await visit(page, '/admin/users/bot');
  const row = page.locator('tr').filter({ hasText: key.slice(0, 12) });
  assert.equal((await submit(page, row.getByRole('button', { name: /revoke/i }))).status, 303);
  await page.getByRole('status').filter({ hasText: 'API key revoked.' }).waitFor();
  await page.locator('tr').filter({ hasText: key.slice(0, 12) }).getByText(/revoked/i).first().waitFor();
  const res = await httpGet(env.server.url + PATH, { Authorization: `Bearer ${key}` });
  assert.equal(res.status, 403);
  assert.equal(await res.text(), '');
});

test('scopes and an expiry are chosen on the form: an admin:read key reads the admin API and fetches no token', async () => {
  const { page } = admin;
  await visit(page, '/admin/users/admin');
  // The default is `tokens` alone.
  assert.ok(await page.getByLabel(/tokens/).isChecked(), 'tokens is not ticked by default');
  assert.ok(!(await page.getByLabel(/admin:read/).isChecked()));
  assert.ok(!(await page.getByLabel(/admin:write/).isChecked()));
  // Nothing ticked: refused at the field, no key made.
  await page.getByLabel(/tokens/).uncheck();
  let res = await submit(page, page.getByRole('button', { name: /create api key/i }));
  assert.equal(res.status, 400);
  await page.locator('#scopes-error').filter({ hasText: /at least one scope/ }).waitFor();
  // admin:read only, for a year.
  await page.getByLabel(/tokens/).uncheck();
  await page.getByLabel(/admin:read/).check();
  const nextYear = new Date(Date.now() + 365 * 86400e3).toISOString().slice(0, 10);
  await page.getByLabel(/expires after/i).fill(nextYear);
  res = await submit(page, page.getByRole('button', { name: /create api key/i }));
  assert.equal(res.status, 303);
  const reader = (await page.locator('main').innerText()).match(API_KEY_RE)[0];
  await visit(page, '/admin/users/admin');
  const row = page.locator('tr').filter({ hasText: reader.slice(0, 12) });
  assert.match(await row.innerText(), /admin:read/);
  assert.match(await row.innerText(), /until/);
  assert.doesNotMatch(await row.innerText(), /tokens|admin:write/);
  await screenshot(page, 'api-key-scopes');
  const list = await httpGet(env.server.url + '/api/v1/assets', { Authorization: `Bearer ${reader}` });
  assert.equal(list.status, 200);
  assert.ok(Array.isArray((await list.json()).items));
  const token = await httpGet(env.server.url + PATH, { Authorization: `Bearer ${reader}` });
  assert.equal(token.status, 403);
});
