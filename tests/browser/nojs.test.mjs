// Every page works without JavaScript: sign in, create an asset, preview it, trash, restore and
// purge it (confirmations are JavaScript-only and must not be needed).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setup, visit, signIn, ADMIN_PASSWORD, openAsText } from './harness.mjs';
import { createAsset, createUser, submit } from './ui.mjs';

const env = setup();
let s;
let id;

before(async () => {
  await env.start();
  s = await env.session({ javaScript: false });
});
after(env.stop);

test('sign in and create a user and an asset without JavaScript', async () => {
  await signIn(s.page, 'admin', ADMIN_PASSWORD);
  assert.equal((await createUser(s.page, { username: 'dora', password: 'dora-password-123' })).status, 303);
  id = await createAsset(s.page, {
    name: 'No script', path: '/tokens/noscript', secret: 'noscript-secret-0123456789abcdef-0123456789',
    template: '{"sub": "%globals_user_attribute_username^json_encode%"}',
  });
});

test('buttons that need JavaScript (Generate, Copy) stay hidden without it', async () => {
  const shown = [];
  for (const url of ['/admin/assets/new', `/admin/assets/${id}/preview`, '/admin/users/dora', '/admin/my-tokens']) {
    await visit(s.page, url);
    for (const el of await s.page.locator('[hidden]').all()) {
      if (await el.isVisible()) shown.push(`${url}: ${(await el.innerText()).trim() || await el.evaluate((e) => e.outerHTML)}`);
    }
  }
  assert.deepEqual(shown, [], 'elements marked hidden (JavaScript-only) are visible');
});

test("the asset page's section links work without JavaScript", async () => {
  const { page } = s;
  await visit(page, `/admin/assets/${id}`);
  const nav = page.getByRole('navigation', { name: 'Sections of this form' });
  for (const [name, target] of [['Access', '#access-rules'], ['Template', '#section-payload'], ['Next secret', '#next-secret']]) {
    await nav.getByRole('link', { name, exact: true }).click();
    await page.waitForURL((u) => u.hash === target);
    const inView = await page.locator(target).evaluate((el) => {
      const r = el.getBoundingClientRect();
      return r.top >= 0 && r.top < window.innerHeight;
    });
    assert.ok(inView, `${name} did not scroll to ${target}`);
  }
});

test('the preview works without JavaScript', async () => {
  await visit(s.page, `/admin/assets/${id}/preview?as=dora`);
  const main = await s.page.locator('main').innerText();
  assert.match(main, /signature verified/i);
  assert.match(main, /"sub":\s*"dora"/);
});

test('trash, restore and purge without JavaScript', async () => {
  const { page } = s;
  await visit(page, `/admin/assets/${id}`);
  assert.equal((await submit(page, page.getByRole('button', { name: /trash/i }).first())).status, 303);
  assert.equal((await openAsText(page, '/tokens/noscript')).status, 404);
  await visit(page, '/admin/trash');
  assert.equal((await submit(page, page.getByRole('button', { name: /restore/i }).first())).status, 303);
  assert.equal((await openAsText(page, '/tokens/noscript')).status, 200);
  await visit(page, `/admin/assets/${id}`);
  assert.equal((await submit(page, page.getByRole('button', { name: /trash/i }).first())).status, 303);
  await visit(page, `/admin/assets/${id}/purge`);
  assert.equal((await submit(page, page.locator('main').getByRole('button', { name: /purge/i }))).status, 303);
  assert.equal((await page.goto(`/admin/assets/${id}`)).status(), 404);
});
