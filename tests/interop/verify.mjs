// Verify one JWT with node's `jsonwebtoken` (the library many JWT consumers run on), for the
// interop tests (tests/interop/test_interop.py calls this; scripts/interop-tests runs them).
//
//   echo '{"token": "...", "alg": "RS256", "key": {"pem": "-----BEGIN PUBLIC KEY-----..."}}' | node verify.mjs
//
// key: {"secret": "text"} (HMAC, the UTF-8 bytes of the text), {"pem": "..."} (SPKI public key)
// or {"jwk": {...}} (a public JWK, e.g. from the JWKS endpoint), or {"discover": "<issuer URL>"}:
// the key is found as an OpenID-style verifier finds it, from
// `<issuer>/.well-known/openid-configuration` (its `issuer` must be the given one exactly, and
// `alg` among its `id_token_signing_alg_values_supported`), then the JWK with the token's `kid`
// from its `jwks_uri`. `algorithms` is always pinned to `alg`; optional "issuer" and "audience"
// are checked too. Prints one JSON object:
//   {ok, verifier, header, payload, error, tamperedRejected, jsonwebtokenError, discovery}
// `discovery` (discover mode only): {issuer, jwks_uri, kid} as found.
// `tamperedRejected`: the same token with one signature byte flipped was refused.
// jsonwebtoken 9 has no EdDSA: for an EdDSA token it is tried first (and its error reported in
// `jsonwebtokenError`), then the signature is checked with node:crypto (Ed25519) and the claims
// decoded without trusting them: `verifier` says which one verified.

import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const jwt = require('jsonwebtoken');

function readStdin() {
  return new Promise((resolve, reject) => {
    let data = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d) => { data += d; });
    process.stdin.on('end', () => resolve(data));
    process.stdin.on('error', reject);
  });
}

async function getJson(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(30000), headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.json();
}

// The verification key of `token` as an OpenID-style verifier discovers it from `issuer`.
async function discoverKey(issuer, token, alg, out) {
  const doc = await getJson(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  if (doc.issuer !== issuer) throw new Error(`discovery: issuer ${JSON.stringify(doc.issuer)}, expected ${JSON.stringify(issuer)}`);
  const algs = doc.id_token_signing_alg_values_supported;
  if (!Array.isArray(algs) || !algs.includes(alg)) throw new Error(`discovery: ${alg} not in ${JSON.stringify(algs)}`);
  if (typeof doc.jwks_uri !== 'string') throw new Error('discovery: no jwks_uri');
  const { kid } = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8'));
  const set = await getJson(doc.jwks_uri);
  const jwk = (set.keys || []).find((k) => k.kid === kid);
  if (!jwk) throw new Error(`discovery: no key ${kid} at ${doc.jwks_uri}`);
  out.discovery = { issuer: doc.issuer, jwks_uri: doc.jwks_uri, kid };
  return createPublicKey({ key: jwk, format: 'jwk' });
}

async function keyOf(key, token, alg, out) {
  if (typeof key.secret === 'string') return key.secret;
  if (typeof key.pem === 'string') return key.pem;
  if (key.jwk) return createPublicKey({ key: key.jwk, format: 'jwk' });
  if (typeof key.discover === 'string') return discoverKey(key.discover, token, alg, out);
  throw new Error(`no usable key in ${JSON.stringify(Object.keys(key))}`);
}

function tamper(token) {
  const [h, p, s] = token.split('.');
  const sig = Buffer.from(s, 'base64url');
  sig[Math.floor(sig.length / 2)] ^= 0x01;
  return `${h}.${p}.${sig.toString('base64url')}`;
}

function withJsonwebtoken(token, alg, key, claims) {
  return jwt.verify(token, key, { algorithms: [alg], complete: true, ...claims });
}

function withNodeCryptoEd25519(token, key, claims) {
  const [h, p, s] = token.split('.');
  const publicKey = typeof key === 'string' ? createPublicKey(key) : key;
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new Error(`not an Ed25519 key: ${publicKey.asymmetricKeyType}`);
  const ok = cryptoVerify(null, Buffer.from(`${h}.${p}`, 'ascii'), publicKey, Buffer.from(s, 'base64url'));
  if (!ok) throw new Error('invalid signature');
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  if (header.alg !== 'EdDSA') throw new Error(`header alg ${header.alg}`);
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.exp === 'number' && now >= payload.exp) throw new Error('jwt expired');
  if (typeof payload.nbf === 'number' && now < payload.nbf) throw new Error('jwt not active');
  if (claims.issuer !== undefined && payload.iss !== claims.issuer) throw new Error(`jwt issuer invalid: ${payload.iss}`);
  if (claims.audience !== undefined && payload.aud !== claims.audience) throw new Error(`jwt audience invalid: ${payload.aud}`);
  return { header, payload };
}

const out = { ok: false, verifier: null, header: null, payload: null, error: null, tamperedRejected: null, jsonwebtokenError: null, discovery: null };
try {
  const input = JSON.parse(await readStdin());
  const token = String(input.token).trim();
  const alg = input.alg;
  const key = await keyOf(input.key, token, alg, out);
  const claims = {};
  if (input.issuer !== undefined && input.issuer !== null) claims.issuer = input.issuer;
  if (input.audience !== undefined && input.audience !== null) claims.audience = input.audience;
  let verifyFn;
  try {
    const r = withJsonwebtoken(token, alg, key, claims);
    out.header = r.header;
    out.payload = r.payload;
    out.verifier = 'jsonwebtoken';
    verifyFn = (t) => withJsonwebtoken(t, alg, key, claims);
  } catch (e) {
    if (alg !== 'EdDSA') throw e;
    out.jsonwebtokenError = String(e.message);
    const r = withNodeCryptoEd25519(token, key, claims);
    out.header = r.header;
    out.payload = r.payload;
    out.verifier = 'node:crypto';
    verifyFn = (t) => withNodeCryptoEd25519(t, key, claims);
  }
  out.ok = true;
  try {
    verifyFn(tamper(token));
    out.tamperedRejected = false;
  } catch {
    out.tamperedRejected = true;
  }
} catch (e) {
  out.error = `${e.name}: ${e.message}`;
}
process.stdout.write(`${JSON.stringify(out)}\n`);
