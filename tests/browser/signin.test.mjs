// Signing in and out in the browser.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setup, visit, screenshot, signIn, assertPageHeaders, ADMIN_PASSWORD, TIMEOUT } from './harness.mjs';
import { submit } from './ui.mjs';

const env = setup();
before(env.start);
after(env.stop);

test('the sign-in page has labelled fields and the security headers', async () => {
  const { page, dialogs } = await env.session();
  const res = await visit(page, '/login');
  assertPageHeaders(res.headers(), '/login');
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.equal(await page.getByLabel('Username').count(), 1);
  assert.equal(await page.getByLabel('Password', { exact: true }).getAttribute('type'), 'password');
  assert.deepEqual(dialogs, []);
});

test('a wrong password shows an error and does not sign in', async () => {
  const { page, context } = await env.session();
  await visit(page, '/login');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password', { exact: true }).fill('not-the-password');
  const res = await submit(page, page.getByRole('button', { name: 'Sign in' }));
  assert.equal(res.status, 401);
  assert.equal(new URL(page.url()).pathname, '/login');
  await page.getByRole('alert').filter({ hasText: /wrong username or password/i }).waitFor();
  // What was typed as the username is kept; the password is not echoed.
  assert.equal(await page.getByLabel('Username').inputValue(), 'admin');
  assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), '');
  assert.ok(!(await page.content()).includes('not-the-password'));
  assert.ok(!(await context.cookies()).some((c) => c.name === 'jas_session'), 'a session cookie was set');
  await screenshot(page, 'login-error');
  // An unknown user gets the very same answer.
  await page.getByLabel('Username').fill('nobody-by-this-name');
  await page.getByLabel('Password', { exact: true }).fill('whatever-password');
  assert.equal((await submit(page, page.getByRole('button', { name: 'Sign in' }))).status, 401);
  await page.getByRole('alert').filter({ hasText: /wrong username or password/i }).waitFor();
});

test('an admin page asks to sign in first and comes back to it after', async () => {
  const { page } = await env.session();
  await page.goto('/admin/users');
  await page.waitForURL(/\/login\?next=%2Fadmin%2Fusers$|\/login\?next=\/admin\/users$/, { timeout: TIMEOUT });
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
  const res = await submit(page, page.getByRole('button', { name: 'Sign in' }));
  assert.equal(res.status, 303);
  assert.equal(new URL(page.url()).pathname, '/admin/users');
});

test('an administrator signs in to the asset list and signs out', async () => {
  const { page, context } = await env.session();
  await signIn(page, 'admin', ADMIN_PASSWORD);
  const cookie = (await context.cookies()).find((c) => c.name === 'jas_session');
  assert.ok(cookie, 'no session cookie');
  assert.ok(cookie.httpOnly, 'the session cookie is not HttpOnly');
  const res = await visit(page, '/admin');
  assertPageHeaders(res.headers(), '/admin');
  await page.getByRole('heading', { name: /assets/i }).first().waitFor();
  // The signed-in user is named and can sign out from any page.
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  const out = await submit(page, page.getByRole('button', { name: 'Sign out' }));
  assert.equal(out.status, 303);
  assert.equal(new URL(page.url()).pathname, '/login');
  await page.goto('/admin/assets');
  assert.equal(new URL(page.url()).pathname, '/login', 'still signed in after signing out');
});

test('the sign-in form works with the keyboard alone', async () => {
  const { page } = await env.session();
  await visit(page, '/login');
  // The username field has the focus; Tab moves to the password; Enter submits.
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'username');
  await page.keyboard.type('admin');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('type')), 'password');
  await page.keyboard.type(ADMIN_PASSWORD);
  const posted = page.waitForResponse((r) => r.request().method() === 'POST', { timeout: TIMEOUT });
  await page.keyboard.press('Enter');
  assert.equal((await posted).status(), 303);
  await page.waitForURL((u) => u.pathname.startsWith('/admin'), { timeout: TIMEOUT });
});
