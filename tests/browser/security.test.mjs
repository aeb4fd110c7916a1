// Security of the pages: headers on every HTML page, CSRF tokens and the origin check on forms,
// 405 for GET on a POST route.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setup, visit, assertPageHeaders, cookieHeader, TIMEOUT } from './harness.mjs';
import { createAsset, createUser, fillAsset, assetSubmit, submit, formWith, adminPages } from './ui.mjs';

const env = setup();
let admin;
let id;

before(async () => {
  await env.start();
  admin = await env.admin();
  assert.equal((await createUser(admin.page, { username: 'carol', password: 'carol-password-123' })).status, 303);
  id = await createAsset(admin.page, {
    name: 'Headers', path: '/tokens/headers', secret: 'headers-secret-0123456789abcdef0123456789',
    template: '{"sub": "%globals_user_attribute_username^json_encode%"}',
  });
});
after(env.stop);

test('every page has a strict CSP, nosniff, a referrer policy and no-store', async () => {
  const pages = [...adminPages({ assetId: id, username: 'carol' }), '/admin/no-such-page', '/admin/assets/no-such-asset'];
  for (const url of pages) {
    const res = await admin.page.goto(url);
    assertPageHeaders(res.headers(), url);
  }
});

/** Post a form in the browser after removing its hidden csrf field; returns the POST's status. */
async function postWithoutCsrf(page, form, button) {
  const removed = await form.evaluate((f) => {
    const inputs = f.querySelectorAll('input[name="csrf"]');
    inputs.forEach((i) => i.remove());
    return inputs.length;
  });
  assert.equal(removed, 1, 'the form has no csrf field to remove');
  return (await submit(page, button)).status;
}

test('the new-user form without its CSRF token is refused with 403', async () => {
  const { page } = admin;
  await visit(page, '/admin/users');
  const form = formWith(page, /create user/i);
  await form.getByLabel(/^username/i).fill('mallory');
  assert.equal(await postWithoutCsrf(page, form, form.getByRole('button', { name: /create user/i })), 403);
  await visit(page, '/admin/users');
  assert.equal(await page.getByRole('link', { name: 'mallory', exact: true }).count(), 0, 'the user was created');
});

test('the new-asset form without its CSRF token is refused with 403', async () => {
  const { page } = admin;
  await visit(page, '/admin/assets/new');
  await fillAsset(page, {
    name: 'Forged', path: '/tokens/forged', secret: 'forged-secret-0123456789abcdef0123456789',
    template: '{"sub": "x"}',
  });
  const form = page.locator('form').filter({ has: assetSubmit(page) });
  assert.equal(await postWithoutCsrf(page, form, assetSubmit(page)), 403);
  await visit(page, '/admin/assets?q=Forged');
  assert.equal(await page.locator('main').getByRole('link', { name: 'Forged', exact: true }).count(), 0);
});

test('a raw form post needs the right CSRF token and this site as its origin', async () => {
  const { page, context } = admin;
  await visit(page, '/admin/users');
  const csrf = await page.locator('input[name="csrf"]').first().inputValue();
  const cookie = await cookieHeader(context);
  const post = (username, token, origin, site) => fetch(`${env.server.url}/admin/users`, {
    method: 'POST',
    redirect: 'manual',
    signal: AbortSignal.timeout(TIMEOUT),
    headers: {
      Cookie: cookie,
      'Content-Type': 'application/x-www-form-urlencoded',
      ...(origin ? { Origin: origin } : {}),
      ...(site ? { 'Sec-Fetch-Site': site } : {}),
    },
    body: new URLSearchParams({ ...(token === null ? {} : { csrf: token }), username }).toString(),
  });
  assert.equal((await post('forged1', null, env.server.url)).status, 403, 'no token');
  assert.equal((await post('forged2', 'x'.repeat(csrf.length), env.server.url)).status, 403, 'wrong token');
  assert.equal((await post('forged3', csrf, 'http://evil.example')).status, 403, 'cross-site origin');
  assert.equal((await post('forged4', csrf, null, 'cross-site')).status, 403, 'Sec-Fetch-Site: cross-site');
  assert.equal((await post('forged5', csrf, null, 'same-site')).status, 403, 'Sec-Fetch-Site: same-site');
  // The same request from this site with the token goes through (so the refusals above mean something).
  assert.equal((await post('genuine', csrf, env.server.url)).status, 303);
  await visit(page, '/admin/users');
  assert.equal(await page.getByRole('link', { name: /^forged/ }).count(), 0);
  await page.getByRole('link', { name: 'genuine', exact: true }).waitFor();
});

test('GET on a POST-only route answers 405', async () => {
  const cookie = await cookieHeader(admin.context);
  for (const url of ['/logout', '/admin/trash/empty', `/admin/assets/${id}/trash`, '/admin/users/carol/disable']) {
    const res = await fetch(env.server.url + url, { headers: { Cookie: cookie }, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT) });
    assert.equal(res.status, 405, `GET ${url}`);
  }
  // Nothing happened: the asset is live.
  await visit(admin.page, `/admin/assets/${id}`);
});
