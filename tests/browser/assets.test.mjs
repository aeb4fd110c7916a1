// The life of an asset, through the admin pages: create it (a template error first), preview it,
// fetch its token as a non-admin user in a second browser session, debug the token, trash it,
// restore it, purge it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  setup, visit, screenshot, signIn, openAsText, jwtPayload, jwtHeader, verifyHmac, TIMEOUT,
} from './harness.mjs';
import {
  createUser, fillAsset, assetFields, assetSubmit, assetId, submit, tokenOnPage, setField, debugToken,
} from './ui.mjs';

const env = setup();
let admin; // the administrator's browser session
let alice; // a second browser session: the non-admin user
const SECRET = 'browser-test-secret-0123456789abcdef-0123456789';
const ALICE_PASSWORD = 'alice-password-for-browser-tests';
const ASSET = { name: 'Chat login', path: '/tokens/chat' };
const TEMPLATE = `{
  "sub": "%globals_user_attribute_username^json_encode%",
  "given_name": "%globals_user_attribute_first_name%",
  "groups": %globals_user_groups%,
  "team": "browser-tests"
}`;
let id;
let aliceToken;

before(async () => {
  await env.start();
  admin = await env.admin();
  admin.acceptConfirms = true; // trash, restore and purge may ask to confirm
});
after(env.stop);

test('an administrator creates a non-admin user with a password', async () => {
  const res = await createUser(admin.page, {
    username: 'alice', password: ALICE_PASSWORD, attributes: { first_name: 'Alice' }, groups: ['staff', 'ops'],
  });
  assert.equal(res.status, 303);
  await admin.page.getByRole('status').filter({ hasText: 'User created.' }).waitFor();
  await visit(admin.page, '/admin/users');
  await admin.page.getByRole('link', { name: 'alice', exact: true }).waitFor();
});

test('a template error is shown at its line and column, and what was typed is kept', async () => {
  const { page } = admin;
  await visit(page, '/admin/assets/new');
  const broken = TEMPLATE.replace('"%globals_user_attribute_username^json_encode%",', '"%globals_user_attribute_username^json_encode%"');
  await fillAsset(page, { ...ASSET, secret: SECRET, template: broken });
  const res = await submit(page, assetSubmit(page));
  assert.notEqual(res.status, 303, 'a broken template was accepted');
  const main = await page.locator('main').innerText();
  // The missing comma is noticed at the next name: line 3, column 3.
  assert.match(main, /line 3\D+column 3\b|\b3:3\b/i, `no line and column in:\n${main}`);
  const f = assetFields(page);
  assert.equal(await f.name.inputValue(), ASSET.name);
  assert.equal(await f.path.inputValue(), ASSET.path);
  assert.equal(await f.template.inputValue(), broken);
  // Fix it and save.
  await f.template.fill(TEMPLATE);
  if ((await f.secret.inputValue()) === '') await f.secret.fill(SECRET);
  const saved = await submit(page, assetSubmit(page));
  assert.equal(saved.status, 303, `the fixed asset was refused: ${await page.locator('main').innerText()}`);
  id = await assetId(page, ASSET.name);
  await page.locator('main').getByText(ASSET.path).first().waitFor();
});

test('the preview shows the token with the right claims, signed with the asset key', async () => {
  const { page } = admin;
  await visit(page, `/admin/assets/${id}/preview`);
  await page.locator('main').getByText(/signature verified/i).first().waitFor();
  const token = await tokenOnPage(page);
  assert.ok(await verifyHmac(token, SECRET), 'the previewed token does not verify with the secret');
  assert.equal(jwtHeader(token).alg, 'HS256');
  const claims = jwtPayload(token);
  assert.equal(claims.sub, 'admin');
  assert.equal(claims.team, 'browser-tests');
  assert.equal(claims.exp - claims.iat, 600, 'default expiry is 10 minutes');
  // The decoded payload is on the page as JSON.
  const main = await page.locator('main').innerText();
  assert.match(main, /"team":\s*"browser-tests"/);

  // Preview as alice: exactly what she would receive.
  const as = page.getByLabel(/preview as/i);
  await setField(as, 'alice');
  const [res] = await Promise.all([
    page.waitForNavigation({ timeout: TIMEOUT }),
    page.getByRole('button', { name: /preview/i }).first().click(),
  ]);
  assert.equal(res.status(), 200);
  const asAlice = jwtPayload(await tokenOnPage(page));
  assert.equal(asAlice.sub, 'alice');
  assert.equal(asAlice.given_name, 'Alice');
  assert.deepEqual(asAlice.groups, ['staff', 'ops']);
  await page.locator('main').getByText(/signature verified/i).first().waitFor();
});

test('Fetch as me shows the answer on the page; a preview as a refused user says why, without a token', async () => {
  const { page } = admin;
  await visit(page, `/admin/assets/${id}/preview`);
  const downloads = [];
  page.on('download', (d) => downloads.push(d));
  await page.getByRole('link', { name: 'Fetch as me' }).click();
  const result = page.locator('#fetch-result');
  await result.getByText(/^200\b/).waitFor();
  assert.match(await result.innerText(), /"sub": "admin"/);
  assert.equal(new URL(page.url()).pathname, `/admin/assets/${id}/preview`, 'left the preview');
  assert.equal(downloads.length, 0, 'a file was downloaded');
  await screenshot(page, 'fetch-as-me', { fullPage: false });

  // Bob is in "ops"; the asset lets group "staff" fetch (and typing it selects "only these").
  assert.equal((await createUser(page, { username: 'bob', password: 'bob-password-12345', groups: ['ops'] })).status, 303);
  await visit(page, '/admin/assets/new');
  await fillAsset(page, { name: 'Staff only', path: '/tokens/staff-only', secret: SECRET, template: TEMPLATE });
  // The rule fields suggest names for the one being typed, keeping those before the comma.
  const readUsers = page.getByRole('group', { name: /who may fetch/i }).getByLabel('Users', { exact: true });
  await readUsers.fill('alice, B');
  await page.waitForFunction(() => [...document.querySelectorAll('#read_users-choices option')].some((o) => o.value === 'alice, bob'));
  await readUsers.fill('alice, ');
  await page.waitForFunction(() => {
    const values = [...document.querySelectorAll('#read_users-choices option')].map((o) => o.value);
    return values.includes('alice, bob') && !values.includes('alice, alice');
  });
  await readUsers.fill('');
  const readGroups = page.getByRole('group', { name: /who may fetch/i }).getByLabel('Groups', { exact: true });
  await readGroups.fill('ops, ST');
  await page.waitForFunction(() => [...document.querySelectorAll('#read_groups-choices option')].some((o) => o.value === 'ops, staff'));
  await page.getByRole('group', { name: /who may fetch/i }).getByLabel('Groups', { exact: true }).fill('staff');
  assert.ok(await page.getByLabel(/only these users and groups/i).isChecked(), 'typing a group left "Any signed-in user" chosen');
  assert.equal((await submit(page, assetSubmit(page))).status, 303);
  const staffOnly = await assetId(page, 'Staff only');
  await visit(page, `/admin/assets/${staffOnly}/preview?as=bob`);
  const refused = page.locator('#refused');
  await refused.getByText(/bob would get 403, not a token/).waitFor();
  assert.match(await refused.innerText(), /allows users none and groups staff; bob is in groups ops/);
  assert.equal(await page.locator('#token').count(), 0, 'a token is shown for a refused user');
});

test('a non-admin user fetches their own token in a second browser session', async () => {
  alice = await env.session();
  await signIn(alice.page, 'alice', ALICE_PASSWORD);
  const { status, body } = await openAsText(alice.page, ASSET.path);
  assert.equal(status, 200);
  aliceToken = body.trim();
  assert.ok(await verifyHmac(aliceToken, SECRET), 'the token does not verify with the secret');
  const claims = jwtPayload(aliceToken);
  assert.equal(claims.sub, 'alice');
  assert.equal(claims.given_name, 'Alice');
  assert.ok(claims.exp > Date.now() / 1000);
  // The admin pages are not hers; her own page lists the asset.
  const adminPage = await alice.page.goto('/admin/users');
  assert.equal(adminPage.status(), 403);
  await visit(alice.page, '/admin/my-tokens');
  await alice.page.locator('main').getByText(ASSET.path).first().waitFor();
});

test('the debugger verifies the token against the asset key and explains a wrong secret', async () => {
  const { page } = admin;
  const verdict = await debugToken(page, aliceToken, { assetId: id });
  assert.match(verdict, /verified|valid/i);
  assert.doesNotMatch(verdict, /not verified|invalid|fail/i);
  assert.match(await page.locator('main').innerText(), /"sub":\s*"alice"/);
  const wrong = await debugToken(page, aliceToken, { secret: 'not-the-secret-0123456789abcdef-0123456789' });
  assert.match(wrong, /signature/i, `the debugger does not say the signature is wrong: ${wrong}`);
  assert.match(await page.locator('main').innerText(), /"sub":\s*"alice"/, 'a bad signature still decodes');
});

test('a trashed asset answers 404, and answers again once restored', async () => {
  const { page } = admin;
  await visit(page, `/admin/assets/${id}`);
  assert.equal((await submit(page, page.getByRole('button', { name: /trash/i }).first())).status, 303);
  assert.equal((await openAsText(alice.page, ASSET.path)).status, 404);
  await visit(page, '/admin/trash');
  const row = page.locator('main').locator('tr, li').filter({ hasText: ASSET.name }).first();
  await row.waitFor();
  assert.match(await row.innerText(), /admin/, 'the trash does not say who trashed it');
  assert.equal((await submit(page, row.getByRole('button', { name: /restore/i }))).status, 303);
  assert.equal((await openAsText(alice.page, ASSET.path)).status, 200);
});

test('a purged asset is gone for good', async () => {
  const { page } = admin;
  await visit(page, `/admin/assets/${id}`);
  assert.equal((await submit(page, page.getByRole('button', { name: /trash/i }).first())).status, 303);
  await visit(page, '/admin/trash');
  const row = page.locator('main').locator('tr, li').filter({ hasText: ASSET.name }).first();
  const purge = row.getByRole('link', { name: /purge/i }).or(row.getByRole('button', { name: /purge/i })).first();
  const tag = await purge.evaluate((el) => el.tagName);
  if (tag === 'A') {
    await purge.click();
    await page.waitForURL(new RegExp(`/admin/assets/${id}/purge$`), { timeout: TIMEOUT });
    // The confirmation names the asset.
    await page.locator('main').getByText(ASSET.name).first().waitFor();
    await screenshot(page, 'purge-confirm');
    // With JavaScript, a confirmation naming the asset comes first; dismissing it purges nothing.
    admin.acceptConfirms = false;
    admin.dialogs.length = 0;
    const button = page.locator('main').getByRole('button', { name: /purge/i });
    await button.click();
    await page.waitForTimeout(500);
    assert.equal(admin.dialogs.length, 1, 'no confirmation was asked');
    assert.equal(admin.dialogs[0].type, 'confirm');
    assert.match(admin.dialogs[0].message, new RegExp(ASSET.name));
    assert.match(page.url(), /\/purge$/, 'the purge went ahead although the confirmation was dismissed');
    admin.acceptConfirms = true;
    assert.equal((await submit(page, button)).status, 303);
  } else {
    assert.equal((await submit(page, purge)).status, 303);
  }
  await visit(page, '/admin/trash');
  assert.equal(await page.locator('main').getByText(ASSET.name).count(), 0, 'still in the trash');
  assert.equal((await page.goto(`/admin/assets/${id}`)).status(), 404);
  assert.equal((await openAsText(alice.page, ASSET.path)).status, 404);
});
