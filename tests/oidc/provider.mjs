// A real OpenID provider for the OpenID Connect sign-in tests: panva's oidc-provider (certified)
// on 127.0.0.1 over plain HTTP, with fixed test accounts, open dynamic client registration,
// PKCE (S256) required for every client, a plain HTML login form and no consent screen.
// Driven by tests/support/oidc.rs; `scripts/oidc-test-provider` runs it by hand.
//
//   node provider.mjs [--port N] [--control-stdin]
//
// Prints one line, `listening on http://127.0.0.1:PORT` (the issuer), once it serves requests.
// Endpoints for the tests only, JSON:
//   POST /_test/rotate            a new RS256 signing key (new kid); the JWKS publishes only it
//   POST /_test/tamper {"kind":K} the next token response carries a forged id_token (see FORGERIES)
//   GET  /_test/stats             {"token_requests": n}
// With --control-stdin, lines on stdin stop (`stop` → prints `stopped`) and start (`start` →
// prints `listening on …` again) the listener on the same port, keeping every key, client and
// session; the end of stdin ends the program (so it never outlives the test process).
// SIGTERM and SIGINT end it.

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as readline from 'node:readline';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';

// oidc-provider's notices go to stdout, where the tests read the `listening on` line: send them to
// stderr, and drop the one about Node.js 20 (supported here, not an LTS oidc-provider lists).
const toStderr = (...args) => process.stderr.write(`${args.join(' ')}\n`);
console.info = toStderr;
console.warn = (...args) => {
  if (!String(args[0]).includes('Unsupported runtime')) toStderr(...args);
};
const { default: Provider } = await import('oidc-provider');

const PASSWORD = 'provider-password-1';
const ACCOUNTS = [
  { login: 'alice', sub: 'sub-alice-0001', preferred_username: 'alice', given_name: 'Alice', family_name: 'Liddell', name: 'Alice Liddell', email: 'alice@example.org', email_verified: true, groups: ['staff', 'dev'] },
  { login: 'bob', sub: 'sub-bob-0002', preferred_username: 'bob', given_name: 'Bob', family_name: 'Builder', name: 'Bob Builder', email: 'bob@example.org', email_verified: true, groups: ['staff'] },
  { login: 'carol', sub: 'sub-carol-0003', preferred_username: 'carol', email: 'shared@example.org', email_verified: true, groups: [] },
  { login: 'dave', sub: 'sub-dave-0004', preferred_username: 'dave', email: 'shared@example.org', email_verified: true, groups: ['ops'] },
  { login: 'badname', sub: 'sub-bad-0005', preferred_username: 'not a valid name!', email: 'bad@example.org', email_verified: true },
];

const args = process.argv.slice(2);
const portArg = args.indexOf('--port');
const port = portArg >= 0 ? Number(args[portArg + 1]) : 0;
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error('usage: node provider.mjs [--port N] [--control-stdin]');
  process.exit(2);
}
const controlStdin = args.includes('--control-stdin');

// State that outlives a Provider instance (a key rotation builds a new one): registered clients,
// sessions, interactions, codes and tokens; the cookie keys; the test counters.
const store = new Map();
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);
class Adapter {
  constructor(model) { this.model = model; }
  key(id) { return `${this.model}:${id}`; }
  async upsert(id, payload, expiresIn) {
    store.set(this.key(id), { payload, expires: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
  }
  async find(id) {
    const entry = store.get(this.key(id));
    if (entry && entry.expires <= Date.now()) store.delete(this.key(id));
    return entry && entry.expires > Date.now() ? entry.payload : undefined;
  }
  async findBy(field, value) {
    for (const [key, entry] of store) {
      if (key.startsWith(`${this.model}:`) && entry.payload[field] === value) return this.find(key.slice(this.model.length + 1));
    }
    return undefined;
  }
  async findByUid(uid) { return this.findBy('uid', uid); }
  async findByUserCode(userCode) { return this.findBy('userCode', userCode); }
  async consume(id) {
    const payload = await this.find(id);
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id) { store.delete(this.key(id)); }
  async revokeByGrantId(grantId) {
    for (const [key, entry] of store) {
      if (GRANTABLE.has(key.slice(0, key.indexOf(':'))) && entry.payload.grantId === grantId) store.delete(key);
    }
  }
}
const cookieKeys = [crypto.randomBytes(32).toString('base64url')];
let tokenRequests = 0;
let pendingForgery = null;

async function newSigningKey() {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'RS256', use: 'sig' };
}
let signingKey = await newSigningKey();

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;

function configuration(issuerKey) {
  return {
    adapter: Adapter,
    jwks: { keys: [issuerKey] },
    cookies: { keys: cookieKeys },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    responseTypes: ['code'],
    scopes: ['openid', 'profile', 'email', 'groups'],
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'name', 'given_name', 'family_name'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    // The default, said out loud: with an access token issued, scope claims go to userinfo only.
    conformIdTokenClaims: true,
    enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true, initialAccessToken: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx, form) => {
          ctx.body = page('Sign out?', `${form}<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>`);
        },
        postLogoutSuccessSource: (ctx) => { ctx.body = page('Signed out', '<p>You are signed out.</p>'); },
      },
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: async (ctx, sub) => {
      const account = ACCOUNTS.find((a) => a.sub === sub);
      if (!account) return undefined;
      const { login, ...claims } = account;
      return { accountId: sub, claims: async () => claims };
    },
    // No consent screen: the signed-in person grants whatever OpenID scopes and claims are asked.
    loadExistingGrant: async (ctx) => {
      const { Grant } = ctx.oidc.provider;
      const { accountId } = ctx.oidc.session;
      const clientId = ctx.oidc.client.clientId;
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(clientId);
      let grant = grantId ? await Grant.find(grantId) : undefined;
      if (!grant || grant.accountId !== accountId) grant = new Grant({ accountId, clientId });
      grant.addOIDCScope([...ctx.oidc.requestParamOIDCScopes].join(' '));
      if (ctx.oidc.requestParamClaims.size) grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
      await grant.save();
      return grant;
    },
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page('Error', `<p>${escapeHtml(out.error)}: ${escapeHtml(out.error_description ?? '')}</p>`);
    },
    clientBasedCORS: () => false,
    ttl: { AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 600, Session: 86400, Grant: 86400, RefreshToken: 86400, ClientCredentials: 600 },
  };
}

// The forged id_tokens of /_test/tamper, from the real one. `sign` signs `header.payload`.
const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const rs256 = (privateJwk) => (input) => crypto.sign('sha256', Buffer.from(input), crypto.createPrivateKey({ key: privateJwk, format: 'jwk' })).toString('base64url');
function jwt(header, payload, sign) {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign(input)}`;
}
const publicJwk = ({ kty, n, e, kid }) => ({ kty, n, e, kid });
const FORGERIES = {
  other_issuer: (h, p) => jwt(h, { ...p, iss: 'http://127.0.0.1:1/other' }, rs256(signingKey)),
  other_audience: (h, p) => {
    const { azp, ...rest } = p;
    return jwt(h, { ...rest, aud: 'someone-else' }, rs256(signingKey));
  },
  expired: (h, p) => {
    const now = Math.floor(Date.now() / 1000);
    return jwt(h, { ...p, exp: now - 3600, iat: now - 7200 }, rs256(signingKey));
  },
  wrong_nonce: (h, p) => jwt(h, { ...p, nonce: 'not-the-nonce' }, rs256(signingKey)),
  alg_none: (h, p) => jwt({ alg: 'none', typ: 'JWT', kid: h.kid }, p, () => ''),
  hs256_public_key: (h, p) => {
    const pem = crypto.createPublicKey({ key: publicJwk(signingKey), format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    return jwt({ ...h, alg: 'HS256' }, p, (input) => crypto.createHmac('sha256', pem).update(input).digest('base64url'));
  },
  bad_signature: (h, p, real) => {
    const signature = Buffer.from(real.split('.')[2], 'base64url');
    signature[signature.length - 1] ^= 0x01;
    return `${real.split('.').slice(0, 2).join('.')}.${signature.toString('base64url')}`;
  },
  unknown_kid: async (h, p) => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    return jwt({ ...h, kid: 'never-published' }, p, rs256(await exportJWK(privateKey)));
  },
};

function buildProvider(issuer) {
  const provider = new Provider(issuer, configuration(signingKey));
  provider.use(async (ctx, next) => {
    const isToken = ctx.method === 'POST' && ctx.path === '/token';
    if (isToken) tokenRequests += 1;
    await next();
    if (isToken && pendingForgery && ctx.status === 200 && ctx.body?.id_token) {
      const real = ctx.body.id_token;
      const forge = FORGERIES[pendingForgery];
      pendingForgery = null;
      ctx.body = { ...ctx.body, id_token: await forge(decodeProtectedHeader(real), decodeJwt(real), real) };
    }
  });
  return { provider, handle: provider.callback() };
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}
function sendJson(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}
function sendHtml(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

const loginForm = (uid, error) => page('Sign in', `${error ? `<p role="alert">${escapeHtml(error)}</p>\n` : ''}<form method="post" action="/interaction/${uid}/login">
<label>Username <input name="login" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>`);

async function interaction(current, req, res, path) {
  const { provider } = current;
  const details = await provider.interactionDetails(req, res);
  const [, , uid, action] = path.split('/');
  if (uid !== details.uid) throw new Error('interaction mismatch');
  if (details.prompt.name !== 'login') {
    // The consent prompt never comes up (loadExistingGrant grants); finish it empty if it does.
    return provider.interactionFinished(req, res, {}, { mergeWithLastSubmission: true });
  }
  if (req.method === 'GET' && action === undefined) return sendHtml(res, 200, loginForm(uid));
  if (req.method === 'POST' && action === 'login') {
    const form = new URLSearchParams(await readBody(req));
    const account = ACCOUNTS.find((a) => a.login === form.get('login'));
    if (!account || form.get('password') !== PASSWORD) {
      return sendHtml(res, 200, loginForm(uid, 'Wrong username or password.'));
    }
    return provider.interactionFinished(req, res, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
  }
  return sendHtml(res, 404, page('Not found', ''));
}

async function testControl(current, req, res, path) {
  if (req.method === 'POST' && path === '/_test/rotate') {
    signingKey = await newSigningKey();
    Object.assign(current, buildProvider(current.provider.issuer));
    return sendJson(res, 200, { kid: signingKey.kid });
  }
  if (req.method === 'POST' && path === '/_test/tamper') {
    let kind;
    try { ({ kind } = JSON.parse(await readBody(req))); } catch { kind = undefined; }
    if (!Object.hasOwn(FORGERIES, kind)) return sendJson(res, 400, { error: `unknown kind, one of: ${Object.keys(FORGERIES).join(', ')}` });
    pendingForgery = kind;
    return sendJson(res, 200, { ok: true });
  }
  if (req.method === 'GET' && path === '/_test/stats') return sendJson(res, 200, { token_requests: tokenRequests });
  return sendJson(res, 404, { error: 'not found' });
}

const current = {};
const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  try {
    if (path.startsWith('/_test/')) return await testControl(current, req, res, path);
    if (path.startsWith('/interaction/')) return await interaction(current, req, res, path);
    return current.handle(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) sendHtml(res, 400, page('Error', `<pre>${escapeHtml(err.message)}</pre>`));
    else res.end();
  }
});

function listen(onPort) {
  server.listen(onPort, '127.0.0.1', () => {
    const issuer = `http://127.0.0.1:${server.address().port}`;
    if (!current.provider) Object.assign(current, buildProvider(issuer));
    process.stdout.write(`listening on ${issuer}\n`);
  });
}
function stop(then) {
  server.close(then);
  server.closeAllConnections();
}

server.on('error', (err) => {
  console.error(`cannot listen: ${err.message}`);
  process.exit(1);
});
listen(port);
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => stop(() => process.exit(0)));
if (controlStdin) {
  const lines = readline.createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === 'stop') stop(() => process.stdout.write('stopped\n'));
    if (line.trim() === 'start') listen(current.provider ? new URL(current.provider.issuer).port : port);
  });
  lines.on('close', () => process.exit(0));
}
