// Every main page with realistic data: it renders, fits a 400 px wide screen, and is saved as a
// screenshot (1280x900; the asset list also 400 px wide and in dark mode) for CI and the docs.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setup, visit, screenshot, signIn } from './harness.mjs';
import {
  createAsset, createUser, fillAsset, assetSubmit, submit, tokenOnPage, debugToken, accessibilityProblems,
} from './ui.mjs';

const env = setup();
let admin;
const ids = {};
const TEMPLATE = `{
  "sub": "%globals_user_attribute_username^json_encode%",
  "given_name": "%globals_user_attribute_first_name%",
  "email": "%globals_user_attribute_email%",
  "groups": %globals_user_groups%,
  "admin": %asset_has_write_access^eq:1:true:false%
}`;
const ASSETS = [
  { key: 'chat', name: 'Chat login', path: '/tokens/chat' },
  { key: 'helpdesk', name: 'Help desk', path: '/sso/helpdesk' },
  { key: 'video', name: 'Video meetings', path: '/sso/video', noExpiry: true },
  { key: 'eu', name: 'Analytics (EU)', path: '/sso/analytics/eu' },
  { key: 'us', name: 'Analytics (US)', path: '/sso/analytics/us', secret: 'short-shared-secret', acceptWeak: true },
  { key: 'legacy', name: 'Legacy sync', path: '/sync/legacy' },
];

before(async () => {
  await env.start();
  admin = await env.admin();
  admin.acceptConfirms = true;
  const { page } = admin;
  for (const u of [
    { username: 'alice', password: 'alice-password-123', attributes: { first_name: 'Alice', last_name: 'Lee', email: 'alice@example.com' }, groups: ['staff', 'ops'] },
    { username: 'bob', password: 'bob-password-1234', attributes: { first_name: 'Bob', last_name: 'Stone', email: 'bob@example.com' }, groups: ['staff'] },
    { username: 'helpdesk-bot', attributes: { email: 'helpdesk@example.com' }, groups: ['integrations'] },
  ]) assert.equal((await createUser(page, u)).status, 303);
  for (const { key, ...a } of ASSETS) {
    ids[key] = await createAsset(page, { secret: `secret-for-${key}-0123456789abcdef0123456789`, template: TEMPLATE, ...a });
  }
  await visit(page, `/admin/assets/${ids.legacy}`);
  assert.equal((await submit(page, page.getByRole('button', { name: /trash/i }).first())).status, 303);
});
after(env.stop);

/** The page fits its viewport's width (no sideways scrolling of the whole page). */
async function assertFitsWidth(page, where) {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
  }));
  assert.ok(scroll <= width + 1, `${where}: the page is ${scroll} px wide in a ${width} px window`);
}

test('search finds assets by name and path', async () => {
  const { page } = admin;
  await visit(page, '/admin/assets?q=analytics');
  const names = await page.locator('main').getByRole('link', { name: /^Analytics/ }).allInnerTexts();
  assert.deepEqual(names.sort(), ['Analytics (EU)', 'Analytics (US)']);
  assert.equal(await page.locator('main').getByRole('link', { name: 'Chat login', exact: true }).count(), 0);
  await visit(page, `/admin/assets?q=${encodeURIComponent('/tokens/')}`);
  await page.locator('main').getByRole('link', { name: 'Chat login', exact: true }).waitFor();
  assert.equal(await page.locator('main').getByRole('link', { name: 'Help desk', exact: true }).count(), 0);
  // Through the search form, as a person would.
  await visit(page, '/admin/assets');
  await page.getByRole('searchbox').fill('video');
  await Promise.all([page.waitForURL(/q=video/), page.getByRole('button', { name: 'Search' }).click()]);
  await page.locator('main').getByRole('link', { name: 'Video meetings', exact: true }).waitFor();
  for (const other of ['Chat login', 'Help desk', 'Analytics (EU)']) {
    assert.equal(await page.locator('main').getByRole('link', { name: other, exact: true }).count(), 0, other);
  }
});

test('login page', async () => {
  const s = await env.session();
  await visit(s.page, '/login');
  await screenshot(s.page, 'login', { fullPage: false });
});

test('asset list: 1280 px, 400 px, dark', async () => {
  const { page } = admin;
  await visit(page, '/admin/assets');
  for (const a of ASSETS.filter((x) => x.key !== 'legacy')) {
    await page.locator('main').getByRole('link', { name: a.name, exact: true }).waitFor();
  }
  assert.equal(await page.locator('main').getByRole('link', { name: 'Legacy sync', exact: true }).count(), 0, 'a trashed asset is listed');
  // State badges: no expiry, weak secret.
  await page.locator('main').getByText(/no expiry/i).first().waitFor();
  await page.locator('main').getByText(/weak secret/i).first().waitFor();
  await screenshot(page, 'assets', { fullPage: false });
  await page.emulateMedia({ colorScheme: 'dark' });
  await screenshot(page, 'assets-dark', { fullPage: false });
  await page.emulateMedia({ colorScheme: 'light' });
  const narrow = await env.admin({ width: 400, height: 900 });
  await visit(narrow.page, '/admin/assets');
  await assertFitsWidth(narrow.page, '/admin/assets');
  await screenshot(narrow.page, 'assets-400', { fullPage: false });
});

test('asset form with a template error', async () => {
  const { page } = admin;
  await visit(page, '/admin/assets/new');
  await fillAsset(page, {
    name: 'Wiki', path: '/sso/wiki', secret: 'secret-for-wiki-0123456789abcdef0123456789',
    template: TEMPLATE.replace('"%globals_user_attribute_email%",', '"%globals_user_attribute_email%"'),
  });
  assert.notEqual((await submit(page, assetSubmit(page))).status, 303);
  await screenshot(page, 'asset-form-template-error-top', { fullPage: false });
  // The editor with the error at its line, and the message under it.
  await page.getByRole('group', { name: 'Payload' }).evaluate((el) => el.scrollIntoView({ block: 'start' }));
  await screenshot(page, 'asset-form-template-error', { fullPage: false });
  await screenshot(page, 'full-asset-form-template-error');
});

test('preview', async () => {
  const { page } = admin;
  await visit(page, `/admin/assets/${ids.chat}/preview?as=alice`);
  await tokenOnPage(page);
  await screenshot(page, 'preview', { fullPage: false });
});

test('trash', async () => {
  const { page } = admin;
  await visit(page, '/admin/trash');
  await page.locator('main').getByText('Legacy sync').first().waitFor();
  await screenshot(page, 'trash', { fullPage: false });
});

test('users page', async () => {
  const { page } = admin;
  await visit(page, '/admin/users');
  await page.getByRole('link', { name: 'alice', exact: true }).waitFor();
  await screenshot(page, 'users', { fullPage: false });
});

test('debugger', async () => {
  const { page } = admin;
  await visit(page, `/admin/assets/${ids.chat}/preview?as=bob`);
  const token = await tokenOnPage(page);
  await debugToken(page, token, { assetId: ids.chat });
  await screenshot(page, 'debugger', { fullPage: false });
});

test('every main page fits a 400 px wide screen', async () => {
  const narrow = await env.admin({ width: 400, height: 900 });
  const pages = {
    assets: '/admin/assets',
    'asset-new': '/admin/assets/new',
    'asset-edit': `/admin/assets/${ids.chat}`,
    preview: `/admin/assets/${ids.chat}/preview?as=alice`,
    trash: '/admin/trash',
    purge: `/admin/assets/${ids.legacy}/purge`,
    users: '/admin/users',
    user: '/admin/users/alice',
    groups: '/admin/groups',
    debugger: '/admin/debugger',
    audit: '/admin/audit',
    'my-tokens': '/admin/my-tokens',
    login: '/login',
  };
  const wide = [];
  for (const [name, url] of Object.entries(pages)) {
    await visit(narrow.page, url);
    await screenshot(narrow.page, `narrow-${name}`);
    const { scroll, width } = await narrow.page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      width: window.innerWidth,
    }));
    if (scroll > width + 1) wide.push(`${url} is ${scroll} px wide`);
  }
  assert.deepEqual(wide, [], 'pages wider than a 400 px window');
});

test('every page: each form control has a label and all text has AA contrast, light and dark', async () => {
  const { page } = admin;
  const pages = [
    '/admin/assets', '/admin/assets/new', `/admin/assets/${ids.chat}`, `/admin/assets/${ids.us}`,
    `/admin/assets/${ids.chat}/preview?as=alice`, '/admin/trash', `/admin/assets/${ids.legacy}/purge`,
    '/admin/users', '/admin/users/alice', '/admin/groups', '/admin/groups/staff', '/admin/debugger', '/admin/audit', '/admin/sign-in',
    '/admin/my-tokens',
  ];
  const found = [];
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const url of pages) {
      await visit(page, url);
      for (const p of await accessibilityProblems(page)) found.push(`${scheme} ${url}: ${p}`);
    }
    const s = await env.session();
    await s.page.emulateMedia({ colorScheme: scheme });
    await visit(s.page, '/login');
    for (const p of await accessibilityProblems(s.page)) found.push(`${scheme} /login: ${p}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  assert.deepEqual(found, [], found.join('\n'));
});

test('full-length pages at 1280 px (for review)', async () => {
  const { page } = admin;
  for (const [name, url] of Object.entries({
    'full-asset-edit': `/admin/assets/${ids.chat}`,
    'full-preview': `/admin/assets/${ids.chat}/preview?as=alice`,
    'full-user': '/admin/users/alice',
    'full-audit': '/admin/audit',
    'full-debugger': '/admin/debugger',
  })) {
    await visit(page, url);
    await screenshot(page, name);
  }
  await page.emulateMedia({ colorScheme: 'dark' });
  for (const [name, url] of Object.entries({
    'dark-preview': `/admin/assets/${ids.chat}/preview?as=alice`,
    'dark-asset-edit': `/admin/assets/${ids.chat}`,
    'dark-users': '/admin/users',
    'dark-trash': '/admin/trash',
  })) {
    await visit(page, url);
    await screenshot(page, name, { fullPage: false });
  }
  await page.emulateMedia({ colorScheme: 'light' });
  const user = await env.session();
  await signIn(user.page, 'alice', 'alice-password-123');
  await visit(user.page, '/admin/my-tokens');
  await screenshot(user.page, 'my-tokens', { fullPage: false });
});
