// Key pairs through the admin pages: create an RS256 asset with a generated key, read its kid and
// public key on its page, verify a user's token with node's crypto against that PEM, rotate the
// key, and check that new tokens carry the new kid while the old key stays in the JWKS and old
// tokens still verify. Saves the keys panel as a screenshot.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import {
  setup, visit, screenshot, signIn, openAsText, jwtHeader, jwtPayload, httpGet, verifyHmac,
} from './harness.mjs';
import { createUser, fillAsset, assetFields, assetSubmit, submit, debugToken } from './ui.mjs';

const env = setup();
let admin;
let kim;
const KIM_PASSWORD = 'kim-password-for-key-tests';
const ASSET = { name: 'Matrix login', path: '/sso/matrix' };
const TEMPLATE = '{"sub": "%globals_user_attribute_username^json_encode%"}';
let id;
let firstKid;
let firstPem;
let firstToken;

before(async () => {
  await env.start();
  admin = await env.admin();
  admin.acceptConfirms = true; // Rotate key asks to confirm
  assert.equal((await createUser(admin.page, { username: 'kim', password: KIM_PASSWORD })).status, 303);
  kim = await env.session();
  await signIn(kim.page, 'kim', KIM_PASSWORD);
});
after(env.stop);

/** RS256 with node's crypto (RSASSA-PKCS1-v1_5, SHA-256): independent of the server's code. */
function verifiesWith(token, key) {
  const [h, p, sig] = token.trim().split('.');
  return verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(sig, 'base64url'));
}

/** The kid and public key PEM shown on the asset's page. */
async function shownKey(page) {
  await visit(page, `/admin/assets/${id}`);
  const kid = (await page.locator('#active-kid').innerText()).trim();
  const pem = await page.locator('#public-key-pem').innerText();
  assert.match(kid, /^[A-Za-z0-9_-]{43}$/, `kid: ${kid}`);
  assert.match(pem, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\s*$/);
  return { kid, pem };
}

test('the form shows the key section for RS256 and hides the secret', async () => {
  const { page } = admin;
  await visit(page, '/admin/assets/new');
  const f = assetFields(page);
  await f.secret.waitFor({ state: 'visible' }); // HS256 first
  assert.equal(await page.getByRole('group', { name: 'Key pair' }).isVisible(), false);
  await fillAsset(page, { ...ASSET, algorithm: 'RS256', template: TEMPLATE });
  await page.getByRole('group', { name: 'Key pair' }).waitFor({ state: 'visible' });
  assert.equal(await f.secret.isVisible(), false, 'the secret field is shown for RS256');
  // The usual key type is named; types that do not fit RS256 are not offered.
  const keyType = page.getByLabel('Key type', { exact: true });
  assert.match(await keyType.locator('option:checked').innerText(), /RSA-2048/);
  assert.equal(await keyType.locator('option[value="P-256"]').isDisabled(), true);
  await page.getByLabel(/generate a new key pair/i).check();
  const res = await submit(page, assetSubmit(page));
  assert.equal(res.status, 303, `creating the RS256 asset answered ${res.status}`);
  const m = new URL(page.url()).pathname.match(/^\/admin\/assets\/([^/]+)$/);
  assert.ok(m, `not on the asset's page: ${page.url()}`);
  id = m[1];
  await page.getByRole('status').filter({ hasText: /created with a new RSA-2048 key/ }).waitFor();
});

test("the asset's page shows its kid and public key, and a user's token verifies with it", async () => {
  ({ kid: firstKid, pem: firstPem } = await shownKey(admin.page));
  const main = await admin.page.locator('#keys').innerText();
  assert.match(main, /RS256/);
  assert.match(main, /RSA-2048/);
  assert.match(main, /\/\.well-known\/jwks\.json/);
  assert.ok(main.includes(`${ASSET.path}/jwks.json`), 'the asset JWKS URL is not shown');
  const jwk = JSON.parse(await admin.page.locator('#public-jwk').innerText());
  assert.equal(jwk.kid, firstKid);
  assert.equal(jwk.d, undefined);
  // The download link serves the same PEM.
  const download = await admin.page.evaluate(async (u) => {
    const r = await fetch(u);
    return { type: r.headers.get('content-type'), body: await r.text() };
  }, `/admin/assets/${id}/public-key.pem`);
  assert.equal(download.type, 'application/x-pem-file');
  assert.equal(download.body.trim(), firstPem.trim());

  const { status, body } = await openAsText(kim.page, ASSET.path);
  assert.equal(status, 200);
  firstToken = body.trim();
  assert.deepEqual(jwtHeader(firstToken), { alg: 'RS256', typ: 'JWT', kid: firstKid });
  assert.equal(jwtPayload(firstToken).sub, 'kim');
  assert.ok(verifiesWith(firstToken, firstPem), 'the token does not verify with the shown PEM');
  // The list badges the algorithm.
  await visit(admin.page, '/admin/assets');
  await admin.page.locator('main .badge', { hasText: /^RS256$/ }).first().waitFor();
});

test('the preview names the key it verified with', async () => {
  const { page } = admin;
  await visit(page, `/admin/assets/${id}/preview`);
  await page.locator('main').getByText(`Signature verified with key ${firstKid}`).waitFor();
  assert.match(await page.locator('main').innerText(), new RegExp(`"kid":\\s*"${firstKid}"`));
});

test('rotating the key: new kid for new tokens, both in the JWKS, old tokens still verify', async () => {
  const { page } = admin;
  await visit(page, `/admin/assets/${id}`);
  const res = await submit(page, page.getByRole('button', { name: 'Rotate key' }));
  assert.equal(res.status, 303);
  assert.ok(admin.dialogs.some((d) => d.type === 'confirm' && /rotate/i.test(d.message)), 'no confirmation was asked');
  const notice = await page.getByRole('status').filter({ hasText: /key rotated/i }).innerText();
  const { kid: newKid, pem: newPem } = await shownKey(page);
  assert.notEqual(newKid, firstKid);
  assert.ok(notice.includes(`new tokens carry kid ${newKid}`), notice);
  assert.match(notice, /previous key stays published until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
  // The key list: the new key active, the old one published until its tokens have expired.
  const rows = page.locator('#keys table tbody tr');
  assert.equal(await rows.count(), 2);
  assert.match(await rows.filter({ hasText: newKid }).innerText(), /active/);
  assert.match(await rows.filter({ hasText: firstKid }).innerText(), /published until/);

  const { status, body } = await openAsText(kim.page, ASSET.path);
  assert.equal(status, 200);
  const newToken = body.trim();
  assert.equal(jwtHeader(newToken).kid, newKid);
  assert.ok(verifiesWith(newToken, newPem));
  assert.ok(!verifiesWith(newToken, firstPem), 'the new token verifies with the old key');

  const jwks = await httpGet(`${env.server.url}/.well-known/jwks.json`);
  assert.equal(jwks.status, 200);
  const { keys } = await jwks.json();
  const kids = keys.map((k) => k.kid);
  assert.ok(kids.includes(firstKid) && kids.includes(newKid), `JWKS kids: ${kids}`);
  for (const k of keys) for (const p of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(k[p], undefined);
  // The old token still verifies, with the old key as the JWKS publishes it.
  const oldJwk = keys.find((k) => k.kid === firstKid);
  assert.ok(verifiesWith(firstToken, createPublicKey({ key: oldJwk, format: 'jwk' })));
  assert.ok(verifiesWith(firstToken, firstPem));

  // The debugger verifies the old token against the asset (by its kid) and a pasted PEM.
  const byAsset = await debugToken(page, firstToken, { assetId: id });
  assert.match(byAsset, /signature verified/i);
  const byPem = await debugToken(page, firstToken, { publicKey: firstPem });
  assert.match(byPem, /signature verified/i);
  const wrong = await debugToken(page, firstToken, { publicKey: newPem });
  assert.match(wrong, /bad signature/i);
});

test('the debugger decodes as the token is typed, verifies by its kid on its own, and keeps a pasted secret', async () => {
  const { page } = admin;
  await visit(page, '/admin/debugger');
  const token = page.getByLabel('Token', { exact: true });
  await token.fill(firstToken.slice(0, 20));
  await page.locator('#live-decode').getByText(/Not decodable yet/).waitFor();
  await token.fill(firstToken);
  const live = page.locator('#live-decode');
  await live.getByText(`"kid": "${firstKid}"`).waitFor();
  assert.match(await live.innerText(), /"sub": "kim"/);
  // Nothing chosen: the asset that publishes the kid is found and verifies the token.
  assert.ok(await page.getByLabel(/automatically: the secret/i).isChecked(), 'automatic is not the default');
  assert.equal((await submit(page, page.getByRole('button', { name: /decode/i }))).status, 200);
  await page.getByRole('status').filter({ hasText: /Signature verified/ }).waitFor();
  assert.match(await page.locator('#result').innerText(), /found by the token.s kid/);
  // Choosing an asset selects "The key of an asset"; a pasted secret stays for the next try.
  await page.getByLabel('Asset', { exact: true }).selectOption({ index: 0 });
  assert.ok(await page.getByLabel(/key of an asset/i).isChecked(), 'choosing an asset left the mode');
  await page.getByLabel('Secret', { exact: true }).fill('a-pasted-secret-0123456789abcdef');
  assert.ok(await page.getByLabel(/a pasted secret/i).isChecked());
  assert.equal((await submit(page, page.getByRole('button', { name: /decode/i }))).status, 200);
  assert.equal(await page.getByLabel('Secret', { exact: true }).inputValue(), 'a-pasted-secret-0123456789abcdef');
  await screenshot(page, 'debugger-kid', { fullPage: false });
});

test('the keys panel (screenshot)', async () => {
  const { page } = admin;
  await visit(page, `/admin/assets/${id}#keys`);
  await page.locator('#keys').evaluate((el) => el.scrollIntoView({ block: 'start' }));
  await screenshot(page, 'keys', { fullPage: false });
  await screenshot(page, 'full-asset-edit-keys');
  const narrow = await env.admin({ width: 400, height: 900 });
  await visit(narrow.page, `/admin/assets/${id}`);
  const { scroll, width } = await narrow.page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth, width: window.innerWidth,
  }));
  assert.ok(scroll <= width + 1, `the asset page with keys is ${scroll} px wide at 400 px`);
  await screenshot(narrow.page, 'narrow-asset-edit-keys');
});

test('a scheduled next secret for an HMAC asset shows its switch time and can be cancelled', async () => {
  const { page } = admin;
  await visit(page, '/admin/assets/new');
  await fillAsset(page, {
    name: 'Help desk', path: '/sso/helpdesk', secret: 'helpdesk-secret-0123456789abcdef-0123456789', template: TEMPLATE,
  });
  assert.equal((await submit(page, assetSubmit(page))).status, 303);
  const link = page.locator('main').getByRole('link', { name: 'Help desk', exact: true });
  await visit(page, await link.getAttribute('href'));
  const panel = page.locator('#next-secret');
  await panel.getByLabel('Next secret', { exact: true }).fill('the-next-helpdesk-secret-0123456789abcdef');
  await panel.getByLabel('Switch at (UTC)').fill('2099-06-01T12:30');
  assert.equal((await submit(page, panel.getByRole('button', { name: /schedule the switch/i }))).status, 303);
  await page.getByRole('status').filter({ hasText: 'tokens are signed with it from 2099-06-01 12:30:00 UTC on' }).waitFor();
  await panel.getByText(/a switch is scheduled/i).waitFor();
  await screenshot(page, 'next-secret', { fullPage: false });
  assert.equal((await submit(page, panel.getByRole('button', { name: /cancel the switch/i }))).status, 303);
  await page.getByRole('status').filter({ hasText: /scheduled switch was cancelled/i }).waitFor();
});

test('a generated next secret is shown once; a reload neither shows it again nor replaces it', async () => {
  const { page } = admin;
  await visit(page, '/admin/assets');
  await visit(page, await page.locator('main').getByRole('link', { name: 'Help desk', exact: true }).getAttribute('href'));
  const panel = page.locator('#next-secret');
  await panel.getByLabel(/have the server make one/i).check();
  await panel.getByLabel('Switch at (UTC)').fill('2020-01-01T00:00'); // past: tokens switch at once
  const res = await submit(page, panel.getByRole('button', { name: /schedule the switch/i }));
  assert.equal(res.status, 303);
  assert.equal(res.location, '/admin/once');
  await page.getByRole('heading', { name: /store the next secret now/i }).waitFor();
  const secret = (await page.locator('#generated-secret').innerText()).trim();
  assert.ok(secret.length >= 32, secret);
  const reloaded = await page.reload();
  assert.equal(reloaded.status(), 410);
  assert.ok(!(await page.content()).includes(secret));
  const token = await openAsText(page, '/sso/helpdesk');
  assert.equal(token.status, 200);
  assert.ok(await verifyHmac(token.body, secret), 'the secret shown first does not sign: the reload replaced it');
});

test('without JavaScript both the secret and the key pair are shown, each with its hint', async () => {
  const s = await env.session({ javaScript: false });
  await signIn(s.page, 'admin', (await import('./harness.mjs')).ADMIN_PASSWORD);
  await visit(s.page, '/admin/assets/new');
  await assetFields(s.page).secret.waitFor({ state: 'visible' });
  await s.page.getByRole('group', { name: 'Key pair' }).waitFor({ state: 'visible' });
  const main = await s.page.locator('main').innerText();
  assert.match(main, /For HS256, HS384 and HS512 only/);
  assert.match(main, /For RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 and EdDSA only/);
});
