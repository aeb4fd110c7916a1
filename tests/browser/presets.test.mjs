// Consumer presets through the admin pages: "Start from a preset" fills the new-asset form with
// the Matrix homeserver preset, the asset is saved (its warnings shown on the edit page), and a
// user whose username has upper-case letters fetches a token whose sub is the lower-cased
// localpart, as Matrix requires.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setup, visit, screenshot, signIn, openAsText, jwtPayload, jwtHeader, verifyHmac, TIMEOUT } from './harness.mjs';
import { createUser, assetFields, assetSubmit, submit, setField } from './ui.mjs';

const env = setup();
let admin;
const SECRET = 'matrix-preset-browser-secret-0123456789abcdef';
const PASSWORD = 'ann-password-for-preset-tests';
const PATH = '/chat/matrix-login';

before(async () => {
  await env.start();
  admin = await env.admin();
});
after(env.stop);

test('a user with an upper-case username exists', async () => {
  const res = await createUser(admin.page, { username: 'Ann.Lee', password: PASSWORD });
  assert.equal(res.status, 303);
});

test('"Start from a preset" fills the form with the Matrix preset', async () => {
  const { page } = admin;
  await visit(page, '/admin/assets/new');
  await setField(page.getByLabel('Start from a preset'), 'matrix');
  await Promise.all([
    page.waitForURL(/\/admin\/assets\/new\?preset=matrix$/, { timeout: TIMEOUT }),
    page.getByRole('button', { name: /use this preset/i }).click(),
  ]);
  const f = assetFields(page);
  assert.match(await f.template.inputValue(), /%globals_user_attribute_username\^lowercase%/);
  assert.equal(await f.algorithm.inputValue(), 'HS256');
  assert.equal(await page.getByLabel('Consumer preset').inputValue(), 'matrix');
  await screenshot(page, 'asset-form-preset-matrix');

  await f.name.fill('Matrix login');
  await f.path.fill(PATH);
  await f.secret.fill(SECRET);
  const res = await submit(page, assetSubmit(page));
  assert.equal(res.status, 303, `the Matrix asset was refused: ${await page.locator('main').innerText()}`);
  assert.match(res.location, /^\/admin\/assets\/[^/?]+\?done=created$/);
  // The preset's warnings (no iss/aud) are on the edit page it leads to.
  const warnings = page.getByRole('note').filter({ hasText: /Saved, with warnings/i });
  await warnings.waitFor({ timeout: TIMEOUT });
  assert.match(await warnings.innerText(), /jwt_config/);
});

test('the user fetches a token whose sub is the lower-cased localpart', async () => {
  const ann = await env.session();
  await signIn(ann.page, 'Ann.Lee', PASSWORD);
  const { status, body } = await openAsText(ann.page, PATH);
  assert.equal(status, 200);
  const token = body.trim();
  assert.ok(await verifyHmac(token, SECRET), 'the token does not verify with the secret');
  assert.equal(jwtHeader(token).alg, 'HS256');
  const claims = jwtPayload(token);
  assert.equal(claims.sub, 'ann.lee');
  assert.match(claims.sub, /^[a-z0-9._=\-/+]+$/, 'a valid Matrix localpart');
});
