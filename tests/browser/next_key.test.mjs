// Staged key rotation through the keys panel: an RS256 asset made from the Matrix preset (whose
// homeserver pins one public key) gets a next key that is published in the JWKS but does not
// sign; the panel spells out the two steps; activating it switches new tokens to its kid while
// the old key stays published and old tokens still verify (node's crypto). A bad switch time or
// PEM is refused in the panel with nothing changed; an imported next key scheduled far ahead is
// withdrawn and leaves the JWKS. Saves the panel with a pending next key as a screenshot.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import {
  setup, visit, screenshot, signIn, openAsText, jwtHeader, jwtPayload, httpGet, TIMEOUT,
} from './harness.mjs';
import { createUser, fillAsset, assetSubmit, submit } from './ui.mjs';

const env = setup();
let admin;
let lea;
const LEA_PASSWORD = 'lea-password-for-next-key-tests';
const ASSET = { name: 'Matrix chat login', path: '/sso/matrix-chat' };
let id;
let oldKid;
let oldPem;
let oldToken;
let nextKid;
let nextPem;

before(async () => {
  await env.start();
  admin = await env.admin();
  admin.acceptConfirms = true; // Activate and Withdraw ask to confirm
  assert.equal((await createUser(admin.page, { username: 'lea', password: LEA_PASSWORD })).status, 303);
  lea = await env.session();
  await signIn(lea.page, 'lea', LEA_PASSWORD);
});
after(env.stop);

/** RS256 with node's crypto (RSASSA-PKCS1-v1_5, SHA-256): independent of the server's code. */
function verifiesWith(token, key) {
  const [h, p, sig] = token.trim().split('.');
  return verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(sig, 'base64url'));
}

const PEM_RE = /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\s*$/;
const KID_RE = /^[A-Za-z0-9_-]{43}$/;

/** The kids in a JWKS (the server-wide one, or the asset's), asserting no private part leaks. */
async function jwksKids(url) {
  const res = await httpGet(url);
  assert.equal(res.status, 200, `${url} answered ${res.status}`);
  const { keys } = await res.json();
  for (const k of keys) for (const p of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(k[p], undefined, `${url} leaks ${p}`);
  return { kids: keys.map((k) => k.kid), keys };
}

/** Both JWKS URLs' kids. */
async function publishedKids() {
  const all = await jwksKids(`${env.server.url}/.well-known/jwks.json`);
  const own = await jwksKids(`${env.server.url}${ASSET.path}/jwks.json`);
  return { all: all.kids, own: own.kids, keys: all.keys };
}

/** A token fetched by lea, as a signed-in user opens the asset's URL. */
async function leaToken() {
  const { status, body } = await openAsText(lea.page, ASSET.path);
  assert.equal(status, 200, `${ASSET.path} answered ${status}`);
  return body.trim();
}

/** The keys panel's "Next key" part: the note when one is published. */
function nextNote(page) {
  return page.locator('#keys [role="note"]').filter({ has: page.locator('#next-kid') });
}

/** The page has no script error and no CSP report (a failed 400 load is not one). */
function assertCleanConsole(session, where) {
  assert.deepEqual(session.pageErrors, [], `${where}: script errors`);
  const csp = session.consoleErrors.filter((m) => /content security policy|refused to/i.test(m));
  assert.deepEqual(csp, [], `${where}: CSP violations`);
}

test('an RS256 asset from the Matrix preset has a keys panel offering a next key', async () => {
  const { page } = admin;
  await visit(page, '/admin/assets/new?preset=matrix');
  assert.equal(await page.getByLabel('Consumer preset').inputValue(), 'matrix');
  await fillAsset(page, { ...ASSET, algorithm: 'RS256' });
  await page.getByRole('group', { name: 'Key pair' }).waitFor({ state: 'visible' });
  await page.getByLabel(/generate a new key pair/i).check();
  const res = await submit(page, assetSubmit(page));
  assert.equal(res.status, 303, `the RS256 Matrix asset was refused: ${await page.locator('main').innerText()}`);
  const m = new URL(page.url()).pathname.match(/^\/admin\/assets\/([^/]+)$/);
  assert.ok(m, `not on the asset's page: ${page.url()}`);
  id = m[1];

  await visit(page, `/admin/assets/${id}`);
  const keys = page.locator('#keys');
  oldKid = (await page.locator('#active-kid').innerText()).trim();
  oldPem = await page.locator('#public-key-pem').innerText();
  assert.match(oldKid, KID_RE);
  assert.match(oldPem, PEM_RE);
  await keys.getByRole('heading', { name: 'Next key' }).waitFor();
  assert.match(await keys.innerText(), /give it the next key first, then activate/i);
  await keys.getByLabel('Start signing at (UTC, optional)').waitFor();
  await keys.getByLabel('Import a private key instead (PEM, optional)').waitFor();
  await keys.getByRole('button', { name: 'Rotate key now' }).waitFor();
  assert.equal(await page.locator('#next-kid').count(), 0);

  oldToken = await leaToken();
  assert.deepEqual(jwtHeader(oldToken), { alg: 'RS256', typ: 'JWT', kid: oldKid });
  assert.equal(jwtPayload(oldToken).sub, 'lea');
  assert.ok(verifiesWith(oldToken, oldPem), 'the token does not verify with the shown PEM');
});

test('publishing a next key: the two steps, both kids in the JWKS, tokens keep the old key', async () => {
  const { page } = admin;
  await visit(page, `/admin/assets/${id}`);
  const keys = page.locator('#keys');
  const res = await submit(page, keys.getByRole('button', { name: 'Publish a next key' }));
  assert.equal(res.status, 303, `publishing answered ${res.status}: ${await keys.innerText()}`);
  assert.match(res.location ?? '', new RegExp(`^/admin/assets/${id}\\?done=next_key#keys$`));
  // Publishing asks no confirmation (nothing changes for tokens yet).
  assert.deepEqual(admin.dialogs, [], 'publishing asked a question');

  nextKid = (await page.locator('#next-kid').innerText()).trim();
  nextPem = await page.locator('#next-public-key-pem').innerText();
  assert.match(nextKid, KID_RE);
  assert.notEqual(nextKid, oldKid);
  assert.match(nextPem, PEM_RE);
  assert.notEqual(nextPem.trim(), oldPem.trim());
  const notice = await page.getByRole('status').filter({ hasText: /next key .* published/i }).innerText();
  assert.ok(notice.includes(`Next key ${nextKid} published; it does not sign until you activate it`), notice);

  // The note: published, not signing, the consumer's two steps in order.
  const note = nextNote(page);
  const noteText = await note.innerText();
  assert.match(noteText, new RegExp(`Next key ${nextKid} \\(RSA-2048\\) is published`));
  assert.match(noteText, /does not sign yet/);
  assert.match(noteText, /starts signing when you activate it/i);
  const steps = note.locator('ol.steps > li');
  assert.equal(await steps.count(), 2);
  assert.match(await steps.nth(0).innerText(), /^Give the consumer the next public key: put it in the homeserver's jwt_config/);
  assert.match(await steps.nth(1).innerText(), /^Then activate it/);
  // Its JWK and PEM file match what is shown.
  const jwk = JSON.parse(await page.locator('#next-public-jwk').innerText());
  assert.equal(jwk.kid, nextKid);
  assert.equal(jwk.d, undefined);
  const download = note.getByRole('link', { name: 'Download next-public-key.pem' });
  assert.equal(await download.getAttribute('href'), `/admin/assets/${id}/next-key.pem`);
  const file = await page.evaluate(async (u) => {
    const r = await fetch(u);
    return { status: r.status, type: r.headers.get('content-type'), body: await r.text() };
  }, `/admin/assets/${id}/next-key.pem`);
  assert.equal(file.status, 200);
  assert.equal(file.type, 'application/x-pem-file');
  assert.equal(file.body.trim(), nextPem.trim());
  await note.getByRole('button', { name: 'Activate the next key now' }).waitFor();
  await note.getByRole('button', { name: 'Withdraw it' }).waitFor();
  // Rotating now would bypass the next key: the button is gone, and so is the publish form.
  assert.equal(await keys.getByRole('button', { name: 'Rotate key now' }).count(), 0);
  assert.equal(await keys.getByRole('button', { name: 'Publish a next key' }).count(), 0);
  // The key list: the active key and the next one, badged.
  const rows = page.locator('#keys table tbody tr');
  assert.equal(await rows.count(), 2);
  assert.match(await rows.filter({ hasText: oldKid }).innerText(), /active/);
  const nextRow = rows.filter({ hasText: nextKid });
  await nextRow.locator('.badge', { hasText: /^next$/ }).waitFor();
  assert.match(await nextRow.innerText(), /published, not signing yet/);

  const { all, own, keys: jwks } = await publishedKids();
  for (const kids of [all, own]) assert.ok(kids.includes(oldKid) && kids.includes(nextKid), `JWKS kids: ${kids}`);
  // The JWKS publishes the same next key as the page.
  const nextJwk = jwks.find((k) => k.kid === nextKid);
  assert.equal(
    createPublicKey({ key: nextJwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).trim(),
    nextPem.trim(),
  );

  // Tokens are still signed with the old key.
  const token = await leaToken();
  assert.equal(jwtHeader(token).kid, oldKid);
  assert.ok(verifiesWith(token, oldPem), 'a token issued after publishing does not verify with the old PEM');
  assert.ok(!verifiesWith(token, nextPem), 'a token issued after publishing verifies with the next PEM');
  assertCleanConsole(admin, 'publishing');
});

test('the keys panel with a pending next key (screenshot)', async () => {
  const { page } = admin;
  await visit(page, `/admin/assets/${id}`);
  await page.locator('#next-key').evaluate((el) => el.scrollIntoView({ block: 'start' }));
  await nextNote(page).waitFor();
  const file = await screenshot(page, 'next-key', { fullPage: false });
  assert.match(file, /next-key\.png$/);
  const narrow = await env.admin({ width: 400, height: 900 });
  await visit(narrow.page, `/admin/assets/${id}`);
  const { scroll, width } = await narrow.page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth, width: window.innerWidth,
  }));
  assert.ok(scroll <= width + 1, `the asset page with a next key is ${scroll} px wide at 400 px`);
});

test('activating the next key: new tokens carry its kid, the old key stays published', async () => {
  const { page } = admin;
  await visit(page, `/admin/assets/${id}`);
  admin.dialogs.length = 0;
  const res = await submit(page, nextNote(page).getByRole('button', { name: 'Activate the next key now' }));
  assert.equal(res.status, 303);
  assert.equal(admin.dialogs.length, 1, 'no confirmation was asked');
  assert.equal(admin.dialogs[0].type, 'confirm');
  assert.ok(admin.dialogs[0].message.includes(`New tokens carry kid ${nextKid}`), admin.dialogs[0].message);
  assert.match(admin.dialogs[0].message, /consumer must already have its public key/);
  const notice = await page.getByRole('status').filter({ hasText: /next key activated/i }).innerText();
  assert.ok(notice.includes(`Next key activated: new tokens carry kid ${nextKid}`), notice);

  assert.equal((await page.locator('#active-kid').innerText()).trim(), nextKid);
  assert.equal((await page.locator('#public-key-pem').innerText()).trim(), nextPem.trim());
  assert.equal(await page.locator('#next-kid').count(), 0);
  const keys = page.locator('#keys');
  await keys.getByRole('button', { name: 'Rotate key now' }).waitFor();
  await keys.getByRole('button', { name: 'Publish a next key' }).waitFor();
  const rows = page.locator('#keys table tbody tr');
  assert.equal(await rows.count(), 2);
  assert.match(await rows.filter({ hasText: nextKid }).innerText(), /active/);
  assert.doesNotMatch(await rows.filter({ hasText: nextKid }).innerText(), /not signing/);
  assert.match(await rows.filter({ hasText: oldKid }).innerText(), /published until/);

  const token = await leaToken();
  assert.deepEqual(jwtHeader(token), { alg: 'RS256', typ: 'JWT', kid: nextKid });
  assert.ok(verifiesWith(token, nextPem), 'the new token does not verify with the next PEM');
  assert.ok(!verifiesWith(token, oldPem), 'the new token verifies with the old PEM');

  const { all, own, keys: jwks } = await publishedKids();
  for (const kids of [all, own]) assert.ok(kids.includes(oldKid) && kids.includes(nextKid), `JWKS kids: ${kids}`);
  // The old token still verifies, with the old PEM and the old key as the JWKS publishes it.
  assert.ok(verifiesWith(oldToken, oldPem));
  assert.ok(verifiesWith(oldToken, createPublicKey({ key: jwks.find((k) => k.kid === oldKid), format: 'jwk' })));
  assertCleanConsole(admin, 'activating');
});

test('a bad PEM or switch time is refused in the panel, and no next key is published', async () => {
  const { page } = admin;
  await visit(page, `/admin/assets/${id}`);
  const keys = page.locator('#keys');
  const pemField = keys.getByLabel('Import a private key instead (PEM, optional)');
  await pemField.fill('not a key');
  await keys.getByLabel('Start signing at (UTC, optional)').fill('2099-03-04T05:06');
  const res = await submit(page, keys.getByRole('button', { name: 'Publish a next key' }));
  assert.equal(res.status, 400, `a bad PEM answered ${res.status}`);
  const pemError = page.locator('#next-key-pem-error');
  await pemError.waitFor();
  assert.ok((await pemError.innerText()).trim().length > 0, 'an empty field error');
  assert.equal(await pemField.getAttribute('aria-invalid'), 'true');
  assert.match(await pemField.getAttribute('aria-describedby'), /next-key-pem-error/);
  // What was typed is kept.
  assert.equal(await pemField.inputValue(), 'not a key');
  assert.equal(await keys.getByLabel('Start signing at (UTC, optional)').inputValue(), '2099-03-04T05:06');
  assert.equal(await page.locator('#next-kid').count(), 0);

  // A switch time the date picker cannot produce, posted with the form's own CSRF token.
  const posted = await page.evaluate(async (assetId) => {
    const form = document.querySelector('form.next-key-form');
    const body = new URLSearchParams({
      csrf: form.querySelector('input[name="csrf"]').value,
      switch_at: 'yesterday',
      next_key_pem: '',
    });
    const r = await fetch(`/admin/assets/${assetId}/next-key`, { method: 'POST', body, redirect: 'manual' });
    return { status: r.status, html: await r.text() };
  }, id);
  assert.equal(posted.status, 400, `switch_at=yesterday answered ${posted.status}`);
  await page.setContent(posted.html); // read the answer as the page it is (no scripts needed)
  const switchError = page.locator('#keys #next-key-switch-error');
  assert.match(await switchError.innerText(), /enter a date and time \(UTC\), or leave it empty/);
  assert.equal(await page.locator('#next_key_switch_at').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.locator('#next-kid').count(), 0);

  // Nothing changed: still the activated key, no next key, nothing new in the JWKS.
  await visit(page, `/admin/assets/${id}`);
  assert.equal((await page.locator('#active-kid').innerText()).trim(), nextKid);
  assert.equal(await page.locator('#next-kid').count(), 0);
  assert.equal(await page.locator('#keys table tbody tr').count(), 2);
  const { all, own } = await publishedKids();
  assert.deepEqual([...own].sort(), [oldKid, nextKid].sort());
  assert.equal(all.length, 2, `JWKS kids: ${all}`);
  assert.equal(jwtHeader(await leaToken()).kid, nextKid);
  assertCleanConsole(admin, 'bad input');
});

test('an imported next key scheduled far ahead shows its time and can be withdrawn', async () => {
  const { page } = admin;
  await visit(page, `/admin/assets/${id}`);
  const keys = page.locator('#keys');
  // The administrator brings the key (PKCS#8 PEM, made by node's crypto).
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  await keys.getByLabel('Start signing at (UTC, optional)').fill('2099-01-01T00:00');
  await keys.getByLabel('Import a private key instead (PEM, optional)').fill(privatePem);
  const res = await submit(page, keys.getByRole('button', { name: 'Publish a next key' }));
  assert.equal(res.status, 303, `publishing answered ${res.status}: ${await keys.innerText()}`);
  const scheduledKid = (await page.locator('#next-kid').innerText()).trim();
  assert.match(scheduledKid, KID_RE);
  assert.ok(![oldKid, nextKid].includes(scheduledKid));
  assert.equal(
    (await page.locator('#next-public-key-pem').innerText()).trim(),
    publicKey.export({ type: 'spki', format: 'pem' }).trim(),
    'the next public key is not the imported one',
  );
  const html = await page.content();
  assert.ok(!html.includes('PRIVATE KEY') && !html.includes(privatePem.split('\n')[1]), 'the imported private key is on the page');
  const notice = await page.getByRole('status').filter({ hasText: /next key .* published/i }).innerText();
  assert.ok(notice.includes(`Next key ${scheduledKid} published: it signs from 2099-01-01 00:00:00 UTC on`), notice);
  const note = nextNote(page);
  const noteText = await note.innerText();
  assert.match(noteText, /starts signing at\s+2099-01-01 00:00:00 UTC/);
  assert.equal(await note.locator('time').getAttribute('datetime'), '2099-01-01T00:00:00Z');
  assert.match(await note.locator('ol.steps > li').nth(1).innerText(), /^Then let the switch time come, or activate it/);
  assert.ok((await publishedKids()).own.includes(scheduledKid), 'the scheduled key is not in the JWKS');
  assert.equal(jwtHeader(await leaToken()).kid, nextKid);

  admin.dialogs.length = 0;
  const withdrawn = await submit(page, note.getByRole('button', { name: 'Withdraw it' }));
  assert.equal(withdrawn.status, 303);
  assert.equal(admin.dialogs.length, 1, 'no confirmation was asked');
  assert.match(admin.dialogs[0].message, /^Withdraw the next key\?/);
  await page.getByRole('status').filter({ hasText: 'The next key was withdrawn and is no longer published.' }).waitFor({ timeout: TIMEOUT });
  assert.equal(await page.locator('#next-kid').count(), 0);
  assert.equal(await page.locator('#keys table tbody tr').filter({ hasText: scheduledKid }).count(), 0);
  await keys.getByRole('button', { name: 'Rotate key now' }).waitFor();
  assert.equal((await page.locator('#active-kid').innerText()).trim(), nextKid);

  const { all, own } = await publishedKids();
  for (const kids of [all, own]) {
    assert.ok(!kids.includes(scheduledKid), `the withdrawn kid is still in the JWKS: ${kids}`);
    assert.ok(kids.includes(nextKid) && kids.includes(oldKid), `JWKS kids: ${kids}`);
  }
  const file = await page.evaluate(async (u) => (await fetch(u)).status, `/admin/assets/${id}/next-key.pem`);
  assert.equal(file, 404);
  assert.equal(jwtHeader(await leaToken()).kid, nextKid);
  assertCleanConsole(admin, 'withdrawing');
  assertCleanConsole(lea, 'the user');
});
