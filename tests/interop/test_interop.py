"""Interop tests: tokens issued by the real server, verified by independent libraries.

Run by scripts/interop-tests, which builds and starts the server and sets:
  JAS_URL        the server's address, e.g. http://127.0.0.1:40123
  JAS_ADMIN_KEY  an administrator's API key
  JAS_LOG        the server's log file (checked for leaked secrets at the end)

For every algorithm (HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA, plus imported
PKCS#1 / PKCS#8 keys made here with `cryptography`) an asset is created over the JSON API and a
token fetched with a normal user's API key. Each token is verified by PyJWT (the secret, or the
asset's `public_key_pem`), by PyJWT's PyJWKClient against /.well-known/jwks.json and against
{asset path}/jwks.json, and by node's `jsonwebtoken` (tests/interop/verify.mjs; the secret, the
public PEM, or the JWK from the JWKS document). Claims, header `alg`/`kid`, the RFC 7638 thumbprint
`kid`, and the JWK against the PEM are checked independently of the server's code. Rotation: old
tokens keep verifying through JWKS, new tokens carry the new `kid`, and the retired key drops out
of JWKS once every token it signed has expired.

Discovery: for an asset whose `iss` is a URL on this server, a verifier that knows only the issuer
fetches `{iss}/.well-known/openid-configuration` and verifies through its `jwks_uri` (PyJWKClient,
and node through verify.mjs's discover mode). Staged rotation, as a consumer that pins one public
key sees it: the next key's PEM (given to the consumer first) refuses tokens until activation (by
hand or at `switch_at`) and accepts them after, the old PEM the reverse, and the old key stays in
JWKS. Presets, checked as their consumers check: Matrix with Authlib exactly as Synapse's
JwtHandler does, Zendesk's form-POST page and claims, Jitsi's claims (moderator a string).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt import PyJWKClient, PyJWKSet
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

import authlib.deprecate  # noqa: E402,F401 - installs its "always" filter, which ours must follow

with warnings.catch_warnings():
    # Authlib 1.x says authlib.jose is deprecated in favour of joserfc; Synapse still uses it.
    warnings.filterwarnings("ignore", message="authlib.jose module is deprecated")
    from authlib.jose import JsonWebToken, JWTClaims
    from authlib.jose.errors import BadSignatureError, InvalidClaimError, JoseError

HERE = Path(__file__).resolve().parent
VERIFY_MJS = HERE / "verify.mjs"

BASE = os.environ.get("JAS_URL", "").rstrip("/")
ADMIN_KEY = os.environ.get("JAS_ADMIN_KEY", "")
SERVER_LOG = os.environ.get("JAS_LOG", "")
if not BASE or not ADMIN_KEY:
    raise RuntimeError("run these tests with scripts/interop-tests (JAS_URL and JAS_ADMIN_KEY are unset)")

HTTP_TIMEOUT = 60  # seconds, per request (RSA-4096 generation happens inside one)
RUN = format(int(time.time() * 1000), "x")  # unique asset paths per run

USERNAME = "interop-user"
EMAIL = "interop.user@example.com"
GROUPS = ["staff", "interop"]
EXPIRY = 900
ISSUER = "https://interop.example/issuer"
AUDIENCE = "interop-consumer"
TEMPLATE = """{
  "sub": "%globals_user_attribute_username^json_encode%",
  "email": "%globals_user_attribute_email%",
  "groups": %globals_user_groups%
}"""

HMAC_ALGS = {"HS256", "HS384", "HS512"}
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
PUBLIC_JWK_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}


@dataclass(frozen=True)
class Spec:
    """One asset: its algorithm, how its key is made, the key type the server must report."""

    cid: str
    alg: str
    key: Any  # None = server default; {"generate": ...}; "import-..." = a key made here
    key_type: str


SPECS = [
    Spec("HS256", "HS256", "secret", "HMAC"),
    Spec("HS384", "HS384", "secret", "HMAC"),
    Spec("HS512", "HS512", "secret", "HMAC"),
    Spec("RS256", "RS256", None, "RSA-2048"),
    Spec("RS384", "RS384", {"generate": "RSA-3072"}, "RSA-3072"),
    Spec("RS512", "RS512", {"generate": "RSA-4096"}, "RSA-4096"),
    Spec("PS256", "PS256", "import-rsa-pkcs8", "RSA-2048"),
    Spec("PS384", "PS384", {"generate": "RSA-3072"}, "RSA-3072"),
    Spec("PS512", "PS512", None, "RSA-2048"),
    Spec("ES256", "ES256", None, "P-256"),
    Spec("ES384", "ES384", "import-p384-pkcs8", "P-384"),
    Spec("EdDSA", "EdDSA", None, "Ed25519"),
    Spec("RS256-pkcs1-import", "RS256", "import-rsa-pkcs1", "RSA-2048"),
    Spec("ES256-import", "ES256", "import-p256-pkcs8", "P-256"),
    Spec("EdDSA-import", "EdDSA", "import-ed25519-pkcs8", "Ed25519"),
]
SPEC = {s.cid: s for s in SPECS}
ALL = [s.cid for s in SPECS]
ASYM = [s.cid for s in SPECS if s.alg not in HMAC_ALGS]
HMAC = [s.cid for s in SPECS if s.alg in HMAC_ALGS]
ASYM_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"]


# ---------------------------------------------------------------------------------------------
# HTTP


@dataclass
class Response:
    method: str
    url: str
    request_body: Any
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def describe(self) -> str:
        req = "" if self.request_body is None else " " + json.dumps(self.request_body)[:2000]
        return f"{self.method} {self.url}{req}\n  -> {self.status} {self.headers.get('content-type', '')}: {self.text[:2000]}"


def http(method: str, path: str, body: Any = None, key: str | None = None) -> Response:
    url = path if path.startswith("http") else BASE + path
    data = None
    headers = {"Accept": "*/*"}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if key:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as r:
            return Response(method, url, body, r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        with e:
            return Response(method, url, body, e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


def api(method: str, path: str, body: Any = None, expect: int = 200) -> Any:
    r = http(method, path, body, key=ADMIN_KEY)
    assert r.status == expect, f"unexpected status:\n{r.describe()}"
    return r.json() if r.body else None


# ---------------------------------------------------------------------------------------------
# Independent helpers (no server code involved)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rfc7638_thumbprint(jwk: dict) -> str:
    members = PUBLIC_JWK_MEMBERS[jwk["kty"]]
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def jwk_of_public_pem(pem: str) -> dict:
    """The public JWK of a PEM, computed by PyJWT + cryptography."""
    key = serialization.load_pem_public_key(pem.encode())
    if isinstance(key, rsa.RSAPublicKey):
        return RSAAlgorithm.to_jwk(key, as_dict=True)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return ECAlgorithm.to_jwk(key, as_dict=True)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return OKPAlgorithm.to_jwk(key, as_dict=True)
    raise AssertionError(f"unexpected public key type {type(key).__name__}")


def spki_der(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def parse_time(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def jwt_header(token: str) -> dict:
    return jwt.get_unverified_header(token)


def tampered(token: str) -> str:
    h, p, s = token.split(".")
    sig = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
    sig[len(sig) // 2] ^= 0x01
    return f"{h}.{p}.{b64url(bytes(sig))}"


def make_import_key(kind: str):
    """A private key made here with `cryptography`, and its PEM as the server is given it."""
    if kind in ("import-rsa-pkcs8", "import-rsa-pkcs1"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        fmt = serialization.PrivateFormat.PKCS8 if kind.endswith("pkcs8") else serialization.PrivateFormat.TraditionalOpenSSL
    elif kind == "import-p256-pkcs8":
        key, fmt = ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8
    elif kind == "import-p384-pkcs8":
        key, fmt = ec.generate_private_key(ec.SECP384R1()), serialization.PrivateFormat.PKCS8
    elif kind == "import-ed25519-pkcs8":
        key, fmt = ed25519.Ed25519PrivateKey.generate(), serialization.PrivateFormat.PKCS8
    else:
        raise AssertionError(kind)
    pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
    return key, pem


def node_verify(token: str, alg: str, key: dict, issuer: str | None = ISSUER, audience: str | None = AUDIENCE) -> dict:
    """Verify with node's jsonwebtoken (tests/interop/verify.mjs)."""
    payload = {"token": token, "alg": alg, "key": key, "issuer": issuer, "audience": audience}
    p = subprocess.run(
        ["node", str(VERIFY_MJS)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=HERE,
        check=False,
    )
    assert p.returncode == 0, f"verify.mjs exited {p.returncode}: {p.stderr}"
    return json.loads(p.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# The world: one user, one asset per spec (made on first use), tokens


@dataclass
class Issued:
    token: str
    before: int  # Unix seconds just before the request
    after: int  # and just after


@dataclass
class Case:
    spec: Spec
    asset: dict  # the AssetView from the create answer
    secret: str | None = None
    private_key: Any = None  # for imported keys
    private_pem: str | None = None
    issued: Issued | None = None

    @property
    def alg(self) -> str:
        return self.spec.alg

    @property
    def hmac(self) -> bool:
        return self.spec.alg in HMAC_ALGS


@dataclass
class World:
    user_key: str
    cases: dict[str, Case | str] = field(default_factory=dict)  # str = why creating it failed
    secrets: list[str] = field(default_factory=list)  # for the log check
    tokens: list[str] = field(default_factory=list)

    def fetch(self, path: str, key: str | None = None) -> Issued:
        before = int(time.time())
        r = http("GET", path, key=key or self.user_key)
        after = int(time.time()) + 1
        assert r.status == 200, f"token request failed:\n{r.describe()}"
        assert r.headers.get("content-type", "").startswith("application/jwt"), r.describe()
        token = r.text.strip()
        assert token.count(".") == 2, f"not a compact JWS: {token!r}"
        self.tokens.append(token)
        return Issued(token, before, after)

    def create_asset(self, cid: str, alg: str, key: Any, **extra) -> Case:
        spec = Spec(cid, alg, key, "")
        body: dict[str, Any] = {
            "name": f"interop {cid} {RUN}",
            "path": f"/interop/{RUN}/{cid.lower()}",
            "algorithm": alg,
            "template": TEMPLATE,
            "expiry_seconds": EXPIRY,
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "not_before": True,
            "jti": True,
        }
        body.update(extra)
        private_key = private_pem = None
        if key == "secret":
            body["generate_secret"] = True
        elif isinstance(key, str):
            private_key, private_pem = make_import_key(key)
            body["key"] = {"pem": private_pem}
            self.secrets.append(private_pem)
        elif key is not None:
            body["key"] = key
        r = http("POST", "/api/v1/assets", body, key=ADMIN_KEY)
        assert r.status == 201, f"creating the {cid} asset failed:\n{r.describe()}"
        view = r.json()
        secret = view.pop("generated_secret", None)
        if key == "secret":
            assert isinstance(secret, str) and len(secret) >= 32, f"no generated_secret: {view}"
            self.secrets.append(secret)
        return Case(spec, view, secret, private_key, private_pem)

    def create_preset_asset(self, cid: str, preset: str, **fields) -> Case:
        """An asset made from a consumer preset: only what the test gives, the preset fills the rest."""
        body: dict[str, Any] = {"name": f"interop {cid} {RUN}", "path": f"/interop/{RUN}/{cid.lower()}", "preset": preset}
        body.update(fields)
        r = http("POST", "/api/v1/assets", body, key=ADMIN_KEY)
        assert r.status == 201, f"creating the {cid} asset failed:\n{r.describe()}"
        view = r.json()
        secret = view.pop("generated_secret", None)
        if fields.get("generate_secret"):
            assert isinstance(secret, str) and len(secret) >= 32, f"no generated_secret: {view}"
            self.secrets.append(secret)
        return Case(Spec(cid, view["algorithm"], None, view["key_type"]), view, secret)

    def case(self, cid: str) -> Case:
        """The asset of a spec with its first token (made once; a failure is re-raised per test)."""
        if cid not in self.cases:
            spec = SPEC[cid]
            try:
                c = self.create_asset(cid, spec.alg, spec.key)
                c.spec = spec
                c.issued = self.fetch(c.asset["path"])
                self.cases[cid] = c
            except Exception as e:  # noqa: BLE001 - reported by every test of this case
                self.cases[cid] = f"{type(e).__name__}: {e}" if not isinstance(e, AssertionError) else str(e)
        c = self.cases[cid]
        if isinstance(c, str):
            pytest.fail(c, pytrace=False)
        return c


@pytest.fixture(scope="session")
def world() -> World:
    api(
        "POST",
        "/api/v1/users",
        {"username": USERNAME, "attributes": {"email": EMAIL}, "groups": GROUPS},
        expect=201,
    )
    created = api("POST", f"/api/v1/users/{USERNAME}/api-keys", expect=201)
    w = World(user_key=created["key"])
    w.secrets.append(created["key"])
    return w


def check_claims(claims: dict, issued: Issued, issuer: str = ISSUER) -> None:
    assert claims["sub"] == USERNAME
    assert claims["email"] == EMAIL
    assert claims["groups"] == GROUPS
    assert claims["iss"] == issuer
    assert claims["aud"] == AUDIENCE
    iat = claims["iat"]
    assert isinstance(iat, int) and issued.before - 2 <= iat <= issued.after + 2, (iat, issued)
    assert claims["exp"] == iat + EXPIRY, claims
    assert claims["nbf"] == iat - 30, claims
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16, claims


def pyjwt_decode(token: str, key: Any, alg: str, **kw) -> dict:
    return jwt.decode(
        token,
        key,
        algorithms=[alg],
        audience=kw.pop("audience", AUDIENCE),
        issuer=kw.pop("issuer", ISSUER),
        options={"require": ["exp", "iat", "sub"]},
        **kw,
    )


def pyjwt_key(case: Case) -> Any:
    return case.secret if case.hmac else case.asset["public_key_pem"]


def node_key(case: Case) -> dict:
    return {"secret": case.secret} if case.hmac else {"pem": case.asset["public_key_pem"]}


def jwks(path: str) -> tuple[Response, dict]:
    r = http("GET", path)
    assert r.status == 200, r.describe()
    return r, r.json()


def check_jwks_response(r: Response, doc: dict) -> None:
    assert r.headers.get("content-type", "").startswith("application/json"), r.describe()
    cc = r.headers.get("cache-control", "")
    max_age = [int(d.split("=", 1)[1]) for d in cc.replace(" ", "").split(",") if d.startswith("max-age=")]
    assert max_age and 0 < max_age[0] <= 3600 and "no-store" not in cc, f"Cache-Control: {cc!r}"
    assert isinstance(doc.get("keys"), list), doc
    for k in doc["keys"]:
        leaked = PRIVATE_JWK_MEMBERS & set(k)
        assert not leaked, f"private members {leaked} in JWKS key {k.get('kid')}"
        assert k.get("kty") in PUBLIC_JWK_MEMBERS, k
        assert k.get("use") == "sig", k
        assert k.get("alg") in ASYM_ALGS, k
        assert k.get("kid") == rfc7638_thumbprint(k), f"kid is not the RFC 7638 thumbprint: {k}"
    # Every key must be usable by PyJWT (PyJWKSet silently skips unusable ones).
    if doc["keys"]:
        assert len(PyJWKSet.from_dict(doc).keys) == len(doc["keys"]), "PyJWT could not use every JWKS key"


def jwks_client(url: str) -> PyJWKClient:
    return PyJWKClient(url, cache_jwk_set=True, lifespan=300, cooldown_duration=0, timeout=HTTP_TIMEOUT)


# ---------------------------------------------------------------------------------------------
# Tokens of every algorithm


@pytest.mark.parametrize("cid", ALL)
def test_token_header_and_asset_keys(world: World, cid: str) -> None:
    c = world.case(cid)
    header = jwt_header(c.issued.token)
    assert header.get("alg") == c.alg, header
    assert header.get("typ") == "JWT", header
    a = c.asset
    assert a["algorithm"] == c.alg
    assert a["key_type"] == c.spec.key_type, a["key_type"]
    if c.hmac:
        assert a["kid"] is None and a["public_key_pem"] is None and a["public_jwk"] is None, a
        return
    kid = a["kid"]
    assert isinstance(kid, str) and kid, a
    assert header.get("kid") == kid, f"token kid {header.get('kid')!r}, asset kid {kid!r}"
    jwk = a["public_jwk"]
    assert not PRIVATE_JWK_MEMBERS & set(jwk), jwk
    assert jwk["kid"] == kid and jwk["alg"] == c.alg and jwk["use"] == "sig", jwk
    assert rfc7638_thumbprint(jwk) == kid, "kid is not the RFC 7638 SHA-256 thumbprint of the JWK"
    expected = jwk_of_public_pem(a["public_key_pem"])
    for m in PUBLIC_JWK_MEMBERS[jwk["kty"]]:
        assert jwk[m] == expected[m], f"public_jwk.{m} does not match public_key_pem"
    assert [k["kid"] for k in a["keys"]] == [kid], a["keys"]
    assert a["keys"][0]["key_type"] == c.spec.key_type and a["keys"][0]["retired_at"] is None, a["keys"]
    if c.private_key is not None:
        # Imported key: the server publishes exactly the public half of the key we gave it.
        served = serialization.load_pem_public_key(a["public_key_pem"].encode())
        assert spki_der(served) == spki_der(c.private_key.public_key())


@pytest.mark.parametrize("cid", ALL)
def test_pyjwt_verifies(world: World, cid: str) -> None:
    c = world.case(cid)
    claims = pyjwt_decode(c.issued.token, pyjwt_key(c), c.alg)
    check_claims(claims, c.issued)
    with pytest.raises(jwt.InvalidSignatureError):
        pyjwt_decode(tampered(c.issued.token), pyjwt_key(c), c.alg)


@pytest.mark.parametrize("cid", ALL)
def test_jsonwebtoken_verifies(world: World, cid: str) -> None:
    c = world.case(cid)
    out = node_verify(c.issued.token, c.alg, node_key(c))
    assert out["ok"], f"node refused the {cid} token: {out['error']}"
    if c.alg == "EdDSA" and out["verifier"] != "jsonwebtoken":
        # jsonwebtoken 9 has no EdDSA; verify.mjs then checks the Ed25519 signature with node:crypto.
        assert out["verifier"] == "node:crypto" and out["jsonwebtokenError"], out
    else:
        assert out["verifier"] == "jsonwebtoken", out
    assert out["header"]["alg"] == c.alg
    if not c.hmac:
        assert out["header"]["kid"] == c.asset["kid"]
    check_claims(out["payload"], c.issued)
    assert out["tamperedRejected"] is True, "node accepted a token with a flipped signature byte"


@pytest.mark.parametrize("cid", ASYM)
def test_public_key_pem_download(world: World, cid: str) -> None:
    c = world.case(cid)
    r = http("GET", f"/api/v1/assets/{c.asset['id']}/public-key.pem", key=ADMIN_KEY)
    assert r.status == 200, r.describe()
    assert r.headers.get("content-type", "").startswith("application/x-pem-file"), r.describe()
    assert r.text.strip() == c.asset["public_key_pem"].strip()
    assert "PRIVATE" not in r.text
    check_claims(pyjwt_decode(c.issued.token, r.text, c.alg), c.issued)


# ---------------------------------------------------------------------------------------------
# JWKS


def test_global_jwks_document(world: World) -> None:
    for cid in ALL:
        world.case(cid)
    r, doc = jwks("/.well-known/jwks.json")
    check_jwks_response(r, doc)
    by_kid = {k["kid"]: k for k in doc["keys"]}
    for cid in ASYM:
        c = world.case(cid)
        assert c.asset["kid"] in by_kid, f"{cid}: kid {c.asset['kid']} not in /.well-known/jwks.json"
        assert by_kid[c.asset["kid"]] == c.asset["public_jwk"], f"{cid}: JWKS key differs from public_jwk"
    assert "oct" not in {k["kty"] for k in doc["keys"]}, "an HMAC secret is published"
    for s in world.secrets:
        assert s not in r.text


@pytest.mark.parametrize("cid", ASYM)
def test_asset_jwks_document(world: World, cid: str) -> None:
    c = world.case(cid)
    r, doc = jwks(c.asset["path"] + "/jwks.json")
    check_jwks_response(r, doc)
    assert doc["keys"] == [c.asset["public_jwk"]], doc


@pytest.mark.parametrize("cid", ASYM)
def test_pyjwkclient_global_jwks(world: World, cid: str) -> None:
    c = world.case(cid)
    key = jwks_client(BASE + "/.well-known/jwks.json").get_signing_key_from_jwt(c.issued.token)
    assert key.key_id == c.asset["kid"]
    check_claims(pyjwt_decode(c.issued.token, key.key, c.alg), c.issued)
    with pytest.raises(jwt.InvalidSignatureError):
        pyjwt_decode(tampered(c.issued.token), key.key, c.alg)


@pytest.mark.parametrize("cid", ASYM)
def test_pyjwkclient_asset_jwks(world: World, cid: str) -> None:
    c = world.case(cid)
    key = jwks_client(BASE + c.asset["path"] + "/jwks.json").get_signing_key_from_jwt(c.issued.token)
    assert key.key_id == c.asset["kid"]
    check_claims(pyjwt_decode(c.issued.token, key.key, c.alg), c.issued)


@pytest.mark.parametrize("cid", ASYM)
def test_jsonwebtoken_with_jwks_key(world: World, cid: str) -> None:
    c = world.case(cid)
    _, doc = jwks(c.asset["path"] + "/jwks.json")
    jwk = next(k for k in doc["keys"] if k["kid"] == jwt_header(c.issued.token)["kid"])
    out = node_verify(c.issued.token, c.alg, {"jwk": jwk})
    assert out["ok"], f"node refused the {cid} token with the JWKS key: {out['error']}"
    check_claims(out["payload"], c.issued)
    assert out["tamperedRejected"] is True


@pytest.mark.parametrize("cid", HMAC)
def test_hmac_asset_publishes_nothing(world: World, cid: str) -> None:
    c = world.case(cid)
    assert http("GET", c.asset["path"] + "/jwks.json").status == 404
    assert http("GET", f"/api/v1/assets/{c.asset['id']}/public-key.pem", key=ADMIN_KEY).status == 404
    r = http("POST", f"/api/v1/assets/{c.asset['id']}/rotate", key=ADMIN_KEY)
    assert r.status == 409, r.describe()


def test_trashed_and_purged_assets_leave_jwks(world: World) -> None:
    c = world.create_asset("trash-ES256", "ES256", None)
    path, asset_id, kid = c.asset["path"], c.asset["id"], c.asset["kid"]

    def global_kids() -> set[str]:
        return {k["kid"] for k in jwks("/.well-known/jwks.json")[1]["keys"]}

    assert kid in global_kids()
    api("POST", f"/api/v1/assets/{asset_id}/trash")
    assert http("GET", path + "/jwks.json").status == 404
    assert kid not in global_kids(), "a trashed asset's key is still in /.well-known/jwks.json"
    api("POST", f"/api/v1/assets/{asset_id}/restore")
    _, doc = jwks(path + "/jwks.json")
    assert [k["kid"] for k in doc["keys"]] == [kid]
    assert kid in global_kids()
    api("POST", f"/api/v1/assets/{asset_id}/trash")
    r = http("DELETE", f"/api/v1/assets/{asset_id}", key=ADMIN_KEY)
    assert r.status in (200, 204), r.describe()
    assert http("GET", path + "/jwks.json").status == 404
    assert http("GET", f"/api/v1/assets/{asset_id}/public-key.pem", key=ADMIN_KEY).status == 404
    assert kid not in global_kids()


def test_no_private_material_in_api_answers(world: World) -> None:
    for cid in ALL:
        world.case(cid)
    answers = [http("GET", "/api/v1/assets", key=ADMIN_KEY)]
    answers += [http("GET", f"/api/v1/assets/{world.case(cid).asset['id']}", key=ADMIN_KEY) for cid in ALL]
    for r in answers:
        assert r.status == 200, r.describe()
        assert "PRIVATE KEY" not in r.text, f"a private key in {r.url}"
        for s in world.secrets:
            assert s not in r.text, f"a secret or key in {r.url}"
        for cid in ASYM:
            c = world.case(cid)
            if c.private_key is not None:
                der = c.private_key.private_bytes(
                    serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
                for chunk in (base64.b64encode(der)[-64:].decode(), b64url(der)[-64:]):
                    assert chunk not in r.text, f"private key bytes of {cid} in {r.url}"


# ---------------------------------------------------------------------------------------------
# Rotation


@pytest.mark.parametrize("alg", ASYM_ALGS)
def test_rotation_keeps_old_tokens_verifiable(world: World, alg: str) -> None:
    c = world.create_asset(f"rotate-{alg}", alg, None)
    path, asset_id = c.asset["path"], c.asset["id"]
    kid1, pem1 = c.asset["kid"], c.asset["public_key_pem"]
    old = world.fetch(path)
    assert jwt_header(old.token)["kid"] == kid1

    # A consumer that already cached the JWKS before the rotation.
    cached = jwks_client(BASE + path + "/jwks.json")
    assert cached.get_signing_key(kid1).key_id == kid1

    r = http("POST", f"/api/v1/assets/{asset_id}/rotate", key=ADMIN_KEY)
    assert r.status == 200, r.describe()
    view = r.json()
    kid2 = view["kid"]
    assert kid2 and kid2 != kid1, view
    assert view["public_key_pem"] != pem1
    assert view["public_jwk"]["kid"] == kid2 and rfc7638_thumbprint(view["public_jwk"]) == kid2
    keys = {k["kid"]: k for k in view["keys"]}
    assert set(keys) == {kid1, kid2}, view["keys"]
    assert keys[kid2]["retired_at"] is None, keys[kid2]  # the active key (list order is not part of the contract)
    assert keys[kid1]["retired_at"] is not None, keys[kid1]
    published_until = parse_time(keys[kid1]["published_until"])
    expected = parse_time(keys[kid1]["retired_at"]) + timedelta(seconds=EXPIRY + 60)
    assert abs((published_until - expected).total_seconds()) <= 1, keys[kid1]

    new = world.fetch(path)
    assert jwt_header(new.token)["kid"] == kid2, "a token issued after rotation must carry the new kid"

    # Both are published, at the asset and globally, and both tokens verify through JWKS.
    for url in (BASE + path + "/jwks.json", BASE + "/.well-known/jwks.json"):
        r, doc = jwks(url)
        check_jwks_response(r, doc)
        kids = {k["kid"] for k in doc["keys"]}
        assert {kid1, kid2} <= kids, f"{url}: {kids}"
        client = jwks_client(url)
        for issued, kid in ((old, kid1), (new, kid2)):
            key = client.get_signing_key_from_jwt(issued.token)
            assert key.key_id == kid
            check_claims(pyjwt_decode(issued.token, key.key, alg), issued)
    _, asset_doc = jwks(path + "/jwks.json")
    assert {k["kid"] for k in asset_doc["keys"]} == {kid1, kid2}, asset_doc

    # The consumer with the stale cache finds the new kid by refreshing.
    key = cached.get_signing_key_from_jwt(new.token)
    assert key.key_id == kid2
    check_claims(pyjwt_decode(new.token, key.key, alg), new)

    # The old public key verifies the old token but not the new one.
    check_claims(pyjwt_decode(old.token, pem1, alg), old)
    with pytest.raises(jwt.InvalidSignatureError):
        pyjwt_decode(new.token, pem1, alg)

    # node's jsonwebtoken with the JWKS keys.
    by_kid = {k["kid"]: k for k in asset_doc["keys"]}
    for issued, kid in ((old, kid1), (new, kid2)):
        out = node_verify(issued.token, alg, {"jwk": by_kid[kid]})
        assert out["ok"], f"node refused the {'old' if kid == kid1 else 'new'} token: {out['error']}"
        check_claims(out["payload"], issued)


def test_retired_key_drops_out_after_its_tokens_expire(world: World) -> None:
    expiry = 2
    c = world.create_asset("rotate-expiry", "ES256", None, expiry_seconds=expiry)
    path, asset_id, kid1 = c.asset["path"], c.asset["id"], c.asset["kid"]
    old = world.fetch(path)
    r = http("POST", f"/api/v1/assets/{asset_id}/rotate", key=ADMIN_KEY)
    assert r.status == 200, r.describe()
    view = r.json()
    kid2 = view["kid"]
    retired = next(k for k in view["keys"] if k["kid"] == kid1)
    published_until = parse_time(retired["published_until"])
    expected = parse_time(retired["retired_at"]) + timedelta(seconds=expiry + 60)
    assert abs((published_until - expected).total_seconds()) <= 1, retired
    wait = (published_until - datetime.now(timezone.utc)).total_seconds()
    assert 0 < wait <= 120, f"published_until is {wait:.0f} s away"

    url = BASE + path + "/jwks.json"
    key = jwks_client(url).get_signing_key_from_jwt(old.token)
    assert key.key_id == kid1
    claims = jwt.decode(old.token, key.key, algorithms=["ES256"], audience=AUDIENCE, issuer=ISSUER)
    assert claims["exp"] == claims["iat"] + expiry

    # After the old token expired, it is refused as expired (its key is still published).
    time.sleep(max(0.0, claims["exp"] + 1 - time.time()))
    key = jwks_client(url).get_signing_key_from_jwt(old.token)
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(old.token, key.key, algorithms=["ES256"], audience=AUDIENCE, issuer=ISSUER)

    # Still published shortly before published_until...
    time.sleep(max(0.0, (published_until - datetime.now(timezone.utc)).total_seconds() - 3))
    _, doc = jwks(path + "/jwks.json")
    assert kid1 in {k["kid"] for k in doc["keys"]}, "the retired key dropped out before published_until"

    # ...and gone from both documents right after it, while the new key stays.
    deadline = time.time() + 10
    while True:
        time.sleep(1)
        _, asset_doc = jwks(path + "/jwks.json")
        _, global_doc = jwks("/.well-known/jwks.json")
        asset_kids = {k["kid"] for k in asset_doc["keys"]}
        global_kids = {k["kid"] for k in global_doc["keys"]}
        if kid1 not in asset_kids and kid1 not in global_kids:
            break
        assert time.time() < deadline, (
            f"retired kid still published 7+ s after published_until ({published_until.isoformat()}): "
            f"asset {asset_kids}, global has it: {kid1 in global_kids}"
        )
    assert kid2 in asset_kids and kid2 in global_kids
    with pytest.raises(jwt.PyJWKClientError):
        jwks_client(url).get_signing_key_from_jwt(old.token)
    new = world.fetch(path)
    key = jwks_client(url).get_signing_key_from_jwt(new.token)
    assert key.key_id == kid2
    jwt.decode(new.token, key.key, algorithms=["ES256"], audience=AUDIENCE, issuer=ISSUER)


def test_hmac_next_secret_switch(world: World) -> None:
    c = world.create_asset("next-secret-HS256", "HS256", "secret")
    path, asset_id, s1 = c.asset["path"], c.asset["id"], c.secret
    first = world.fetch(path)
    check_claims(pyjwt_decode(first.token, s1, "HS256"), first)

    # Scheduled in the future: tokens are still signed with the current secret.
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = http("POST", f"/api/v1/assets/{asset_id}/next-secret", {"generate_secret": True, "switch_at": later}, key=ADMIN_KEY)
    assert r.status == 200, r.describe()
    pending = r.json().get("generated_secret")
    assert isinstance(pending, str) and pending != s1, r.json()
    world.secrets.append(pending)
    assert r.json()["next_secret_at"] is not None
    t = world.fetch(path)
    pyjwt_decode(t.token, s1, "HS256")
    r = http("DELETE", f"/api/v1/assets/{asset_id}/next-secret", key=ADMIN_KEY)
    assert r.status in (200, 204), r.describe()

    # Scheduled in the past: the switch happens at once.
    earlier = (datetime.now(timezone.utc) - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = http("POST", f"/api/v1/assets/{asset_id}/next-secret", {"generate_secret": True, "switch_at": earlier}, key=ADMIN_KEY)
    assert r.status == 200, r.describe()
    s2 = r.json()["generated_secret"]
    world.secrets.append(s2)
    t = world.fetch(path)
    check_claims(pyjwt_decode(t.token, s2, "HS256"), t)
    with pytest.raises(jwt.InvalidSignatureError):
        pyjwt_decode(t.token, s1, "HS256")
    out = node_verify(t.token, "HS256", {"secret": s2})
    assert out["ok"], out["error"]
    check_claims(out["payload"], t)


# ---------------------------------------------------------------------------------------------
# OpenID-style discovery: a verifier that knows only the issuer finds the keys


def rfc3339(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def discovery_url(issuer: str) -> str:
    """Where OpenID Connect Discovery 1.0 §4 looks: the issuer less a trailing '/', plus the suffix."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


# cid -> (algorithm, the issuer's path on this server; None = the asset's own path). One issuer
# apart from the asset's path, one ending in '/', one the server's bare origin.
DISCOVERY = {
    "disc-RS256": ("RS256", None),
    "disc-ES256": ("ES256", f"/interop/{RUN}/issuers/es256"),
    "disc-EdDSA": ("EdDSA", f"/interop/{RUN}/issuers/eddsa/"),
    "disc-PS256": ("PS256", ""),
}
DISCOVERY_MEMBERS = {
    "issuer",
    "jwks_uri",
    "id_token_signing_alg_values_supported",
    "response_types_supported",
    "subject_types_supported",
    "claims_supported",
}


@pytest.mark.parametrize("cid", list(DISCOVERY))
def test_discovery_finds_the_keys_from_the_issuer(world: World, cid: str) -> None:
    alg, issuer_path = DISCOVERY[cid]
    path = f"/interop/{RUN}/{cid.lower()}"
    iss = BASE + (path if issuer_path is None else issuer_path)
    c = world.create_asset(cid, alg, None, issuer=iss)
    assert c.asset["path"] == path and c.asset["issuer"] == iss, c.asset
    issued = world.fetch(path)
    token_iss = jwt.decode(issued.token, options={"verify_signature": False})["iss"]
    assert token_iss == iss

    # The verifier knows only the token's iss: it fetches the discovery document from there.
    r = http("GET", discovery_url(token_iss))
    assert r.status == 200, r.describe()
    assert r.headers.get("content-type", "").startswith("application/json"), r.describe()
    doc = r.json()
    assert DISCOVERY_MEMBERS <= set(doc), doc
    assert doc["issuer"] == token_iss, f"discovery issuer {doc['issuer']!r} is not the token's iss {token_iss!r}"
    assert doc["jwks_uri"] == BASE + path + "/jwks.json", doc
    assert doc["id_token_signing_alg_values_supported"] == [alg], doc
    assert "id_token" in doc["response_types_supported"], doc
    assert "public" in doc["subject_types_supported"], doc
    unverified = jwt.decode(issued.token, options={"verify_signature": False})
    assert set(unverified) <= set(doc["claims_supported"]), (
        f"token claims {sorted(set(unverified) - set(doc['claims_supported']))} missing from claims_supported"
    )
    assert "PRIVATE" not in r.text

    # PyJWKClient on the jwks_uri the document names, the algorithms it names, iss checked exactly.
    key = jwks_client(doc["jwks_uri"]).get_signing_key_from_jwt(issued.token)
    assert key.key_id == c.asset["kid"]
    claims = jwt.decode(
        issued.token,
        key.key,
        algorithms=doc["id_token_signing_alg_values_supported"],
        issuer=doc["issuer"],
        audience=AUDIENCE,
        options={"require": ["exp", "iat", "iss", "sub"]},
    )
    check_claims(claims, issued, issuer=iss)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tampered(issued.token), key.key, algorithms=[alg], issuer=iss, audience=AUDIENCE)

    # node discovers the key the same way (verify.mjs, key {"discover": iss}).
    out = node_verify(issued.token, alg, {"discover": iss}, issuer=iss)
    assert out["ok"], f"node could not verify through discovery: {out['error']}"
    assert out["discovery"] == {"issuer": iss, "jwks_uri": doc["jwks_uri"], "kid": c.asset["kid"]}, out["discovery"]
    check_claims(out["payload"], issued, issuer=iss)
    assert out["tamperedRejected"] is True


def test_discovery_needs_exactly_one_key_pair_asset(world: World) -> None:
    here = BASE + f"/interop/{RUN}/issuers"
    # An HMAC asset has no public key to discover.
    world.create_asset("disc-none-HS256", "HS256", "secret", issuer=here + "/hs256")
    # Two assets sharing one issuer: which keys would be meant is ambiguous.
    world.create_asset("disc-shared-1", "ES256", None, issuer=here + "/shared")
    world.create_asset("disc-shared-2", "ES256", None, issuer=here + "/shared")
    for iss in (here + "/hs256", here + "/shared", here + "/nobody"):
        r = http("GET", discovery_url(iss))
        assert r.status == 404, r.describe()
        assert r.body == b"", r.describe()


# ---------------------------------------------------------------------------------------------
# Staged rotation, as a consumer that pins one public key (no JWKS) sees it


def asset_jwks_kids(path: str) -> set[str]:
    _, doc = jwks(path + "/jwks.json")
    return {k["kid"] for k in doc["keys"]}


def check_next_key(nk: dict) -> None:
    assert set(nk) >= {"kid", "key_type", "public_key_pem", "public_jwk", "switch_at"}, nk
    assert "PRIVATE" not in nk["public_key_pem"]
    jwk = nk["public_jwk"]
    assert not PRIVATE_JWK_MEMBERS & set(jwk), jwk
    assert jwk["kid"] == nk["kid"] and rfc7638_thumbprint(jwk) == nk["kid"], nk
    expected = jwk_of_public_pem(nk["public_key_pem"])
    for m in PUBLIC_JWK_MEMBERS[jwk["kty"]]:
        assert jwk[m] == expected[m], f"next_key.public_jwk.{m} does not match next_key.public_key_pem"


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_staged_rotation_for_a_pinned_public_key(world: World, alg: str) -> None:
    c = world.create_asset(f"staged-{alg}", alg, None)
    path, asset_id = c.asset["path"], c.asset["id"]
    kid_old, pem_old = c.asset["kid"], c.asset["public_key_pem"]
    assert c.asset.get("next_key") is None, c.asset

    # Step 1: publish the next key; the consumer is configured with its PEM before it signs.
    body = {"key": {"generate": "RSA-3072"}} if alg == "RS256" else None
    r = http("POST", f"/api/v1/assets/{asset_id}/next-key", body, key=ADMIN_KEY)
    assert r.status == 200, r.describe()
    view = r.json()
    nk = view["next_key"]
    assert nk is not None, view
    check_next_key(nk)
    assert nk["switch_at"] is None, nk
    assert nk["key_type"] == ("RSA-3072" if alg == "RS256" else c.asset["key_type"]), nk
    kid_new, pem_new = nk["kid"], nk["public_key_pem"]
    assert kid_new != kid_old and pem_new != pem_old
    assert view["kid"] == kid_old and view["public_key_pem"] == pem_old, "the next key must not be active yet"
    r = http("GET", f"/api/v1/assets/{asset_id}/next-key.pem", key=ADMIN_KEY)
    assert r.status == 200 and r.text.strip() == pem_new.strip(), r.describe()
    r = http("GET", f"/api/v1/assets/{asset_id}/public-key.pem", key=ADMIN_KEY)
    assert r.status == 200 and r.text.strip() == pem_old.strip(), r.describe()
    assert asset_jwks_kids(path) == {kid_old, kid_new}, "JWKS consumers should see the next key before it signs"

    before = world.fetch(path)
    assert jwt_header(before.token)["kid"] == kid_old
    check_claims(pyjwt_decode(before.token, pem_old, alg), before)  # pinned to the old key: accepted
    with pytest.raises(jwt.InvalidSignatureError):
        pyjwt_decode(before.token, pem_new, alg)  # pinned to the new key: refused

    # Step 2: activate.
    r = http("POST", f"/api/v1/assets/{asset_id}/next-key/activate", key=ADMIN_KEY)
    assert r.status == 200, r.describe()
    view = r.json()
    assert view["next_key"] is None, view
    assert view["kid"] == kid_new and view["public_key_pem"] == pem_new, view
    keys = {k["kid"]: k for k in view["keys"]}
    assert set(keys) == {kid_old, kid_new}, view["keys"]
    assert keys[kid_new]["retired_at"] is None and keys[kid_old]["retired_at"] is not None, view["keys"]
    published_until = parse_time(keys[kid_old]["published_until"])
    expected = parse_time(keys[kid_old]["retired_at"]) + timedelta(seconds=EXPIRY + 60)
    assert abs((published_until - expected).total_seconds()) <= 1, keys[kid_old]

    after = world.fetch(path)
    assert jwt_header(after.token)["kid"] == kid_new
    with pytest.raises(jwt.InvalidSignatureError):
        pyjwt_decode(after.token, pem_old, alg)  # pinned to the old key: refused now
    check_claims(pyjwt_decode(after.token, pem_new, alg), after)  # pinned to the new key: accepted

    # The old key stays published: the token signed before activation still verifies via JWKS.
    for url in (BASE + path + "/jwks.json", BASE + "/.well-known/jwks.json"):
        client = jwks_client(url)
        for issued, kid in ((before, kid_old), (after, kid_new)):
            key = client.get_signing_key_from_jwt(issued.token)
            assert key.key_id == kid, url
            check_claims(pyjwt_decode(issued.token, key.key, alg), issued)
    assert asset_jwks_kids(path) == {kid_old, kid_new}

    # Nothing is waiting any more.
    assert http("POST", f"/api/v1/assets/{asset_id}/next-key/activate", key=ADMIN_KEY).status == 409
    assert http("DELETE", f"/api/v1/assets/{asset_id}/next-key", key=ADMIN_KEY).status == 409
    assert http("GET", f"/api/v1/assets/{asset_id}/next-key.pem", key=ADMIN_KEY).status == 404


def test_withdrawn_next_key_never_signs(world: World) -> None:
    c = world.create_asset("staged-withdraw-ES256", "ES256", None)
    path, asset_id, kid_old, pem_old = c.asset["path"], c.asset["id"], c.asset["kid"], c.asset["public_key_pem"]
    r = http("POST", f"/api/v1/assets/{asset_id}/next-key", key=ADMIN_KEY)
    assert r.status == 200, r.describe()
    nk = r.json()["next_key"]
    check_next_key(nk)
    assert asset_jwks_kids(path) == {kid_old, nk["kid"]}

    r = http("DELETE", f"/api/v1/assets/{asset_id}/next-key", key=ADMIN_KEY)
    assert r.status == 200, r.describe()
    assert r.json()["next_key"] is None and r.json()["kid"] == kid_old, r.json()
    assert asset_jwks_kids(path) == {kid_old}, "a withdrawn next key is still published"
    assert nk["kid"] not in {k["kid"] for k in jwks("/.well-known/jwks.json")[1]["keys"]}
    assert http("GET", f"/api/v1/assets/{asset_id}/next-key.pem", key=ADMIN_KEY).status == 404
    assert http("POST", f"/api/v1/assets/{asset_id}/next-key/activate", key=ADMIN_KEY).status == 409

    t = world.fetch(path)
    assert jwt_header(t.token)["kid"] == kid_old
    check_claims(pyjwt_decode(t.token, pem_old, "ES256"), t)
    with pytest.raises(jwt.InvalidSignatureError):
        pyjwt_decode(t.token, nk["public_key_pem"], "ES256")


def test_scheduled_next_key_switches_by_itself(world: World) -> None:
    alg = "ES256"
    c = world.create_asset("staged-scheduled-ES256", alg, None)
    path, asset_id, kid_old, pem_old = c.asset["path"], c.asset["id"], c.asset["kid"], c.asset["public_key_pem"]
    # Whole seconds, 3 to 4 s from now.
    switch_at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=4)
    r = http("POST", f"/api/v1/assets/{asset_id}/next-key", {"switch_at": rfc3339(switch_at)}, key=ADMIN_KEY)
    assert r.status == 200, r.describe()
    view = r.json()
    nk = view["next_key"]
    check_next_key(nk)
    assert nk["switch_at"] is not None and parse_time(nk["switch_at"]) == switch_at, nk
    kid_new, pem_new = nk["kid"], nk["public_key_pem"]
    assert view["kid"] == kid_old

    before = world.fetch(path)
    if before.after - 1 >= switch_at.timestamp():
        pytest.fail("the token before the switch took more than 3 s to fetch; the test cannot tell", pytrace=False)
    assert jwt_header(before.token)["kid"] == kid_old, "signed with the next key before switch_at"
    check_claims(pyjwt_decode(before.token, pem_old, alg), before)
    with pytest.raises(jwt.InvalidSignatureError):
        pyjwt_decode(before.token, pem_new, alg)

    # No API call in between: the switch happens at switch_at by itself.
    time.sleep(max(0.0, switch_at.timestamp() - time.time()) + 0.5)
    after = world.fetch(path)
    assert jwt_header(after.token)["kid"] == kid_new, "still signing with the old key after switch_at"
    check_claims(pyjwt_decode(after.token, pem_new, alg), after)
    with pytest.raises(jwt.InvalidSignatureError):
        pyjwt_decode(after.token, pem_old, alg)

    # The asset now shows the new key as active; the old one is retired at switch_at and published.
    view = api("GET", f"/api/v1/assets/{asset_id}")
    assert view["kid"] == kid_new and view["next_key"] is None, view
    old = next(k for k in view["keys"] if k["kid"] == kid_old)
    assert parse_time(old["retired_at"]) == switch_at, old
    r = http("GET", f"/api/v1/assets/{asset_id}/public-key.pem", key=ADMIN_KEY)
    assert r.status == 200 and r.text.strip() == pem_new.strip(), r.describe()
    assert asset_jwks_kids(path) == {kid_old, kid_new}
    client = jwks_client(BASE + path + "/jwks.json")
    for issued, kid in ((before, kid_old), (after, kid_new)):
        key = client.get_signing_key_from_jwt(issued.token)
        assert key.key_id == kid
        check_claims(pyjwt_decode(issued.token, key.key, alg), issued)


# ---------------------------------------------------------------------------------------------
# Consumer presets, checked the way each consumer checks its tokens

PRESET_USER = "Preset.Tester"  # upper-case letters: Matrix localparts are lower case
PRESET_FIRST_NAME = "Ada"
PRESET_LAST_NAME = "Lövelace"
PRESET_FULL_NAME = "Ada Lövelace"
PRESET_EMAIL = "ada.lovelace@example.com"


@pytest.fixture(scope="session")
def preset_user(world: World) -> str:
    """A user with a full name, for the presets' name claims; its API key."""
    api(
        "POST",
        "/api/v1/users",
        {
            "username": PRESET_USER,
            "attributes": {"email": PRESET_EMAIL, "first_name": PRESET_FIRST_NAME, "last_name": PRESET_LAST_NAME},
            "groups": ["interop"],
        },
        expect=201,
    )
    created = api("POST", f"/api/v1/users/{PRESET_USER}/api-keys", expect=201)
    world.secrets.append(created["key"])
    return created["key"]


# Synapse's user ID grammar for a localpart (historical + current): what a login may carry.
MATRIX_LOCALPART = re.compile(r"^[a-z0-9._=\-/+]+$")


def synapse_jwt_login(
    token: str,
    algorithm: str,
    secret: str,
    issuer: str | None = None,
    audiences: list[str] | None = None,
    subject_claim: str = "sub",
    display_name_claim: str | None = None,
) -> tuple[str, str | None]:
    """Synapse's JwtHandler.validate_login (synapse/handlers/jwt.py), with Authlib as Synapse
    runs it: the localpart and the display name, or Authlib's error."""
    jwt_ = JsonWebToken([algorithm])
    claim_options: dict[str, Any] = {}
    if issuer is not None:
        claim_options["iss"] = {"value": issuer, "essential": True}
    if audiences is not None:
        claim_options["aud"] = {"values": audiences, "essential": True}
    claims = jwt_.decode(token, key=secret, claims_cls=JWTClaims, claims_options=claim_options)
    claims.validate(leeway=120)  # allows 2 min of clock skew
    # If the JWT contains an 'aud' claim but none is configured, the login fails.
    if claims.get("aud") is not None:
        if audiences is None or len(audiences) == 0:
            raise InvalidClaimError("aud")
    user = claims.get(subject_claim, None)
    if user is None:
        raise AssertionError("Synapse: Invalid JWT (no subject claim)")
    display_name = claims.get(display_name_claim) if display_name_claim else None
    return user, display_name


# cid -> the asset's fields besides the preset (HS256 with a generated secret, RS256, and an
# HS256 asset whose iss/aud a homeserver's jwt_config names).
MATRIX_CASES = {
    "matrix-HS256": {"generate_secret": True},
    "matrix-RS256": {"algorithm": "RS256"},
    "matrix-HS256-iss-aud": {
        "generate_secret": True,
        "issuer": "https://interop.example/matrix",
        "audience": "matrix-homeserver",
    },
}


@pytest.mark.parametrize("cid", list(MATRIX_CASES))
def test_matrix_preset_passes_synapse_jwt_login(world: World, preset_user: str, cid: str) -> None:
    fields = MATRIX_CASES[cid]
    c = world.create_preset_asset(cid, "matrix", **fields)
    a = c.asset
    alg = fields.get("algorithm", "HS256")
    assert a["preset"] == "matrix" and a["algorithm"] == alg, a
    iss, aud = fields.get("issuer"), fields.get("audience")
    warned_iss = any('"iss"' in w for w in a["warnings"])
    assert warned_iss == (iss is None), a["warnings"]
    # jwt_config.secret: the shared secret, or for RS256 the public key as PEM.
    key = c.secret if alg == "HS256" else a["public_key_pem"]
    assert key

    issued = world.fetch(a["path"], key=preset_user)
    localpart, display_name = synapse_jwt_login(
        issued.token, alg, key, issuer=iss, audiences=[aud] if aud else None, display_name_claim="name"
    )
    assert localpart == PRESET_USER.lower(), localpart
    assert MATRIX_LOCALPART.match(localpart), f"not a Matrix localpart: {localpart!r}"
    assert display_name == PRESET_FULL_NAME, display_name

    # Synapse refuses a flipped signature byte.
    with pytest.raises(BadSignatureError):
        synapse_jwt_login(tampered(issued.token), alg, key, issuer=iss, audiences=[aud] if aud else None)
    claims = jwt.decode(issued.token, options={"verify_signature": False})
    assert isinstance(claims.get("exp"), int) and claims["exp"] > time.time(), claims
    if iss is None:
        # Nothing configured on the homeserver: the token must carry no aud (Synapse refuses one).
        assert "aud" not in claims and "iss" not in claims, claims
    else:
        assert claims["iss"] == iss and claims["aud"] == aud, claims
        # A homeserver that names no audience refuses the aud-bearing token; another issuer too.
        with pytest.raises(InvalidClaimError):
            synapse_jwt_login(issued.token, alg, key, issuer=iss)
        with pytest.raises(JoseError):
            synapse_jwt_login(issued.token, alg, key, issuer="https://other.example", audiences=[aud])
    # PyJWT agrees.
    checked = jwt.decode(
        issued.token, key, algorithms=[alg], issuer=iss, audience=aud, options={"require": ["exp", "iat", "sub"]}
    )
    assert checked["sub"] == PRESET_USER.lower() and checked["name"] == PRESET_FULL_NAME


class FormCollector(HTMLParser):
    """The forms of an HTML page: action, method and the inputs (name -> (type, value))."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action"), "method": (a.get("method") or "get").lower(), "inputs": {}})
            self._open = True
        elif tag == "input" and self._open and a.get("name"):
            inputs = self.forms[-1]["inputs"]
            assert a["name"] not in inputs, f"input {a['name']} twice"
            inputs[a["name"]] = ((a.get("type") or "text").lower(), a.get("value"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = False


ZENDESK_FORM_URL = "https://acme.zendesk.com/access/jwt"
ZENDESK_RETURN_TO = "https://acme.zendesk.com/hc/en-us"


def test_zendesk_preset_form_post(world: World, preset_user: str) -> None:
    c = world.create_preset_asset(
        "zendesk",
        "zendesk",
        generate_secret=True,
        delivery={
            "default": "form_post",
            "form_post": {"url": ZENDESK_FORM_URL, "return_to_allowlist": ["https://acme.zendesk.com/hc/"]},
        },
    )
    a = c.asset
    assert a["preset"] == "zendesk" and a["algorithm"] == "HS256" and a["jti"] is True, a
    assert a["delivery"]["default"] == "form_post", a["delivery"]
    assert a["delivery"]["form_post"]["url"] == ZENDESK_FORM_URL and a["delivery"]["form_post"]["field"] == "jwt"

    # Zendesk sends the browser to the remote login URL with return_to; the page posts jwt to Zendesk.
    url = a["path"] + "?return_to=" + urllib.parse.quote(ZENDESK_RETURN_TO, safe="")
    jtis = []
    for _ in range(2):
        before = int(time.time())
        r = http("GET", url, key=preset_user)
        after = int(time.time()) + 1
        assert r.status == 200, r.describe()
        assert r.headers.get("content-type", "").startswith("text/html"), r.describe()
        assert "no-store" in r.headers.get("cache-control", ""), r.headers
        csp = r.headers.get("content-security-policy", "")
        assert "form-action https://acme.zendesk.com" in csp, csp
        parser = FormCollector()
        parser.feed(r.text)
        assert len(parser.forms) == 1, parser.forms
        form = parser.forms[0]
        assert form["method"] == "post" and form["action"] == ZENDESK_FORM_URL, form
        inputs = form["inputs"]
        assert set(inputs) == {"jwt", "return_to"}, inputs
        assert inputs["return_to"] == ("hidden", ZENDESK_RETURN_TO), inputs["return_to"]
        kind, token = inputs["jwt"]
        assert kind == "hidden" and token and token.count(".") == 2, inputs["jwt"]
        world.tokens.append(token)

        # Zendesk's documented checks: HS256 with the shared secret, iat within a few minutes,
        # a unique jti, name and email.
        assert jwt_header(token)["alg"] == "HS256"
        claims = jwt.decode(token, c.secret, algorithms=["HS256"], options={"require": ["iat", "jti", "name", "email"]})
        assert before - 2 <= claims["iat"] <= after + 2 and abs(claims["iat"] - time.time()) <= 180, claims
        assert claims["name"] == PRESET_FULL_NAME, claims
        assert claims["email"] == PRESET_EMAIL, claims
        assert isinstance(claims.get("external_id"), str) and claims["external_id"], claims
        assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16, claims
        jtis.append(claims["jti"])
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(tampered(token), c.secret, algorithms=["HS256"])
    assert jtis[0] != jtis[1], "two tokens with the same jti: Zendesk refuses the second"

    # A return_to off the allowlist is refused before anything is issued.
    r = http("GET", a["path"] + "?return_to=" + urllib.parse.quote("https://evil.example/hc/", safe=""), key=preset_user)
    assert r.status == 400 and r.body == b"", r.describe()


JITSI_APP_ID = "interop-jitsi-app"


def test_jitsi_preset_claims(world: World, preset_user: str) -> None:
    c = world.create_preset_asset(
        "jitsi", "jitsi", generate_secret=True, issuer=JITSI_APP_ID, write={"users": [PRESET_USER]}
    )
    a = c.asset
    assert a["preset"] == "jitsi" and a["algorithm"] == "HS256", a
    assert a["audience"] == "jitsi" and a["issuer"] == JITSI_APP_ID, a
    users = (
        (preset_user, PRESET_FULL_NAME, PRESET_EMAIL, "true"),  # named by the write rule: moderator
        (world.user_key, USERNAME, EMAIL, "false"),  # no name attributes: the username
    )
    for key, name, email, moderator in users:
        issued = world.fetch(a["path"], key=key)
        # prosody's token auth / lib-jitsi-meet: aud, iss (the app id), sub, room.
        claims = jwt.decode(
            issued.token,
            c.secret,
            algorithms=["HS256"],
            audience="jitsi",
            issuer=JITSI_APP_ID,
            options={"require": ["exp", "iss", "aud", "sub", "room"]},
        )
        assert claims["sub"] == "*" and claims["room"] == "*", claims
        user = claims["context"]["user"]
        assert isinstance(user["moderator"], str), f"context.user.moderator must be a string: {user['moderator']!r}"
        assert user["moderator"] == moderator, (name, user)
        assert user["name"] == name and user["email"] == email, user
        assert isinstance(user["id"], str) and user["id"], user
        for k, v in user.items():
            assert v is None or isinstance(v, (str, int, float)) and not isinstance(v, bool), f"context.user.{k} = {v!r}"
        with pytest.raises(jwt.InvalidAudienceError):
            jwt.decode(issued.token, c.secret, algorithms=["HS256"], audience="other", issuer=JITSI_APP_ID)


# ---------------------------------------------------------------------------------------------
# Last: nothing secret reached the server's log


def test_server_log_has_no_secrets(world: World) -> None:
    assert SERVER_LOG and Path(SERVER_LOG).is_file(), "JAS_LOG is not set"
    log = Path(SERVER_LOG).read_text("utf-8", "replace")
    assert "listening on" in log
    assert "PRIVATE KEY" not in log
    for s in world.secrets:
        lines = s.strip().splitlines()
        needle = s if "PRIVATE KEY" not in s else lines[len(lines) // 2]
        assert needle not in log, "a secret, private key or API key is in the server log"
    for t in world.tokens:
        assert t.split(".")[2] not in log, "an issued token is in the server log"
