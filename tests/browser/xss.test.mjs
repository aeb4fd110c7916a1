// User-controlled text (an asset name, a template, user attributes) shows as text on every page
// and never runs: no dialog, no injected element, no CSP violation.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setup, visit, signIn, screenshot } from './harness.mjs';
import { createAsset, createUser, submit, debugToken } from './ui.mjs';

const SCRIPT = '<script>alert(1)</script>';
const IMG = '"><img src=x onerror=alert(1)>';
const HOVER = '" onmouseover="alert(1)';
const NAME = `XSS ${SCRIPT} ${IMG}`;
const FIRST_NAME = `${SCRIPT}${IMG}`;
const env = setup();
let admin;
let id;

before(async () => {
  await env.start();
  admin = await env.admin();
  admin.acceptConfirms = true;
  assert.equal((await createUser(admin.page, {
    username: 'xss.user',
    password: 'xss-user-password-123',
    attributes: { first_name: FIRST_NAME, last_name: HOVER, email: IMG },
  })).status, 303);
  id = await createAsset(admin.page, {
    name: NAME,
    path: '/tokens/xss',
    secret: 'xss-test-secret-0123456789abcdef-0123456789',
    template: `{"sub": "%globals_user_attribute_username^json_encode%", "name": "%globals_user_attribute_first_name%", "note": "${SCRIPT.replace(/"/g, '\\"')}"}`,
  });
});
after(env.stop);

/** Nothing injected ran or was parsed as markup on the current page. */
async function assertInert(session, where) {
  const { page } = session;
  const found = await page.evaluate(() => ({
    img: document.querySelectorAll('img[src="x"]').length,
    handlers: [...document.querySelectorAll('*')]
      // Element.prototype: a form's `attributes` can be clobbered by a field named "attributes".
      .filter((el) => Element.prototype.getAttributeNames.call(el).some((n) => /^on/i.test(n))).length,
    scripts: [...document.scripts].filter((s) => /alert/.test(s.textContent)).length,
  }));
  assert.deepEqual(found, { img: 0, handlers: 0, scripts: 0 }, `${where}: injected markup`);
  assert.deepEqual(session.dialogs, [], `${where}: a dialog opened`);
  const csp = session.consoleErrors.filter((m) => /content security policy/i.test(m));
  assert.deepEqual(csp, [], `${where}: the CSP had to block something`);
  assert.deepEqual(session.pageErrors, [], `${where}: script errors`);
}

test('an asset name with markup shows as text on the asset pages', async () => {
  const { page } = admin;
  for (const url of ['/admin/assets', `/admin/assets?q=${encodeURIComponent('XSS')}`, `/admin/assets/${id}`, `/admin/assets/${id}/preview`]) {
    await visit(page, url);
    await page.locator('main').getByText(SCRIPT).first().waitFor();
    await assertInert(admin, url);
  }
  await visit(page, '/admin/assets');
  await screenshot(page, 'xss-asset-list');
});

test('user attributes with markup show as text on the user pages and in the preview', async () => {
  const { page } = admin;
  for (const url of ['/admin/users', `/admin/assets/${id}/preview?as=xss.user`]) {
    await visit(page, url);
    await page.locator('main').getByText(SCRIPT).first().waitFor();
    await assertInert(admin, url);
  }
  // The user's own page holds the exact text in its form fields.
  await visit(page, '/admin/users/xss.user');
  await assertInert(admin, '/admin/users/xss.user');
  assert.equal(await page.getByLabel('First name', { exact: true }).inputValue(), FIRST_NAME);
  assert.equal(await page.getByLabel('Last name', { exact: true }).inputValue(), HOVER);
  // Hovering and clicking around does nothing either.
  await page.locator('main').hover();
  await assertInert(admin, 'after hovering');
});

test('the audit log, the trash, the purge page and the debugger show it as text', async () => {
  const { page } = admin;
  await visit(page, `/admin/assets/${id}`);
  assert.equal((await submit(page, page.getByRole('button', { name: /trash/i }).first())).status, 303);
  admin.dialogs.length = 0; // a confirmation asked on purpose by the trash button is not an injection
  for (const url of ['/admin/trash', `/admin/assets/${id}/purge`]) {
    await visit(page, url);
    await page.locator('main').getByText(SCRIPT).first().waitFor();
    await assertInert(admin, url);
  }
  await visit(page, '/admin/audit');
  await assertInert(admin, '/admin/audit');
  const header = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');
  const payload = Buffer.from(JSON.stringify({ sub: FIRST_NAME, name: HOVER })).toString('base64url');
  await debugToken(page, `${header}.${payload}.c2lnbmF0dXJl`);
  await page.locator('main').getByText(SCRIPT, { exact: false }).first().waitFor();
  await assertInert(admin, '/admin/debugger');
});

test('the user with markup in their attributes sees their own pages inert', async () => {
  const user = await env.session();
  await signIn(user.page, 'xss.user', 'xss-user-password-123');
  await visit(user.page, '/admin/my-tokens');
  await assertInert(user, '/admin/my-tokens');
});
