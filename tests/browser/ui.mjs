// Steps through the admin pages, by label, role and visible text, as a person would click them.
// The only place that knows how the forms are laid out: adapt here when a page changes.

import assert from 'node:assert/strict';
import { TIMEOUT, visit } from './harness.mjs';

/** A JWT anywhere in a text. */
export const JWT_RE = /eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/;
/** An API key anywhere in a text. */
export const API_KEY_RE = /jas_[A-Za-z0-9_-]{20,}/;

/**
 * Click a submit button and wait for the POST's answer and the page it leads to.
 * Returns the POST's status (303 on success) and the final response's status.
 */
export async function submit(page, button) {
  const posted = page.waitForResponse((r) => r.request().method() === 'POST' && r.request().isNavigationRequest(), {
    timeout: TIMEOUT,
  });
  const loaded = page.waitForEvent('load', { timeout: TIMEOUT }).catch(() => null);
  await button.click();
  const res = await posted;
  await loaded;
  await page.waitForLoadState('load', { timeout: TIMEOUT });
  return { status: res.status(), location: res.headers().location ?? null };
}

/** The form that holds a button with this accessible name. */
export function formWith(page, buttonName) {
  return page.locator('form').filter({ has: page.getByRole('button', { name: buttonName }) });
}

/** Fill a field that may be a select, a checkbox or a text field. */
export async function setField(locator, value) {
  const tag = await locator.evaluate((el) => `${el.tagName}:${el.type || ''}`);
  if (tag.startsWith('SELECT')) await locator.selectOption(String(value));
  else if (/checkbox|radio/.test(tag)) await locator.setChecked(Boolean(value));
  else await locator.fill(String(value));
}

/** Labels of the attribute fields the user forms have. */
const ATTRIBUTE_LABELS = { first_name: 'First name', last_name: 'Last name', email: 'Email' };

/**
 * Create a user on /admin/users (`attributes`: first_name, last_name, email; `groups`: a list).
 * Returns the POST's answer (303 when created).
 */
export async function createUser(page, { username, password, admin = false, attributes = {}, groups = [] }) {
  await visit(page, '/admin/users');
  const form = formWith(page, /create user/i);
  await form.getByLabel(/^username/i).fill(username);
  if (password !== undefined) await form.getByLabel(/^password/i).fill(password);
  await form.getByLabel('Administrator').setChecked(admin);
  for (const [k, v] of Object.entries(attributes)) {
    assert.ok(ATTRIBUTE_LABELS[k], `no field for attribute ${k} on the new-user form`);
    await form.getByLabel(ATTRIBUTE_LABELS[k], { exact: true }).fill(v);
  }
  if (groups.length) await form.getByLabel(/^groups/i).fill(groups.join(', '));
  return submit(page, form.getByRole('button', { name: /create user/i }));
}

/** The asset form's fields, by label. */
export function assetFields(page) {
  return {
    name: page.getByLabel('Name', { exact: true }),
    path: page.getByLabel('Path', { exact: true }),
    algorithm: page.getByLabel(/^algorithm/i),
    secret: page.getByLabel('Secret', { exact: true }),
    template: page.getByLabel(/payload template/i),
    expiry: page.getByLabel(/^expir/i),
  };
}

/** Fill the asset form (new or edit) with what is given. */
export async function fillAsset(page, a) {
  const f = assetFields(page);
  if (a.name !== undefined) await f.name.fill(a.name);
  if (a.path !== undefined) await f.path.fill(a.path);
  if (a.algorithm !== undefined) await setField(f.algorithm, a.algorithm);
  if (a.secret !== undefined) await f.secret.fill(a.secret);
  if (a.template !== undefined) await f.template.fill(a.template);
  if (a.expiry !== undefined) await setField(f.expiry, a.expiry);
  if (a.noExpiry !== undefined) await page.getByLabel('No expiry').setChecked(a.noExpiry);
  if (a.acceptWeak !== undefined) await page.getByLabel(/accept a weak secret/i).setChecked(a.acceptWeak);
  if (a.readUsers !== undefined) {
    await page.getByLabel(/only these users and groups/i).check();
    await page.getByRole('group', { name: /who may fetch/i }).getByLabel('Users', { exact: true }).fill(a.readUsers);
  }
}

/** The asset form's submit button (Create asset / Save changes). */
export function assetSubmit(page) {
  return page.getByRole('button', { name: /^(create asset|save changes)$/i });
}

/**
 * Decode a token in the debugger, verified against an asset's key (by id), a pasted secret or a
 * pasted public key (PEM).
 */
export async function debugToken(page, token, { assetId: aid, secret, publicKey } = {}) {
  await visit(page, '/admin/debugger');
  await page.getByLabel('Token', { exact: true }).fill(token);
  if (aid !== undefined) {
    await page.getByLabel(/key of an asset/i).check();
    await setField(page.getByLabel('Asset', { exact: true }), aid);
  } else if (secret !== undefined) {
    await page.getByLabel(/a pasted secret/i).check();
    await page.getByLabel('Secret', { exact: true }).fill(secret);
  } else if (publicKey !== undefined) {
    await page.getByLabel(/a pasted public key/i).check();
    await page.getByLabel('Public key (PEM)', { exact: true }).fill(publicKey);
  }
  const res = await submit(page, page.getByRole('button', { name: /decode/i }));
  assert.equal(res.status, 200, `the debugger answered ${res.status}`);
  return page.getByRole('status').filter({ hasText: /./ }).last().innerText();
}

/**
 * Create an asset through /admin/assets/new and return its id (from the admin URL it links to).
 * Asserts the form was accepted.
 */
export async function createAsset(page, a) {
  await visit(page, '/admin/assets/new');
  await fillAsset(page, a);
  const res = await submit(page, assetSubmit(page));
  assert.equal(res.status, 303, `creating asset ${a.name} answered ${res.status}: ${await page.locator('main').innerText()}`);
  return assetId(page, a.name);
}

/** The id of the asset with this name, from its link in the asset list (searched by name). */
export async function assetId(page, name) {
  await visit(page, `/admin/assets?q=${encodeURIComponent(name)}`);
  const link = page.locator('main').getByRole('link', { name, exact: true }).first();
  const href = await link.getAttribute('href', { timeout: TIMEOUT });
  const m = href && href.match(/^\/admin\/assets\/([^/?#]+)$/);
  assert.ok(m, `no link to asset ${name} in the list (href ${href})`);
  return m[1];
}

/**
 * The first JWT shown in the page's main content: the text of the innermost element that holds
 * a whole token (a token may be split into coloured spans and wrapped across lines).
 */
export async function tokenOnPage(page) {
  const token = await page.evaluate((source) => {
    const re = new RegExp(source);
    const strip = (el) => (el.textContent || '').replace(/\s+/g, '');
    let best = null;
    for (const el of document.querySelectorAll('main *')) {
      if (el.closest('textarea, input, script, style')) continue;
      if (re.test(strip(el))) { best = el; break; } // the first (outermost) holder
    }
    if (!best) return null;
    // Descend: keep the innermost element still holding the whole token.
    let el = best;
    for (;;) {
      const child = [...el.children].find((c) => re.test(strip(c)));
      if (!child) break;
      el = child;
    }
    return strip(el).match(re)[0];
  }, JWT_RE.source);
  assert.ok(token, `no token on ${page.url()}`);
  return token;
}

/** Every GET page of the admin UI, for an asset id and a username that exist. */
export function adminPages({ assetId: aid, username }) {
  return [
    '/login',
    '/admin',
    '/admin/assets',
    '/admin/assets?q=a',
    '/admin/assets/new',
    `/admin/assets/${aid}`,
    `/admin/assets/${aid}/preview`,
    `/admin/assets/${aid}/preview?as=${username}`,
    '/admin/trash',
    '/admin/users',
    `/admin/users/${username}`,
    '/admin/users/admin',
    '/admin/debugger',
    '/admin/audit',
    '/admin/my-tokens',
  ];
}

/**
 * What an accessibility checker (axe's "label" and "color-contrast" rules) would find on the page
 * as shown: form controls without an accessible name, and visible text whose contrast with the
 * background it is drawn on is under WCAG AA (4.5:1, or 3:1 for large text). Disabled controls
 * and their text are exempt, as in WCAG.
 */
export async function accessibilityProblems(page) {
  return page.evaluate(() => {
    const problems = [];
    const visible = (el) => {
      const s = getComputedStyle(el);
      const box = el.getBoundingClientRect();
      return s.visibility !== 'hidden' && s.display !== 'none' && box.width > 0 && box.height > 0;
    };
    for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
      if (!visible(el) && !(el.type === 'checkbox' || el.type === 'radio')) continue;
      if (el.closest('[hidden]')) continue;
      const labelled = (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`))
        || el.closest('label') || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.title;
      if (!labelled) problems.push(`no label: ${el.outerHTML.slice(0, 100)}`);
    }
    const parse = (c) => {
      const m = /rgba?\(([^)]+)\)/.exec(c);
      if (!m) return null;
      const [r, g, b, a = 1] = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
      return { r, g, b, a };
    };
    const channel = (v) => { const x = v / 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
    const luminance = ({ r, g, b }) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    const backgroundOf = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c && c.a > 0.5) return c;
      }
      return parse(getComputedStyle(document.documentElement).backgroundColor) || { r: 255, g: 255, b: 255, a: 1 };
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    while (walker.nextNode()) {
      const node = walker.currentNode;
      const el = node.parentElement;
      if (!el || seen.has(el) || !node.textContent.trim()) continue;
      seen.add(el);
      if (!visible(el) || el.closest('[hidden], option, select, :disabled, .skip')) continue;
      const style = getComputedStyle(el);
      const fg = parse(style.color);
      if (!fg) continue;
      const bg = backgroundOf(el);
      const mix = (f, b) => f * fg.a + b * (1 - fg.a);
      const shown = { r: mix(fg.r, bg.r), g: mix(fg.g, bg.g), b: mix(fg.b, bg.b) };
      const [hi, lo] = [luminance(shown), luminance(bg)].sort((x, y) => y - x);
      const ratio = (hi + 0.05) / (lo + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (Number(style.fontWeight) >= 700 && size >= 18.66);
      const need = large ? 3 : 4.5;
      if (ratio < need - 0.005) {
        problems.push(`contrast ${ratio.toFixed(2)}:1 < ${need}:1 for "${node.textContent.trim().slice(0, 40)}" (${style.color} on rgb(${bg.r}, ${bg.g}, ${bg.b}))`);
      }
    }
    return problems;
  });
}
