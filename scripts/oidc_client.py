#!/usr/bin/env python3
r"""Independent OAuth 2.0 / OpenID Connect test client for altgate's AD FS-compatible endpoints.

Run it with the venv made by scripts/setup-python-clients.sh (browser: scripts/setup-browser.sh):

    PY=/var/tmp/altgate-pyenv/bin/python
    $PY scripts/oidc_client.py discovery --issuer https://sts.contoso.com:PORT/adfs --ca altgate-https.pem
    $PY scripts/oidc_client.py msal-ropc --issuer ISSUER --ca PEM --client-id ID \
        --username alice@example.test --password 'Secret1!' [--scope S ...] [--client-secret S] \
        [--expect-error invalid_grant]
    $PY scripts/oidc_client.py code-flow --issuer ISSUER --ca PEM --client-id ID [--client-secret S] \
        --redirect-uri http://localhost:PORT/callback --username U --password P \
        --scope "openid profile email offline_access" [--resource R] \
        [--response-mode query|form_post|fragment] [--post-logout-redirect-uri URI] [--skip-signin-if-sso]
    $PY scripts/oidc_client.py client-credentials --issuer ISSUER --ca PEM --client-id ID \
        --client-secret S (--resource R | --scope R/x)
    $PY scripts/oidc_client.py msal-code-flow --issuer ISSUER --ca PEM --client-id ID [--client-secret S] \
        --redirect-uri http://localhost:PORT/callback --username U --password P [--scope S ...]
    $PY scripts/oidc_client.py self-test          (offline: JWT tamper checks and PKCE, no server)

Libraries: authlib (OAuth2Session: authorize URL with S256 PKCE, code/refresh/client_credentials
grants, RFC 7009 revocation, RFC 7662 introspection), joserfc (every JWT is verified against the
JWKS from the discovery document's jwks_uri with the algorithm allow-list ["RS256"], plus the
iss/aud/exp/nonce checks that apply), msal (Microsoft's client, treating an authority whose path is
/adfs as AD FS) and selenium driving Debian's headless Chromium (the same flags and NSS trust of
--ca as scripts/browser_signin.py, whose Run class this script reuses).

Scenarios:
  discovery           GET {issuer}/.well-known/openid-configuration and the jwks_uri; checks the
                      document's issuer == --issuer, the endpoints are present, every JWKS key has a
                      kid (and x5t matches x5c[0] where both are given).
  msal-ropc           msal.PublicClientApplication (ConfidentialClientApplication with
                      --client-secret) with authority=--issuer, acquire_token_by_username_password.
                      Success: MSAL's id_token_claims, the joserfc-verified id token and access token,
                      whether a refresh token came back. Error: MSAL's error/error_description and the
                      HTTP status; exit 0 only when --expect-error names that error. Always:
                      request_params (the form parameter names MSAL POSTed to the token endpoint).
  code-flow           a local HTTP server on the redirect_uri's port captures the callback; authlib
                      builds the authorize URL (S256 PKCE, state, nonce); headless Chromium signs in
                      (#userNameInput/#passwordInput/#submitButton); the code is redeemed
                      (client_secret_basic with --client-secret, public client otherwise); the id
                      token (iss, aud=client_id, nonce) and access token are verified; userinfo; one
                      refresh (rotation: new refresh token != old); reuse of the used refresh token
                      and then of the newest one (both invalid_grant: the family is revoked); a second
                      authorization in the same browser (single sign-on: no form); for confidential
                      clients introspection (active) / revocation / introspection (inactive); replay
                      of the second code (invalid_grant); with --post-logout-redirect-uri: one more
                      SSO authorization, end_session with id_token_hint/post_logout_redirect_uri/state
                      (browser lands on the URI with state), the refresh token of that session fails,
                      and a fresh authorize shows the sign-in form again.
  client-credentials  authlib client_credentials (client_secret_basic), joserfc-verified access
                      token, introspection of it.
  msal-code-flow      MSAL initiate_auth_code_flow -> Chromium sign-in -> acquire_token_by_auth_code_flow
                      with the captured callback parameters; MSAL's id_token_claims, verified tokens,
                      the authorize and token parameters MSAL sent.
  self-test           offline checks of this script's own helpers (a locally made RSA key and JWKS):
                      a good token verifies, the tampered / alg=none / HS256-with-the-public-key copies
                      are rejected, the RFC 7636 PKCE test vector, authlib's client_secret_basic.

Every verified JWT's report has "verified", "signature_valid", "claims_valid", "header",
"claims", "kid_in_jwks", and "tampered_rejected" (one base64url character of the payload changed,
still valid base64url and JSON), "alg_none_rejected" (header alg "none", empty signature) and
"hs256_rejected" (HS256 signed with the RSA public key's PEM/DER bytes as the HMAC secret), each
checked with joserfc and the ["RS256"] allow-list.

Output: ONE JSON object on stdout. Exit 0 when the scenario's own checks all passed ("failures": []).
Exit 1 otherwise: {"error": ..., "step": ..., "failures": [...], "partial": {everything recorded}}
(browser scenarios add the browser's "url", "title", "page_text", "page_source"). Exit 2 for bad
usage or a setup failure (missing CA file, browser, chromedriver, certutil).

TLS is always verified against --ca (never disabled); environment proxies/CA variables are ignored
(requests' trust_env is off). Secrets are never printed: passwords and client secrets are masked,
refresh tokens, authorization codes and introspected/revoked tokens appear only as a 12-hex-digit
SHA-256 prefix ("sha256:..."); access and id tokens appear only as their header and claims.
"""

import argparse
import base64
import functools
import hashlib
import hmac
import html
import json
import os
import secrets
import socket
import sys
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

ALLOWED_ALGS = ["RS256"]  # the only algorithm any JWT from altgate may use
SECRET_FORM_FIELDS = frozenset({
    "password", "client_secret", "refresh_token", "code", "code_verifier", "client_assertion",
    "assertion", "token", "id_token_hint",
})
TOKEN_FIELDS = frozenset({"access_token", "id_token", "refresh_token"})
B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
MSAL_RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access"})
LEEWAY = 60  # seconds of clock skew tolerated for exp/nbf/iat


# --- small pure helpers -------------------------------------------------------------------------

def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text):
    if isinstance(text, bytes):
        text = text.decode("ascii")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(secret):
    """A short, non-reversible stand-in for a secret value (refresh tokens, codes)."""
    if secret is None:
        return None
    return "sha256:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:12]


def jwt_parts(token):
    """(header, claims) of a compact JWS WITHOUT verifying it; ValueError if it is not one."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise ValueError("not a compact JWS (expected three dot-separated parts)")
    h, p, _ = token.split(".")
    header = json.loads(b64u_decode(h))
    claims = json.loads(b64u_decode(p))
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("JWT header or payload is not a JSON object")
    return header, claims


def tamper_payload(token):
    """The token with ONE base64url character of its payload changed such that the payload is still
    valid base64url, decodes to different bytes, and is still a JSON object (so only the signature
    can reject it). Returns (tampered_token, index_changed)."""
    h, p, s = token.split(".")
    original = b64u_decode(p)
    n = len(p)
    # from the middle outwards; never the last character (its low bits may be padding bits)
    order = []
    mid = n // 2
    for d in range(n):
        for i in (mid - d, mid + d):
            if 0 <= i < n - 1 and i not in order:
                order.append(i)
    fallback = None
    for i in order:
        for c in B64URL_ALPHABET:
            if c == p[i]:
                continue
            q = p[:i] + c + p[i + 1:]
            try:
                decoded = b64u_decode(q)
            except ValueError:
                continue
            if decoded == original:
                continue
            if fallback is None:
                fallback = (f"{h}.{q}.{s}", i)
            try:
                obj = json.loads(decoded)
            except ValueError:
                continue
            if isinstance(obj, dict):
                return f"{h}.{q}.{s}", i
    if fallback is None:
        raise ValueError("payload too short to tamper with")
    return fallback


def alg_none_copy(token):
    """Same header (alg replaced by "none") and payload, empty signature."""
    h, p, _ = token.split(".")
    header = json.loads(b64u_decode(h))
    header["alg"] = "none"
    return f"{b64u(json.dumps(header, separators=(',', ':')).encode())}.{p}."


def hs256_copy(token, secret):
    """Same header (alg replaced by "HS256") and payload, HMAC-SHA256-signed with `secret` (bytes):
    the classic key-confusion attack when secret is the server's RSA public key."""
    h, p, _ = token.split(".")
    header = json.loads(b64u_decode(h))
    header["alg"] = "HS256"
    h2 = b64u(json.dumps(header, separators=(",", ":")).encode())
    sig = hmac.new(secret, f"{h2}.{p}".encode("ascii"), hashlib.sha256).digest()
    return f"{h2}.{p}.{b64u(sig)}"


def rsa_public_key_secrets(jwk_dict):
    """The byte strings an attacker would try as an HMAC secret for an RSA JWK: the public key as
    SubjectPublicKeyInfo PEM and PKCS#1 PEM, and the DER certificate of x5c[0] when present."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    n = int.from_bytes(b64u_decode(jwk_dict["n"]), "big")
    e = int.from_bytes(b64u_decode(jwk_dict["e"]), "big")
    pub = rsa.RSAPublicNumbers(e, n).public_key()
    out = {
        "spki_pem": pub.public_bytes(serialization.Encoding.PEM,
                                     serialization.PublicFormat.SubjectPublicKeyInfo),
        "pkcs1_pem": pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
    }
    if jwk_dict.get("x5c"):
        out["x5c_der"] = base64.b64decode(jwk_dict["x5c"][0])
    return out


def pkce_pair():
    """(code_verifier, S256 code_challenge), the verifier made by authlib's own token generator."""
    from authlib.common.security import generate_token
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    verifier = generate_token(64)  # [A-Za-z0-9]{64}: within RFC 7636's 43..128 unreserved chars
    return verifier, create_s256_code_challenge(verifier)


def redact_form(pairs):
    """A request form as {name: value}, secret values replaced by a fingerprint or ***."""
    out = {}
    for k, v in pairs:
        if k in ("password", "client_secret", "client_assertion"):
            out[k] = "***"
        elif k in SECRET_FORM_FIELDS:
            out[k] = fingerprint(v)
        else:
            out[k] = v
    return out


def redact_json(body):
    """A token/introspection response with tokens replaced by a description."""
    if not isinstance(body, dict):
        return body
    out = {}
    for k, v in body.items():
        if k == "refresh_token" and isinstance(v, str):
            out[k] = fingerprint(v)
        elif k in TOKEN_FIELDS and isinstance(v, str):
            out[k] = f"<{k}: {len(v)} chars>"
        else:
            out[k] = v
    return out


# --- failures -------------------------------------------------------------------------------------

class StepFailed(Exception):
    def __init__(self, step, message):
        super().__init__(message)
        self.step = step


class UsageError(Exception):
    pass


class Ctx:
    """What a scenario has recorded, its failed checks, and the secrets to mask."""

    def __init__(self, args):
        self.args = args
        self.result = {}
        self.failures = []
        self.step = "setup"
        self.run = None  # browser_signin.Run for the browser scenarios
        self._secrets = [s for s in (getattr(args, "password", None), getattr(args, "client_secret", None))
                         if s and len(s) >= 4]

    def set_step(self, step):
        self.step = step
        if self.run is not None:
            self.run.step = step

    def check(self, name, ok, detail=None):
        if not ok:
            self.failures.append(f"{name}: {detail}" if detail is not None else name)
        return bool(ok)

    def scrub(self, text):
        text = str(text)
        for s in self._secrets:
            text = text.replace(s, "***")
        return text


# --- HTTP -----------------------------------------------------------------------------------------

INTERESTING_REQUEST_HEADERS = ("accept", "content-type", "user-agent", "client-request-id",
                               "x-anchormailbox", "x-app-name", "x-app-ver")
INTERESTING_RESPONSE_HEADERS = ("content-type", "cache-control", "pragma", "www-authenticate", "location")


class Recorder:
    """A requests response hook keeping every exchange (secrets redacted) for the report."""

    def __init__(self):
        self.exchanges = []

    def hook(self, resp, *args, **kwargs):
        req = resp.request
        url, _, query = req.url.partition("?")
        entry = {"method": req.method, "url": url, "status": resp.status_code}
        if query:
            entry["query_names"] = [k for k, _ in parse_qsl(query, keep_blank_values=True)]
        body = req.body
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        ctype = (req.headers.get("Content-Type") or "").lower()
        if body and "x-www-form-urlencoded" in ctype:
            pairs = parse_qsl(body, keep_blank_values=True)
            entry["param_names"] = [k for k, _ in pairs]
            entry["form"] = redact_form(pairs)
        headers = {}
        for k, v in req.headers.items():
            kl = k.lower()
            if kl.startswith("x-client-") or kl.startswith("x-ms-") or kl in INTERESTING_REQUEST_HEADERS:
                headers[k] = v
        auth = req.headers.get("Authorization")
        if auth:
            scheme, _, cred = auth.partition(" ")
            entry["authorization"] = {"scheme": scheme}
            if scheme.lower() == "basic":
                try:
                    user, _, _pw = base64.b64decode(cred).decode("latin-1").partition(":")
                    entry["authorization"]["basic_user_as_sent"] = user
                except Exception:  # noqa: BLE001 - report only
                    entry["authorization"]["basic_user_as_sent"] = None
        entry["request_headers"] = headers
        entry["response_headers"] = {k: v for k, v in resp.headers.items()
                                     if k.lower() in INTERESTING_RESPONSE_HEADERS}
        try:
            entry["response"] = redact_json(resp.json())
        except ValueError:
            text = resp.text or ""
            entry["response_text"] = text[:1000] if resp.status_code >= 400 else f"<{len(text)} chars>"
        self.exchanges.append(entry)

    def since(self, n):
        return self.exchanges[n:]


def plain_session(ctx, recorder=None):
    import requests

    s = requests.Session()
    s.verify = ctx.args.ca      # verify TLS against the given certificate, never disabled
    s.trust_env = False         # REQUESTS_CA_BUNDLE / proxies from the environment cannot interfere
    if recorder is not None:
        s.hooks["response"].append(recorder.hook)
    s.request = functools.partial(s.request, timeout=ctx.args.timeout)
    return s


def oauth_session(ctx, recorder, client_id, client_secret=None, auth_method=None):
    from authlib.integrations.requests_client import OAuth2Session

    if client_secret:
        method = auth_method or "client_secret_basic"
    else:
        method = "none"  # a public client sends only client_id
    s = OAuth2Session(
        client_id=client_id,
        client_secret=client_secret,
        token_endpoint_auth_method=method,
        revocation_endpoint_auth_method=method,
        code_challenge_method="S256",
        verify=ctx.args.ca,
        trust_env=False,
        default_timeout=ctx.args.timeout,
    )
    s.hooks["response"].append(recorder.hook)
    return s


def summarize_exchange(entry):
    """The report of one token/introspection/revocation exchange."""
    if entry is None:
        return {"status": None}
    out = {"status": entry["status"]}
    body = entry.get("response")
    if isinstance(body, dict):
        out["body"] = body
        for k in ("error", "error_description"):
            if k in body:
                out[k] = body[k]
    elif "response_text" in entry:
        out["body_text"] = entry["response_text"]
    rh = {k.lower(): v for k, v in entry.get("response_headers", {}).items()}
    if "cache-control" in rh:
        out["cache_control"] = rh["cache-control"]
    if "pragma" in rh:
        out["pragma"] = rh["pragma"]
    if "www-authenticate" in rh:
        out["www_authenticate"] = rh["www-authenticate"]
    out["request_params"] = entry.get("param_names")
    if entry.get("authorization"):
        out["client_auth"] = entry["authorization"]
    return out


def call_oauth(recorder, fn):
    """Run an authlib call; (token dict or None, summary of its last HTTP exchange)."""
    import requests
    from authlib.common.errors import AuthlibBaseError

    n = len(recorder.exchanges)
    token, raised = None, None
    try:
        token = fn()
    except AuthlibBaseError as exc:
        raised = {"error": exc.error, "error_description": exc.description}
    except (requests.HTTPError, ValueError) as exc:
        raised = {"exception": f"{type(exc).__name__}: {exc}"}
    new = recorder.since(n)
    summary = summarize_exchange(new[-1] if new else None)
    if raised and "exception" in raised:
        summary["exception"] = raised["exception"]
    if raised and "error" in raised and "error" not in summary:
        summary["error"] = raised["error"]
    if isinstance(token, dict):
        token = dict(token)
    return token, summary


# --- discovery and JWT verification --------------------------------------------------------------

def discover(ctx, session):
    a = ctx.args
    url = a.issuer.rstrip("/") + "/.well-known/openid-configuration"
    r = session.get(url)
    if r.status_code != 200:
        raise StepFailed("discovery", f"GET {url} answered {r.status_code}: {r.text[:500]}")
    try:
        doc = r.json()
    except ValueError:
        raise StepFailed("discovery", f"GET {url}: not JSON ({r.headers.get('Content-Type')})")
    if not isinstance(doc, dict):
        raise StepFailed("discovery", f"GET {url}: not a JSON object")
    if "jwks_uri" not in doc:
        raise StepFailed("discovery", "the discovery document has no jwks_uri")
    r = session.get(doc["jwks_uri"])
    if r.status_code != 200:
        raise StepFailed("discovery", f"GET {doc['jwks_uri']} answered {r.status_code}")
    try:
        jwks = r.json()
    except ValueError:
        raise StepFailed("discovery", f"GET {doc['jwks_uri']}: not JSON")
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise StepFailed("discovery", "the JWKS has no keys array")
    return doc, jwks, Verifier(jwks)


def jwks_summary(jwks):
    out = []
    for k in jwks.get("keys", []):
        item = {f: k.get(f) for f in ("kid", "x5t", "kty", "alg", "use")}
        if k.get("kty") == "RSA" and k.get("n"):
            item["n_bits"] = len(b64u_decode(k["n"])) * 8
        item["x5c_count"] = len(k.get("x5c") or [])
        if k.get("x5c"):
            der = base64.b64decode(k["x5c"][0])
            item["x5t_of_x5c"] = b64u(hashlib.sha1(der).digest())
            item["x5t_matches_x5c"] = k.get("x5t") == item["x5t_of_x5c"] if k.get("x5t") else None
        item["kid_equals_x5t"] = bool(k.get("kid")) and k.get("kid") == k.get("x5t")
        item["private_members_present"] = sorted(set(k) & {"d", "p", "q", "dp", "dq", "qi"})
        out.append(item)
    return out


class Verifier:
    """Verifies JWTs with joserfc against a JWKS, RS256 only, and checks claims."""

    def __init__(self, jwks):
        from joserfc.jwk import KeySet

        self.jwks = jwks
        self.import_errors = []
        good = []
        for k in jwks.get("keys", []):
            try:
                KeySet.import_key_set({"keys": [k]})
                good.append(k)
            except Exception as exc:  # noqa: BLE001 - recorded
                self.import_errors.append({"kid": k.get("kid"), "error": f"{type(exc).__name__}: {exc}"})
        self.keys = good
        self.keyset = KeySet.import_key_set({"keys": good})

    def key_for(self, kid):
        for k in self.keys:
            if kid is not None and k.get("kid") == kid:
                return k
        return None

    def _decode(self, token):
        from joserfc import jwt

        return jwt.decode(token, self.keyset, algorithms=ALLOWED_ALGS)

    def rejects(self, token):
        """(rejected?, why) for a token that must NOT verify."""
        try:
            self._decode(token)
        except Exception as exc:  # noqa: BLE001 - any rejection counts
            return True, type(exc).__name__
        return False, "accepted"

    def verify(self, token, *, iss=None, aud=None, nonce=None, tamper=True):
        """Report on one JWT. iss: a string or list of accepted issuers; aud/nonce: expected values
        (checked when not None)."""
        from joserfc.errors import JoseError
        from joserfc.jwt import JWTClaimsRegistry

        out = {"verified": False}
        try:
            header, unverified = jwt_parts(token)
        except (ValueError, UnicodeDecodeError) as exc:
            out["error"] = f"not a JWT: {exc}"
            return out
        out["header"] = header
        kid = header.get("kid")
        key = self.key_for(kid)
        out["kid_in_jwks"] = key is not None
        if key is not None and header.get("x5t") is not None:
            out["x5t_matches_jwks"] = header.get("x5t") == key.get("x5t")
        try:
            verified = self._decode(token)
            out["signature_valid"] = True
            claims = verified.claims
            out["claims"] = claims
        except (JoseError, ValueError) as exc:
            out["signature_valid"] = False
            out["signature_error"] = f"{type(exc).__name__}: {exc}"
            claims = unverified
            out["unverified_claims"] = claims
        options = {"exp": {"essential": True}}
        if iss is not None:
            options["iss"] = ({"essential": True, "values": list(iss)} if isinstance(iss, (list, tuple))
                              else {"essential": True, "value": iss})
        if aud is not None:
            options["aud"] = {"essential": True, "value": aud}
        if nonce is not None:
            options["nonce"] = {"essential": True, "value": nonce}
        out["claims_checked"] = sorted(options) + ["iat", "nbf"]
        try:
            JWTClaimsRegistry(leeway=LEEWAY, **options).validate(claims)
            out["claims_valid"] = True
        except JoseError as exc:
            out["claims_valid"] = False
            out["claims_error"] = f"{type(exc).__name__}: {exc}"
        out["verified"] = bool(out["signature_valid"] and out["claims_valid"] and out["kid_in_jwks"])
        if tamper:
            out.update(self.tamper_checks(token, key))
        return out

    def tamper_checks(self, token, key=None):
        out, why = {}, {}
        try:
            bad, idx = tamper_payload(token)
            out["tampered_rejected"], why["tampered"] = self.rejects(bad)
            why["tampered_index"] = idx
        except ValueError as exc:
            out["tampered_rejected"], why["tampered"] = False, f"could not tamper: {exc}"
        out["alg_none_rejected"], why["alg_none"] = self.rejects(alg_none_copy(token))
        if key is None:
            key = next((k for k in self.keys if k.get("kty") == "RSA"), None)
        if key is None:
            out["hs256_rejected"], why["hs256"] = False, "no RSA key in the JWKS to use as HMAC secret"
        else:
            results = {name: self.rejects(hs256_copy(token, secret))
                       for name, secret in rsa_public_key_secrets(key).items()}
            out["hs256_rejected"] = all(r for r, _ in results.values())
            why["hs256"] = {name: w for name, (_, w) in results.items()}
        out["rejections"] = why
        return out


def check_jwt(ctx, label, report, *, required=True):
    """Turn a Verifier.verify report into failed checks."""
    if report is None:
        if required:
            ctx.check(f"{label}.present", False, "no token")
        return
    if "error" in report:
        ctx.check(f"{label}.jwt", False, report["error"])
        return
    ctx.check(f"{label}.kid_in_jwks", report.get("kid_in_jwks"), f"kid {report['header'].get('kid')!r}")
    ctx.check(f"{label}.alg", report["header"].get("alg") == "RS256", report["header"].get("alg"))
    ctx.check(f"{label}.signature", report.get("signature_valid"), report.get("signature_error"))
    ctx.check(f"{label}.claims", report.get("claims_valid"), report.get("claims_error"))
    for k in ("tampered_rejected", "alg_none_rejected", "hs256_rejected"):
        if k in report:
            ctx.check(f"{label}.{k}", report[k], report.get("rejections"))


def access_token_issuers(ctx):
    a = ctx.args
    if getattr(a, "access_token_issuer", None):
        return list(a.access_token_issuer)
    host = urlsplit(a.issuer).hostname
    # AD FS issues access tokens with iss "http://<host>/adfs/services/trust" (its federation
    # service identifier); id tokens carry the OIDC issuer.
    return [a.issuer, f"http://{host}/adfs/services/trust"]


def expected_access_aud(ctx):
    a = ctx.args
    if getattr(a, "access_token_aud", None):
        return a.access_token_aud
    return getattr(a, "resource", None)


# --- scenario: discovery --------------------------------------------------------------------------

REQUIRED_METADATA = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri",
                     "response_types_supported", "subject_types_supported",
                     "id_token_signing_alg_values_supported")


def cmd_discovery(ctx):
    a = ctx.args
    ctx.set_step("discovery")
    doc, jwks, ver = discover(ctx, plain_session(ctx))
    r = ctx.result
    r["discovery"] = doc
    r["jwks_keys"] = jwks_summary(jwks)
    r["kids"] = [k.get("kid") for k in jwks.get("keys", [])]
    r["x5ts"] = [k.get("x5t") for k in jwks.get("keys", [])]
    r["jwks_import_errors"] = ver.import_errors
    ctx.check("issuer", doc.get("issuer") == a.issuer, f"{doc.get('issuer')!r} != {a.issuer!r}")
    for k in REQUIRED_METADATA:
        ctx.check(f"metadata.{k}", k in doc, "missing")
    for k in ("userinfo_endpoint", "end_session_endpoint", "revocation_endpoint", "introspection_endpoint"):
        r.setdefault("optional_endpoints", {})[k] = doc.get(k)
    ctx.check("jwks.keys", len(jwks.get("keys", [])) > 0, "empty")
    ctx.check("jwks.import", not ver.import_errors, ver.import_errors)
    for k in r["jwks_keys"]:
        ctx.check(f"jwks[{k['kid']}].kid", bool(k.get("kid")), "no kid")
        ctx.check(f"jwks[{k['kid']}].no_private", not k["private_members_present"], k["private_members_present"])
        if k.get("x5t_matches_x5c") is not None:
            ctx.check(f"jwks[{k['kid']}].x5t", k["x5t_matches_x5c"], "x5t is not the SHA-1 of x5c[0]")
    ctx.check("id_token_signing_alg_values_supported", "RS256" in (doc.get("id_token_signing_alg_values_supported") or []),
              doc.get("id_token_signing_alg_values_supported"))
    r["pkce_s256_advertised"] = "S256" in (doc.get("code_challenge_methods_supported") or [])


# --- MSAL -----------------------------------------------------------------------------------------

def msal_scopes(ctx):
    scopes = []
    for s in ctx.args.scope or []:
        scopes.extend(s.split())
    reserved = sorted(set(scopes) & MSAL_RESERVED_SCOPES)
    if reserved:
        raise UsageError(f"MSAL adds {sorted(MSAL_RESERVED_SCOPES)} itself and refuses them as input: "
                         f"drop {reserved} from --scope")
    return scopes


def make_msal_app(ctx, recorder):
    import msal

    a = ctx.args
    session = plain_session(ctx, recorder)
    # MSAL fetches "{authority path}/.well-known/openid-configuration" (no "/v2.0" for AD FS): with a
    # trailing slash that is ".../adfs//.well-known/...", so the default drops it.
    authority = a.msal_authority or a.issuer.rstrip("/")
    kwargs = dict(authority=authority, http_client=session)
    # The authority's first path segment is "adfs", so MSAL's Authority sets is_adfs: no instance
    # discovery, no user-realm discovery; validate_authority can stay at its default (True).
    if a.client_secret:
        app = msal.ConfidentialClientApplication(a.client_id, client_credential=a.client_secret, **kwargs)
    else:
        app = msal.PublicClientApplication(a.client_id, **kwargs)
    au = app.authority
    ctx.result["msal"] = {
        "version": msal.__version__,
        "application": type(app).__name__,
        "authority": authority,
        "is_adfs": au.is_adfs,
        "tenant": au.tenant,
        "authorization_endpoint": au.authorization_endpoint,
        "token_endpoint": au.token_endpoint,
        "discovery_requests": [f"{e['method']} {e['url']} -> {e['status']}" for e in recorder.exchanges],
    }
    return app


def token_requests(recorder, token_endpoint):
    return [e for e in recorder.exchanges if e["method"] == "POST" and e["url"] == token_endpoint]


def record_msal_token_request(ctx, recorder, app):
    posts = token_requests(recorder, app.authority.token_endpoint)
    if not posts:
        ctx.result["request_params"] = None
        return None
    last = posts[-1]
    ctx.result["request_params"] = last.get("param_names")
    ctx.result["request_form"] = last.get("form")
    ctx.result["request_headers"] = last.get("request_headers")
    ctx.result["request_client_auth"] = last.get("authorization")
    ctx.result["http_status"] = last["status"]
    return last


def msal_tokens_report(ctx, result, ver, *, nonce=None):
    a = ctx.args
    r = ctx.result
    r["id_token_claims"] = result.get("id_token_claims")
    r["token_type"] = result.get("token_type")
    r["expires_in"] = result.get("expires_in")
    r["scope"] = result.get("scope")
    r["refresh_token_returned"] = bool(result.get("refresh_token"))
    r["refresh_token"] = fingerprint(result.get("refresh_token"))
    r["token_source"] = result.get("token_source")
    r["result_keys"] = sorted(result)
    r["id_token"] = ver.verify(result["id_token"], iss=a.issuer, aud=a.client_id, nonce=nonce) \
        if result.get("id_token") else None
    r["access_token"] = ver.verify(result["access_token"], iss=access_token_issuers(ctx),
                                   aud=expected_access_aud(ctx)) if result.get("access_token") else None
    check_jwt(ctx, "id_token", r["id_token"])
    check_jwt(ctx, "access_token", r["access_token"])
    if r["id_token"] and r["id_token"].get("claims") and r["id_token_claims"]:
        ctx.check("id_token_claims_match", r["id_token"]["claims"] == r["id_token_claims"],
                  "MSAL's id_token_claims differ from the verified claims")


def msal_accounts(app):
    out = []
    for acc in app.get_accounts():
        out.append({k: acc.get(k) for k in ("username", "authority_type", "environment", "realm",
                                             "home_account_id", "local_account_id", "account_source")})
    return out


def cmd_msal_ropc(ctx):
    a = ctx.args
    scopes = msal_scopes(ctx)
    ctx.set_step("discovery")
    _doc, _jwks, ver = discover(ctx, plain_session(ctx))
    recorder = Recorder()
    ctx.result["http_log"] = recorder.exchanges  # filled in as MSAL talks (also when it fails)
    ctx.set_step("msal-app")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = make_msal_app(ctx, recorder)
        ctx.set_step("msal-ropc")
        result = app.acquire_token_by_username_password(a.username, a.password, scopes)
    ctx.result["msal_warnings"] = sorted({ctx.scrub(w.message) for w in caught})
    ctx.result["scopes_requested"] = scopes
    last = record_msal_token_request(ctx, recorder, app)
    if "error" in result:
        ctx.result["error"] = result.get("error")
        ctx.result["error_description"] = ctx.scrub(result.get("error_description"))
        ctx.result["error_codes"] = result.get("error_codes")
        ctx.result["http_status"] = last["status"] if last else None
        if a.expect_error:
            ctx.result["expected_error"] = a.expect_error
            ctx.check("expected_error", result.get("error") == a.expect_error,
                      f"got {result.get('error')!r}, expected {a.expect_error!r}")
        else:
            ctx.check("token", False, f"{result.get('error')}: {ctx.scrub(result.get('error_description'))}")
        return
    if a.expect_error:
        ctx.result["expected_error"] = a.expect_error
        ctx.check("expected_error", False, f"expected {a.expect_error!r} but tokens were issued")
    msal_tokens_report(ctx, result, ver)
    ctx.result["accounts"] = msal_accounts(app)


# --- the local redirect_uri server ----------------------------------------------------------------

CALLBACK_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>oidc_client callback</title></head>
<body><h1 id="callback-done">callback received</h1>
<p>method: <span id="callback-method">{method}</span>, path: <span id="callback-path">{path}</span></p>
<p>parameter names: <span id="callback-params">{names}</span></p>
<p>fragment: <span id="callback-fragment"></span></p>
<script>document.getElementById("callback-fragment").textContent = location.hash;</script>
</body></html>
"""

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


class CallbackServer:
    """Serves every GET/POST on a loopback port with CALLBACK_PAGE and records it."""

    def __init__(self, port):
        self.records = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _answer(self, method, params):
                split = urlsplit(self.path)
                if split.path == "/favicon.ico":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with outer.lock:
                    outer.records.append({"method": method, "path": split.path, "params": params,
                                          "time": time.time()})
                body = CALLBACK_PAGE.format(method=method, path=html.escape(split.path),
                                            names=html.escape(", ".join(params))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802
                self._answer("GET", dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True)))

            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n).decode("utf-8", "replace") if n else ""
                params = dict(parse_qsl(raw, keep_blank_values=True))
                params_q = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
                self._answer("POST", {**params_q, **params})

        self.servers = []
        errors = []
        for family, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            cls = type("Srv", (ThreadingHTTPServer,), {"address_family": family, "daemon_threads": True})
            try:
                self.servers.append(cls((addr, port), Handler))
            except OSError as exc:
                errors.append(f"{addr}:{port}: {exc}")
        if not self.servers or (errors and "127.0.0.1" in errors[0]):
            self.close()
            raise StepFailed("callback-server", f"cannot listen on port {port}: {errors}")
        for srv in self.servers:
            threading.Thread(target=srv.serve_forever, daemon=True).start()

    def count(self):
        with self.lock:
            return len(self.records)

    def after(self, n, path=None):
        with self.lock:
            return [r for r in self.records[n:] if path is None or r["path"] == path]

    def close(self):
        for srv in self.servers:
            try:
                srv.shutdown()
            except Exception:  # noqa: BLE001
                pass
            srv.server_close()


def loopback_port(url, what):
    u = urlsplit(url)
    if u.scheme != "http" or (u.hostname or "") not in LOOPBACK_HOSTS:
        raise UsageError(f"{what} must be http://localhost:PORT/... (served by this script), got {url}")
    return u.port or 80


# --- browser --------------------------------------------------------------------------------------

def start_browser(ctx):
    from browser_signin import Run

    run = Run(ctx.args)
    ctx.run = run
    run.step = ctx.step
    run.trust_certificate()
    run.start_browser()
    return run


def browser_authorize(ctx, cb, url, callback_path, *, sign_in, expect_form, response_mode="query"):
    """Open an authorize URL; sign in when the form appears (if sign_in); wait for the callback.

    Returns {"form_shown", "callback": {method, path, params}, "landed_url"} (callback None when
    sign_in is False and the form appeared)."""
    a = ctx.args
    run = ctx.run
    n = cb.count()
    seen = {"form": False}
    run.driver.get(url)

    def form_or_callback():
        if cb.after(n, callback_path) and run.find("#callback-done") is not None:
            return "callback"
        if run.find("#userNameInput") is not None:
            seen["form"] = True
            return "form"
        return None

    got = run.wait_for("the sign-in form (#userNameInput) or the redirect to " + callback_path,
                       form_or_callback)
    out = {"form_shown": seen["form"]}
    if got == "form":
        out["form_url"] = run.driver.current_url.split("?", 1)[0]
        if expect_form is False:
            ctx.check(f"{ctx.step}.no_form", False, "the sign-in form appeared (no single sign-on)")
        if not sign_in:
            return out
        run.fill_and_submit(a.username, a.password)

        def callback():
            if cb.after(n, callback_path) and run.find("#callback-done") is not None:
                return True
            return None

        run.wait_for(f"the redirect to {callback_path} after signing in", callback,
                     fail_on=[("#errorText", "the IdP rejected the sign-in")])
    elif expect_form is True:
        ctx.check(f"{ctx.step}.form", False, "no sign-in form appeared")
    rec = cb.after(n, callback_path)[-1]
    params = dict(rec["params"])
    landed = run.driver.current_url
    if response_mode == "fragment":
        params.update(dict(parse_qsl(urlsplit(landed).fragment, keep_blank_values=True)))
    out["callback"] = {"method": rec["method"], "path": rec["path"], "param_names": sorted(params)}
    out["_params"] = params
    return out


def public_callback(cbres, state, issuer):
    """The reportable part of a callback (the code only as a fingerprint)."""
    p = cbres["_params"]
    out = dict(cbres["callback"])
    out["state_ok"] = p.get("state") == state
    out["code"] = fingerprint(p.get("code"))
    for k in ("error", "error_description", "session_state"):
        if k in p:
            out[k] = p[k]
    if "iss" in p:  # RFC 9207
        out["iss"] = p["iss"]
        out["iss_ok"] = p["iss"] == issuer
    return out


# --- scenario: code-flow --------------------------------------------------------------------------

def scope_string(ctx):
    parts = []
    for s in ctx.args.scope or []:
        parts.extend(s.split())
    return " ".join(parts)


class CodeFlow:
    def __init__(self, ctx, servers, doc, ver, session, recorder):
        self.ctx, self.doc, self.ver, self.s, self.rec = ctx, doc, ver, session, recorder
        self.servers = servers
        self.cb = servers[0]  # the redirect_uri's server
        a = ctx.args
        self.a = a
        self.callback_path = urlsplit(a.redirect_uri).path or "/"
        self.scope = scope_string(ctx)

    def authorize(self, label, *, sign_in=True, expect_form=None, extra=None):
        """One authorization request through the browser; returns (report, params, pkce, nonce)."""
        a, ctx = self.a, self.ctx
        ctx.set_step(label)
        verifier, _challenge = pkce_pair()
        nonce = secrets.token_urlsafe(16)
        params = {"nonce": nonce, "scope": self.scope, "redirect_uri": a.redirect_uri}
        if a.response_mode:
            params["response_mode"] = a.response_mode
        if a.resource:
            params["resource"] = a.resource
        params.update(extra or {})
        url, state = self.s.create_authorization_url(self.doc["authorization_endpoint"],
                                                     code_verifier=verifier, **params)
        res = browser_authorize(ctx, self.cb, url, self.callback_path, sign_in=sign_in,
                                expect_form=expect_form, response_mode=a.response_mode or "query")
        q = dict(parse_qsl(urlsplit(url).query))
        report = {"form_shown": res["form_shown"],
                  "request_params": sorted(q),
                  "code_challenge_method": q.get("code_challenge_method")}
        if "callback" not in res:
            return report, None, verifier, nonce
        report["callback"] = public_callback(res, state, a.issuer)
        cbp = res["_params"]
        ctx.check(f"{label}.state", report["callback"]["state_ok"],
                  f"callback state {cbp.get('state')!r} != {state!r}")
        if "error" in cbp:
            ctx.check(f"{label}.callback", False, f"{cbp.get('error')}: {cbp.get('error_description')}")
        ctx.check(f"{label}.code", bool(cbp.get("code")), "no code in the callback")
        return report, cbp, verifier, nonce

    def redeem(self, code, verifier):
        return call_oauth(self.rec, lambda: self.s.fetch_token(
            self.doc["token_endpoint"], grant_type="authorization_code", code=code,
            code_verifier=verifier, redirect_uri=self.a.redirect_uri))

    def refresh(self, refresh_token):
        return call_oauth(self.rec, lambda: self.s.refresh_token(
            self.doc["token_endpoint"], refresh_token=refresh_token))

    def verify_tokens(self, label, token, *, nonce=None, original_nonce=None):
        """Verify id/access tokens of a token response; returns {"id_token":..., "access_token":...}."""
        a, ctx = self.a, self.ctx
        out = {}
        if token.get("id_token"):
            it = self.ver.verify(token["id_token"], iss=a.issuer, aud=a.client_id, nonce=nonce)
            out["id_token"] = it
            check_jwt(ctx, f"{label}.id_token", it)
            claims = it.get("claims") or {}
            if original_nonce is not None and "nonce" in claims:
                ctx.check(f"{label}.id_token.nonce", claims["nonce"] == original_nonce,
                          "a refreshed id token's nonce differs from the original one")
        elif "openid" in self.scope.split():
            ctx.check(f"{label}.id_token.present", False, "openid was requested but no id_token came back")
        if token.get("access_token"):
            at = self.ver.verify(token["access_token"], iss=access_token_issuers(ctx), aud=expected_access_aud(ctx))
            out["access_token"] = at
            check_jwt(ctx, f"{label}.access_token", at)
        else:
            ctx.check(f"{label}.access_token.present", False, "no access_token")
        return out

    def introspect(self, token, hint):
        n = len(self.rec.exchanges)
        try:
            resp = self.s.introspect_token(self.doc["introspection_endpoint"], token=token, token_type_hint=hint)
        except Exception as exc:  # noqa: BLE001 - recorded
            return {"exception": f"{type(exc).__name__}: {exc}"}
        new = self.rec.since(n)
        out = summarize_exchange(new[-1] if new else None)
        try:
            out["active"] = resp.json().get("active")
        except (ValueError, AttributeError):
            out["active"] = None
        return out

    def run(self):
        a, ctx, r = self.a, self.ctx, self.ctx.result
        confidential = bool(a.client_secret)
        r["client_type"] = "confidential" if confidential else "public"
        r["token_endpoint_auth_method"] = self.s.token_endpoint_auth_method

        # 1. first authorization: the sign-in form, then the callback
        rep, cbp, verifier, nonce = self.authorize(
            "authorize", sign_in=True, expect_form=None if a.skip_signin_if_sso else True,
            extra={k: v for k, v in (("prompt", a.prompt), ("login_hint", a.login_hint)) if v})
        r["authorize"] = rep
        if not cbp or not cbp.get("code"):
            raise StepFailed("authorize", "the authorization response carried no code")

        # 2. code -> tokens
        ctx.set_step("token")
        tok, summ = self.redeem(cbp["code"], verifier)
        r["token"] = summ
        if tok is None:
            raise StepFailed("token", f"the code exchange failed: {summ}")
        summ["refresh_token_returned"] = bool(tok.get("refresh_token"))
        v = self.verify_tokens("token", tok, nonce=nonce)
        r["id_token"] = v.get("id_token")
        r["access_token"] = v.get("access_token")
        r["id_token_claims"] = (v.get("id_token") or {}).get("claims")
        id_sub = (r["id_token_claims"] or {}).get("sub")
        latest_id_token = tok.get("id_token")

        # 3. userinfo
        ctx.set_step("userinfo")
        if a.skip_userinfo:
            r["userinfo"] = {"skipped": True}
        elif not self.doc.get("userinfo_endpoint"):
            ctx.check("userinfo.endpoint", False, "no userinfo_endpoint in discovery")
        else:
            resp = self.s.get(self.doc["userinfo_endpoint"], withhold_token=True,
                              headers={"Authorization": f"Bearer {tok['access_token']}", "Accept": "application/json"})
            ui = {"status": resp.status_code}
            try:
                ui["body"] = resp.json()
            except ValueError:
                ui["body_text"] = resp.text[:500]
            r["userinfo"] = ui
            if ctx.check("userinfo.status", resp.status_code == 200, resp.status_code):
                body = ui.get("body") or {}
                ctx.check("userinfo.sub", id_sub is None or body.get("sub") == id_sub,
                          f"userinfo sub {body.get('sub')!r} != id token sub {id_sub!r}")

        # 4. refresh (rotation) and 5. reuse detection
        rt1 = tok.get("refresh_token")
        ctx.set_step("refresh")
        if not rt1:
            ctx.check("token.refresh_token", False, "no refresh_token (offline_access requested?)")
            r["refresh"] = {"skipped": "no refresh token"}
            r["reuse"] = {"skipped": "no refresh token"}
        else:
            tok2, summ2 = self.refresh(rt1)
            rf = dict(summ2)
            rf["old_refresh_token"] = fingerprint(rt1)
            r["refresh"] = rf
            if tok2 is None:
                ctx.check("refresh", False, f"refresh failed: {summ2.get('error')} {summ2.get('error_description')}")
                r["reuse"] = {"skipped": "refresh failed"}
            else:
                raw_new = (summ2.get("body") or {}).get("refresh_token")  # fingerprint from the wire
                rt2 = tok2.get("refresh_token") if raw_new else None
                rf["new_refresh_token_returned"] = bool(raw_new)
                rf["new_refresh_token"] = fingerprint(rt2)
                rf["rotated"] = bool(rt2) and rt2 != rt1
                ctx.check("refresh.rotated", rf["rotated"], "the refresh did not return a NEW refresh token")
                rf.update(self.verify_tokens("refresh", tok2, original_nonce=nonce))
                if tok2.get("id_token"):
                    latest_id_token = tok2["id_token"]
                    id_claims2 = (rf.get("id_token") or {}).get("claims") or {}
                    ctx.check("refresh.id_token.sub", id_claims2.get("sub") == id_sub, "sub changed")

                ctx.set_step("reuse")
                _, old_again = self.refresh(rt1)
                reuse = {"old_token": old_again}
                ctx.check("reuse.old", old_again.get("error") == "invalid_grant",
                          f"re-presenting the used refresh token: {old_again.get('status')} {old_again.get('error')}")
                if rt2:
                    _, newest = self.refresh(rt2)
                    reuse["newest_token"] = newest
                    ctx.check("reuse.newest", newest.get("error") == "invalid_grant",
                              f"the newest refresh token after reuse detection: {newest.get('status')} "
                              f"{newest.get('error')} (family not revoked?)")
                r["reuse"] = reuse

        # 6. a second authorization in the same browser session: single sign-on, no form
        rep2, cbp2, verifier2, nonce2 = self.authorize("sso_second_authorize", sign_in=True, expect_form=False)
        r["sso_second_authorize"] = rep2
        code2 = (cbp2 or {}).get("code")
        tok3 = None
        if code2:
            ctx.set_step("sso_second_token")
            tok3, summ3 = self.redeem(code2, verifier2)
            rep2["token"] = summ3
            if tok3 is None:
                ctx.check("sso_second_authorize.token", False, f"{summ3.get('error')} {summ3.get('error_description')}")
            else:
                rep2["refresh_token_returned"] = bool(tok3.get("refresh_token"))
                rep2.update(self.verify_tokens("sso_second_authorize", tok3, nonce=nonce2))
                latest_id_token = tok3.get("id_token") or latest_id_token
                claims3 = (rep2.get("id_token") or {}).get("claims") or {}
                ctx.check("sso_second_authorize.sub", claims3.get("sub") == id_sub, "another subject after SSO")
        at3 = (tok3 or {}).get("access_token")
        rt3 = (tok3 or {}).get("refresh_token")

        # 7. introspection / revocation (confidential clients)
        ctx.set_step("introspect")
        if not confidential:
            intro = {"skipped": "public client"}
            if self.doc.get("introspection_endpoint") and at3:
                resp = plain_session(ctx).post(self.doc["introspection_endpoint"],
                                               data={"token": at3, "client_id": a.client_id})
                intro["unauthenticated_status"] = resp.status_code
                try:
                    intro["unauthenticated_body"] = redact_json(resp.json())
                except ValueError:
                    pass
                ctx.check("introspect.requires_client_auth", resp.status_code in (400, 401),
                          f"introspection without client authentication answered {resp.status_code}")
            r["introspect"] = intro
            r["revoke"] = {"skipped": "public client"}
        elif not tok3:
            r["introspect"] = {"skipped": "no tokens from the second authorization"}
            r["revoke"] = {"skipped": "no tokens from the second authorization"}
        else:
            intro = {}
            if ctx.check("introspect.endpoint", bool(self.doc.get("introspection_endpoint")), "not in discovery"):
                intro["access_token"] = self.introspect(at3, "access_token")
                ctx.check("introspect.access_token.active", intro["access_token"].get("active") is True,
                          intro["access_token"])
                if rt3:
                    intro["refresh_token"] = self.introspect(rt3, "refresh_token")
                    ctx.check("introspect.refresh_token.active", intro["refresh_token"].get("active") is True,
                              intro["refresh_token"])
            r["introspect"] = intro
            ctx.set_step("revoke")
            rv = {}
            if rt3 and ctx.check("revoke.endpoint", bool(self.doc.get("revocation_endpoint")), "not in discovery"):
                n = len(self.rec.exchanges)
                try:
                    self.s.revoke_token(self.doc["revocation_endpoint"], token=rt3, token_type_hint="refresh_token")
                except Exception as exc:  # noqa: BLE001 - recorded
                    rv["exception"] = f"{type(exc).__name__}: {exc}"
                new = self.rec.since(n)
                rv.update(summarize_exchange(new[-1] if new else None))
                ctx.check("revoke.status", rv.get("status") == 200, rv.get("status"))
                if self.doc.get("introspection_endpoint"):
                    rv["introspect_after"] = self.introspect(rt3, "refresh_token")
                    intro["refresh_token_after_revoke"] = rv["introspect_after"]
                    ctx.check("revoke.introspect_inactive", rv["introspect_after"].get("active") is False,
                              rv["introspect_after"])
                _, after = self.refresh(rt3)
                rv["refresh_after_revoke"] = after
                ctx.check("revoke.refresh_fails", after.get("error") == "invalid_grant",
                          f"{after.get('status')} {after.get('error')}")
            r["revoke"] = rv

        # 8. code replay
        ctx.set_step("replay")
        if code2:
            _, rep_summ = self.redeem(code2, verifier2)
            r["replay"] = rep_summ
            ctx.check("replay", rep_summ.get("error") == "invalid_grant",
                      f"redeeming a used code: {rep_summ.get('status')} {rep_summ.get('error')}")
        else:
            r["replay"] = {"skipped": "no second code"}

        # 9. logout
        if a.post_logout_redirect_uri:
            self.logout(latest_id_token)
        else:
            r["logout"] = {"skipped": "no --post-logout-redirect-uri"}

    def logout(self, latest_id_token):
        a, ctx, r = self.a, self.ctx, self.ctx.result
        run = ctx.run
        lo = {}
        r["logout"] = lo
        # one more SSO authorization, so the session has a live refresh token to be revoked by logout
        rep, cbp, verifier, nonce = self.authorize("pre_logout_authorize", sign_in=True, expect_form=False)
        lo["pre_logout_authorize"] = rep
        live_rt = None
        if cbp and cbp.get("code"):
            tok, summ = self.redeem(cbp["code"], verifier)
            rep["token"] = summ
            if tok:
                live_rt = tok.get("refresh_token")
                latest_id_token = tok.get("id_token") or latest_id_token
                rep.update(self.verify_tokens("pre_logout_authorize", tok, nonce=nonce))
        ctx.set_step("logout")
        if not ctx.check("logout.endpoint", bool(self.doc.get("end_session_endpoint")), "no end_session_endpoint"):
            return
        state = secrets.token_urlsafe(12)
        q = {"post_logout_redirect_uri": a.post_logout_redirect_uri, "state": state}
        if latest_id_token:
            q["id_token_hint"] = latest_id_token
        ep = self.doc["end_session_endpoint"]
        url = ep + ("&" if "?" in ep else "?") + urlencode(q)
        lo["request_params"] = sorted(q)
        lo["id_token_hint_sent"] = bool(latest_id_token)
        counts = [srv.count() for srv in self.servers]
        run.driver.get(url)
        target = a.post_logout_redirect_uri

        def landed():
            u = run.driver.current_url
            return u if u.startswith(target) else None

        got = run.wait_for(f"the redirect to {target}", landed)
        lo["landed_url"] = got
        lo["landed_on_post_logout_uri"] = got.startswith(target)
        landed_params = dict(parse_qsl(urlsplit(got).query, keep_blank_values=True))
        lo["state_ok"] = landed_params.get("state") == state
        lo["landed_param_names"] = sorted(landed_params)
        ctx.check("logout.state", lo["state_ok"], f"landed on {got}")
        lo["served_by_callback_server"] = any(srv.after(n, urlsplit(target).path or "/")
                                              for srv, n in zip(self.servers, counts))
        # the session's refresh token is revoked
        if live_rt:
            _, after = self.refresh(live_rt)
            lo["refresh_after_logout"] = after
            ctx.check("logout.refresh_revoked", after.get("error") == "invalid_grant",
                      f"refresh token of the ended session: {after.get('status')} {after.get('error')}")
        # the SSO session is over: a fresh authorize shows the sign-in form
        rep_after, _, _, _ = self.authorize("authorize_after_logout", sign_in=False, expect_form=True)
        lo["authorize_after_logout"] = rep_after
        lo["form_shown_after_logout"] = rep_after["form_shown"]


def cmd_code_flow(ctx):
    a = ctx.args
    if a.response_mode not in (None, "query", "form_post", "fragment"):
        raise UsageError("--response-mode must be query, form_post or fragment")
    port = loopback_port(a.redirect_uri, "--redirect-uri")
    extra_port = None
    if a.post_logout_redirect_uri:
        u = urlsplit(a.post_logout_redirect_uri)
        if u.scheme == "http" and (u.hostname or "") in LOOPBACK_HOSTS and (u.port or 80) != port:
            extra_port = u.port or 80
    ctx.set_step("discovery")
    doc, _jwks, ver = discover(ctx, plain_session(ctx))
    for k in ("authorization_endpoint", "token_endpoint"):
        if not doc.get(k):
            raise StepFailed("discovery", f"no {k} in the discovery document")
    recorder = Recorder()
    session = oauth_session(ctx, recorder, a.client_id, a.client_secret, a.token_auth)
    servers = []
    try:
        ctx.set_step("callback-server")
        cb = CallbackServer(port)
        servers.append(cb)
        if extra_port:
            servers.append(CallbackServer(extra_port))
        ctx.set_step("start-browser")
        start_browser(ctx)
        CodeFlow(ctx, servers, doc, ver, session, recorder).run()
    finally:
        ctx.result["http_log"] = recorder.exchanges
        for s in servers:
            s.close()


# --- scenario: client-credentials -----------------------------------------------------------------

def cmd_client_credentials(ctx):
    a = ctx.args
    if not a.resource and not a.scope:
        raise UsageError("client-credentials needs --resource or --scope")
    ctx.set_step("discovery")
    doc, _jwks, ver = discover(ctx, plain_session(ctx))
    recorder = Recorder()
    s = oauth_session(ctx, recorder, a.client_id, a.client_secret, a.token_auth)
    ctx.set_step("token")
    kwargs = {"grant_type": "client_credentials"}
    scope = scope_string(ctx)
    if scope:
        kwargs["scope"] = scope
    if a.resource:
        kwargs["resource"] = a.resource
    tok, summ = call_oauth(recorder, lambda: s.fetch_token(doc["token_endpoint"], **kwargs))
    r = ctx.result
    r["token"] = summ
    r["http_log"] = recorder.exchanges
    if tok is None:
        raise StepFailed("token", f"client_credentials failed: {summ.get('error')} {summ.get('error_description')}")
    r["refresh_token_returned"] = bool(tok.get("refresh_token"))
    r["id_token_returned"] = bool(tok.get("id_token"))
    ctx.check("no_refresh_token", not tok.get("refresh_token"), "client_credentials returned a refresh token")
    at = ver.verify(tok.get("access_token"), iss=access_token_issuers(ctx), aud=expected_access_aud(ctx)) \
        if tok.get("access_token") else None
    r["access_token"] = at
    r["access_token_claims"] = (at or {}).get("claims")
    check_jwt(ctx, "access_token", at)
    ctx.set_step("introspect")
    if doc.get("introspection_endpoint") and tok.get("access_token"):
        n = len(recorder.exchanges)
        resp = s.introspect_token(doc["introspection_endpoint"], token=tok["access_token"],
                                  token_type_hint="access_token")
        new = recorder.since(n)
        intro = summarize_exchange(new[-1] if new else None)
        try:
            intro["active"] = resp.json().get("active")
        except (ValueError, AttributeError):
            intro["active"] = None
        r["introspect"] = intro
        ctx.check("introspect.active", intro["active"] is True, intro)
    else:
        r["introspect"] = {"skipped": "no introspection_endpoint"}
        ctx.check("introspect.endpoint", False, "no introspection_endpoint in discovery")


# --- scenario: msal-code-flow ---------------------------------------------------------------------

def cmd_msal_code_flow(ctx):
    a = ctx.args
    scopes = msal_scopes(ctx)
    port = loopback_port(a.redirect_uri, "--redirect-uri")
    ctx.set_step("discovery")
    _doc, _jwks, ver = discover(ctx, plain_session(ctx))
    recorder = Recorder()
    r = ctx.result
    cb = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ctx.set_step("msal-app")
            app = make_msal_app(ctx, recorder)
            ctx.set_step("callback-server")
            cb = CallbackServer(port)
            ctx.set_step("start-browser")
            start_browser(ctx)
            ctx.set_step("msal-initiate")
            flow = app.initiate_auth_code_flow(
                scopes, redirect_uri=a.redirect_uri, response_mode=a.response_mode,
                login_hint=a.login_hint, prompt=a.prompt)
            q = dict(parse_qsl(urlsplit(flow["auth_uri"]).query, keep_blank_values=True))
            r["authorize_params"] = q  # all public: they travel in the browser's URL
            r["authorize_param_names"] = sorted(q)
            sent_nonce = q.get("nonce")
            ctx.set_step("authorize")
            res = browser_authorize(ctx, cb, flow["auth_uri"], urlsplit(a.redirect_uri).path or "/",
                                    sign_in=True, expect_form=True, response_mode=a.response_mode or "query")
            r["authorize"] = {"form_shown": res["form_shown"],
                              "callback": public_callback(res, flow["state"], a.issuer)}
            ctx.check("authorize.state", r["authorize"]["callback"]["state_ok"], "state mismatch")
            ctx.set_step("msal-token")
            try:
                result = app.acquire_token_by_auth_code_flow(flow, res["_params"])
            except (ValueError, RuntimeError) as exc:  # MSAL's state / nonce checks
                record_msal_token_request(ctx, recorder, app)
                raise StepFailed("msal-token", f"MSAL rejected the response: {type(exc).__name__}: {exc}")
            record_msal_token_request(ctx, recorder, app)
            if "error" in result:
                r["error"] = result.get("error")
                r["error_description"] = ctx.scrub(result.get("error_description"))
                ctx.check("token", False, f"{result.get('error')}: {ctx.scrub(result.get('error_description'))}")
                return
            msal_tokens_report(ctx, result, ver, nonce=sent_nonce)
            r["nonce_sent_is_sha256_of_flow_nonce"] = (
                sent_nonce == hashlib.sha256(flow["nonce"].encode("ascii")).hexdigest())
            r["accounts"] = msal_accounts(app)
        finally:
            r["msal_warnings"] = sorted({ctx.scrub(w.message) for w in caught})
            r["http_log"] = recorder.exchanges
            if cb is not None:
                cb.close()


# --- scenario: self-test (offline) ----------------------------------------------------------------

def cmd_self_test(ctx):
    from authlib.oauth2.auth import ClientAuth
    from authlib.oauth2.rfc7636 import create_s256_code_challenge
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    r = ctx.result
    issuer = "https://sts.contoso.com:8443/adfs"
    key = RSAKey.generate_key(2048, parameters={"kid": "test-kid", "use": "sig", "alg": "RS256"}, private=True)
    other = RSAKey.generate_key(2048, parameters={"kid": "test-kid"}, private=True)
    pub = key.as_dict(private=False)
    pub["x5t"] = "test-x5t"
    ver = Verifier({"keys": [pub]})
    now = int(time.time())
    claims = {"iss": issuer, "aud": "client-1", "sub": "alice", "exp": now + 300, "iat": now, "nonce": "n-1",
              "name": "Alice Example", "email": "alice@example.test"}
    good = jwt.encode({"alg": "RS256", "kid": "test-kid", "x5t": "test-x5t"}, claims, key)

    rep = ver.verify(good, iss=issuer, aud="client-1", nonce="n-1")
    r["good_token"] = rep
    ctx.check("good.verified", rep["verified"], rep)
    for k in ("tampered_rejected", "alg_none_rejected", "hs256_rejected"):
        ctx.check(f"good.{k}", rep.get(k) is True, rep.get("rejections"))
    ctx.check("good.x5t", rep.get("x5t_matches_jwks") is True)

    # the tampered copy really is what it claims: same length, valid base64url, JSON, other bytes
    bad, idx = tamper_payload(good)
    gp, bp = good.split(".")[1], bad.split(".")[1]
    diff = [i for i in range(len(gp)) if gp[i] != bp[i]]
    r["tamper_shape"] = {"index": idx, "chars_changed": len(diff), "same_length": len(gp) == len(bp),
                         "payload_is_json": isinstance(json.loads(b64u_decode(bp)), dict),
                         "bytes_differ": b64u_decode(bp) != b64u_decode(gp),
                         "signature_kept": good.split(".")[2] == bad.split(".")[2]}
    ctx.check("tamper.shape", r["tamper_shape"]["chars_changed"] == 1 and all(
        r["tamper_shape"][k] for k in ("same_length", "payload_is_json", "bytes_differ", "signature_kept")),
        r["tamper_shape"])
    # the forged HS256 copy is a correct HMAC under the public key's bytes (so its rejection comes
    # from the allow-list), and joserfc would not even accept those bytes as an HMAC key
    from joserfc.jwk import OctKey
    pem = rsa_public_key_secrets(pub)["spki_pem"]
    fh, fp_, fs = hs256_copy(good, pem).split(".")
    r["hs256_forgery_hmac_valid"] = hmac.compare_digest(
        b64u_decode(fs), hmac.new(pem, f"{fh}.{fp_}".encode(), hashlib.sha256).digest())
    ctx.check("hs256.forgery_well_formed", r["hs256_forgery_hmac_valid"])
    try:
        OctKey.import_key(pem)
        r["joserfc_refuses_public_key_as_hmac_key"] = False
    except ValueError as exc:
        r["joserfc_refuses_public_key_as_hmac_key"] = str(exc)
    none_header = json.loads(b64u_decode(alg_none_copy(good).split(".")[0]))
    ctx.check("alg_none.shape", none_header["alg"] == "none" and alg_none_copy(good).endswith("."))

    cases = {
        "wrong_key": (jwt.encode({"alg": "RS256", "kid": "test-kid"}, claims, other), {}),
        "wrong_nonce": (good, {"nonce": "n-2"}),
        "wrong_aud": (good, {"aud": "client-2"}),
        "wrong_iss": (good, {"iss": "https://evil.example/adfs"}),
        "expired": (jwt.encode({"alg": "RS256", "kid": "test-kid"}, dict(claims, exp=now - 3600), key), {}),
        "unknown_kid": (jwt.encode({"alg": "RS256", "kid": "nope"}, claims, key), {}),
    }
    r["negative"] = {}
    for name, (tok, over) in cases.items():
        kw = {"iss": issuer, "aud": "client-1", "nonce": "n-1"}
        kw.update(over)
        rep = ver.verify(tok, tamper=False, **kw)
        r["negative"][name] = {k: rep.get(k) for k in ("verified", "signature_valid", "claims_valid",
                                                         "kid_in_jwks", "signature_error", "claims_error")}
        ctx.check(f"negative.{name}", rep["verified"] is False, rep)
    rep = ver.verify(good, iss=[issuer, "http://sts.contoso.com/adfs/services/trust"], tamper=False)
    ctx.check("issuer_list", rep["verified"], rep)

    # PKCE: RFC 7636 appendix B, and our generator
    vector = create_s256_code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
    ctx.check("pkce.rfc7636_vector", vector == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", vector)
    v, c = pkce_pair()
    r["pkce"] = {"verifier_length": len(v), "challenge_length": len(c), "rfc7636_vector_ok": True}
    ctx.check("pkce.generated", 43 <= len(v) <= 128 and c == b64u(hashlib.sha256(v.encode()).digest()))

    # authlib's client_secret_basic encoding (no form-urlencoding of id/secret before base64)
    _, headers, _ = ClientAuth("id with:colon+plus", "s3cr&t=x", "client_secret_basic").prepare(
        "POST", "https://x/token", {}, "")
    decoded = base64.b64decode(headers["Authorization"].split(" ", 1)[1]).decode("latin-1")
    r["authlib_client_secret_basic"] = {"decoded": decoded.replace("s3cr&t=x", "<secret>"),
                                        "form_urlencoded": decoded != "id with:colon+plus:s3cr&t=x"}
    r["fingerprint_example"] = fingerprint("refresh-token-value")
    r["redaction_example"] = redact_form([("password", "p"), ("code", "abc"), ("scope", "openid")])


# --- command line ---------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message):  # bad usage is reported as JSON too (exit 2)
        raise UsageError(message)


def msal_arguments(sp):
    sp.add_argument("--msal-authority", metavar="URL",
                    help="authority given to MSAL (default: --issuer without a trailing slash)")
    sp.add_argument("--resource", help=argparse.SUPPRESS)


def build_parser():
    from browser_signin import browser_arguments

    common = _Parser(add_help=False)
    common.add_argument("--issuer", required=True,
                        help="altgate's issuer, e.g. https://sts.contoso.com:8443/adfs")
    common.add_argument("--ca", required=True, help="PEM of altgate's HTTPS certificate, used to verify TLS")
    http = _Parser(add_help=False)
    http.add_argument("--timeout", type=float, default=20.0, help="seconds per request (default 20, at most 20)")
    browser = _Parser(add_help=False)
    browser_arguments(browser)  # --timeout, --chromium, --chromedriver, --certutil, --keep, ...
    client = _Parser(add_help=False)
    client.add_argument("--client-id", required=True)
    client.add_argument("--client-secret", help="confidential client (never printed)")
    user = _Parser(add_help=False)
    user.add_argument("--username", required=True)
    user.add_argument("--password", required=True, help="never printed")
    tokens = _Parser(add_help=False)
    tokens.add_argument("--access-token-issuer", action="append", metavar="ISS",
                        help="accepted iss of access tokens (repeatable; default: the issuer and "
                             "http://<host>/adfs/services/trust)")
    tokens.add_argument("--access-token-aud", help="expected aud of access tokens (default: --resource if given)")

    p = _Parser(prog="oidc_client.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="SCENARIO", parser_class=_Parser)
    sub.required = True

    sub.add_parser("discovery", parents=[common, http], help="discovery document and JWKS")

    sp = sub.add_parser("msal-ropc", parents=[common, http, client, user, tokens],
                        help="MSAL acquire_token_by_username_password (AD FS authority)")
    sp.add_argument("--scope", action="append", default=[],
                    help="scope (repeatable, space-separated allowed); MSAL adds openid profile offline_access")
    sp.add_argument("--expect-error", metavar="CODE", help="succeed only if MSAL reports this error (e.g. invalid_grant)")
    msal_arguments(sp)

    sp = sub.add_parser("code-flow", parents=[common, browser, client, user, tokens],
                        help="authorization code + PKCE through headless Chromium, refresh, reuse, SSO, "
                             "introspection, revocation, replay, logout (authlib)")
    sp.add_argument("--redirect-uri", required=True, help="http://localhost:PORT/callback (served by this script)")
    sp.add_argument("--scope", action="append", default=[], help='e.g. "openid profile email offline_access"')
    sp.add_argument("--resource", help="AD FS resource parameter on the authorize request")
    sp.add_argument("--response-mode", choices=["query", "form_post", "fragment"])
    sp.add_argument("--post-logout-redirect-uri", help="run the logout checks with this URI")
    sp.add_argument("--skip-signin-if-sso", action="store_true",
                    help="do not require the sign-in form on the first authorization")
    sp.add_argument("--skip-userinfo", action="store_true", help="do not call the userinfo endpoint")
    sp.add_argument("--prompt", help="prompt parameter of the first authorization")
    sp.add_argument("--login-hint", help="login_hint parameter of the first authorization")
    sp.add_argument("--token-auth", choices=["client_secret_basic", "client_secret_post"],
                    help="client authentication with --client-secret (default client_secret_basic)")

    sp = sub.add_parser("client-credentials", parents=[common, http, tokens],
                        help="client_credentials grant (authlib), verified access token, introspection")
    sp.add_argument("--client-id", required=True)
    sp.add_argument("--client-secret", required=True, help="never printed")
    sp.add_argument("--resource", help="AD FS resource parameter")
    sp.add_argument("--scope", action="append", default=[], help="scope, e.g. RESOURCE/x")
    sp.add_argument("--token-auth", choices=["client_secret_basic", "client_secret_post"])

    sp = sub.add_parser("msal-code-flow", parents=[common, browser, client, user, tokens],
                        help="MSAL initiate_auth_code_flow / acquire_token_by_auth_code_flow through Chromium")
    sp.add_argument("--redirect-uri", required=True, help="http://localhost:PORT/callback (served by this script)")
    sp.add_argument("--scope", action="append", default=[], help="scope (repeatable); MSAL adds the OIDC ones")
    sp.add_argument("--response-mode", choices=["query", "form_post"])
    sp.add_argument("--prompt")
    sp.add_argument("--login-hint")
    msal_arguments(sp)

    sub.add_parser("self-test", help="offline checks of the JWT tamper helpers and PKCE (no server)")
    return p


COMMANDS = {
    "discovery": cmd_discovery,
    "msal-ropc": cmd_msal_ropc,
    "code-flow": cmd_code_flow,
    "client-credentials": cmd_client_credentials,
    "msal-code-flow": cmd_msal_code_flow,
    "self-test": cmd_self_test,
}
BROWSER_COMMANDS = ("code-flow", "msal-code-flow")


def emit(obj):
    print(json.dumps(obj, indent=1, sort_keys=True, default=str))


def main(argv):
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        emit({"error": f"usage: {exc}", "step": "usage"})
        return 2
    if hasattr(args, "timeout"):
        args.timeout = max(1.0, min(float(args.timeout), 20.0))
    ctx = Ctx(args)
    if args.command != "self-test":
        needed = [args.ca]
        if args.command in BROWSER_COMMANDS:
            needed += [args.chromium, args.chromedriver, args.certutil]
        for path in needed:
            if not os.path.exists(path):
                emit({"error": f"missing: {path}", "step": "setup"})
                return 2
    code = 0
    try:
        COMMANDS[args.command](ctx)
        out = ctx.result
        out["failures"] = ctx.failures
        if ctx.failures:
            code = 1
            out = {"error": f"{len(ctx.failures)} check(s) failed: " + "; ".join(ctx.failures)[:2000],
                   "step": "checks", "failures": ctx.failures, "partial": ctx.result}
        else:
            out["ok"] = True
    except UsageError as exc:
        out, code = {"error": f"usage: {exc}", "step": "usage"}, 2
    except Exception as exc:  # noqa: BLE001 - everything is reported as JSON
        step = getattr(exc, "step", None) or ctx.step
        msg = ctx.scrub(f"{exc}" if isinstance(exc, StepFailed) or type(exc).__name__ == "StepFailed"
                        else f"{type(exc).__name__}: {exc}")
        if ctx.run is not None and ctx.run.driver is not None:
            ctx.run.step = step
            out = ctx.run.failure(msg)  # url, title, page_text, page_source, partial (browser info)
            browser_info = out.pop("partial", {})
            out["partial"] = dict(ctx.result, browser=browser_info)
        else:
            out = {"error": msg, "step": step, "partial": ctx.result}
        out["step"] = step
        out["failures"] = ctx.failures
        code = 2 if step in ("trust", "start-browser", "callback-server") else 1
    finally:
        if ctx.run is not None:
            if ctx.result is not None and "browser" not in ctx.result:
                ctx.result["browser"] = ctx.run.result
            ctx.run.close()
    emit(out)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
