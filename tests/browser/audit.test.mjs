// The audit log: filters by the start of a username or path, by action family and by day (UTC),
// lined up in one row; an edit's entry names the fields it changed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setup, visit, screenshot, clickAndLoad } from './harness.mjs';
import { createAsset, createUser, assetFields, assetSubmit, submit } from './ui.mjs';

const env = setup();
let admin;
const SECRET = 'audit-test-secret-0123456789abcdef-0123456789';
const TEMPLATE = '{"sub": "%globals_user_attribute_username^json_encode%"}';

before(async () => {
  await env.start();
  admin = await env.admin();
  const { page } = admin;
  assert.equal((await createUser(page, { username: 'alice', password: 'alice-password-123' })).status, 303);
  assert.equal((await createUser(page, { username: 'alan', password: 'alan-password-1234' })).status, 303);
  const id = await createAsset(page, { name: 'Chat login', path: '/tokens/chat', secret: SECRET, template: TEMPLATE });
  await visit(page, `/admin/assets/${id}`);
  await assetFields(page).name.fill('Chat sign-in');
  assert.equal((await submit(page, assetSubmit(page))).status, 303);
});
after(env.stop);

const rows = (page) => page.locator('tbody tr');

test('the filters sit on one line: every input and the Filter button start at the same height', async () => {
  const { page } = admin;
  await visit(page, '/admin/audit');
  const tops = [];
  for (const control of [
    page.getByLabel('User', { exact: true }), page.getByLabel('Target'), page.getByLabel('Action'),
    page.getByLabel('From (UTC)'), page.getByLabel('To (UTC)'), page.getByLabel('Show'),
    page.getByRole('button', { name: 'Filter' }),
  ]) {
    const box = await control.boundingBox();
    tops.push(Math.round(box.y));
  }
  const rowsOf = [...new Set(tops)];
  // One or two rows of controls (the grid wraps), each lined up.
  for (const top of tops) assert.ok(rowsOf.some((t) => Math.abs(t - top) <= 2), `misaligned tops ${tops}`);
  assert.ok(tops.filter((t) => Math.abs(t - tops[0]) <= 2).length >= 4, `the first row holds few controls: ${tops}`);
  await screenshot(page, 'audit');
});

test('a user prefix, an action family and a day range narrow the list', async () => {
  const { page } = admin;
  await visit(page, '/admin/audit');
  await page.getByLabel('User', { exact: true }).fill('adm');
  await page.getByLabel('Action').selectOption('user');
  assert.equal((await clickAndLoad(page, page.getByRole('button', { name: 'Filter' }))).status(), 200);
  const text = await page.locator('tbody').innerText();
  assert.match(text, /user\.create/);
  assert.match(text, /alice/);
  assert.match(text, /alan/);
  assert.doesNotMatch(text, /asset\./);

  // The asset's path by its beginning, only updates: what changed is named.
  await visit(page, '/admin/audit?asset=%2Ftok&action=asset.update');
  assert.equal(await rows(page).count(), 1);
  assert.match(await rows(page).first().innerText(), /changed name/);

  // Today (UTC) holds everything; a range that ends yesterday holds nothing.
  const today = new Date().toISOString().slice(0, 10);
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  await visit(page, '/admin/audit');
  await page.getByLabel('From (UTC)').fill(today);
  await page.getByLabel('To (UTC)').fill(today);
  assert.equal((await clickAndLoad(page, page.getByRole('button', { name: 'Filter' }))).status(), 200);
  assert.ok((await rows(page).count()) >= 4);
  await page.getByLabel('From (UTC)').fill('');
  await page.getByLabel('To (UTC)').fill(yesterday);
  assert.equal((await clickAndLoad(page, page.getByRole('button', { name: 'Filter' }))).status(), 200);
  await page.getByText('No events match these filters.').waitFor();
});
