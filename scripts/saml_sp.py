#!/usr/bin/env python3
"""A minimal, real SAML 2.0 service provider (pysaml2) for altgate's browser sign-in tests.

Run it with the venv made by scripts/setup-python-clients.sh:

    /var/tmp/altgate-pyenv/bin/python scripts/saml_sp.py --port 8301 --name "SP one" \
        --idp-metadata /tmp/FederationMetadata.xml [--entity-id http://localhost:8301/metadata]

Plain HTTP on http://localhost:PORT (listens on 127.0.0.1 unless --bind says otherwise).

  GET  /login     build an AuthnRequest with pysaml2 (AssertionConsumerServiceURL = this SP's ACS,
                  ProtocolBinding HTTP-POST) and 302 to the IdP's SingleSignOnService with the
                  HTTP-Redirect binding and RelayState "/after-login" (?relay_state=X overrides it).
                  The request is unsigned unless --sign-requests (then it is signed the
                  HTTP-Redirect way: SigAlg + Signature query parameters, RSA-SHA256, with a key
                  pair generated at start and published in /metadata).
  POST /acs       parse SAMLResponse with pysaml2's parse_authn_request_response(..., HTTP-POST):
                  signatures (against the certificates in the IdP metadata), audience, recipient,
                  destination, InResponseTo (outstanding request IDs kept in memory), NotBefore /
                  NotOnOrAfter (--accepted-time-diff seconds of skew). On top of pysaml2, which
                  lets some of these pass silently, this SP also insists (unless --lax) that
                  Destination is present and equal to the ACS URL, that the Issuer of the Response
                  (when present) and of the Assertion is the IdP's entityID, and that pysaml2
                  actually produced an assertion and a NameID.
                  200: <h1 id="signed-in">Signed in to NAME as NAMEID</h1>
                       <pre id="attributes">{attribute Name: [values]}</pre>
                       <p id="relay-state">RELAYSTATE</p>  (+ a few more ids, see below)
                  403: <h1 id="error">...</h1> <pre id="error-detail">exception text</pre>
  GET  /metadata  this SP's metadata (pysaml2-generated; no validUntil, so it is the same on every
                  start; with --sign-requests it carries the signing certificate).
  GET  /health    200 "ok" (readiness).
  GET  /last-request   the last AuthnRequest XML this SP sent (404 before the first).
  GET  /last-response  the last SAMLResponse XML this SP received (404 before the first).

To register the SP with the IdP before the IdP runs (altgate needs the SP's metadata in its
configuration, the SP needs altgate's metadata to serve), write the metadata first:

    saml_sp.py --port 8301 --write-metadata sp1.xml [--sign-requests --key-dir DIR]

then start altgate with it, download altgate's metadata and serve with the same --port (and
--entity-id, --key-dir). SIGTERM stops the server cleanly. Logs to stderr.
"""

import argparse
import base64
import datetime
import html
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.s_utils import decode_base64_and_inflate
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT, NAMEID_FORMAT_UNSPECIFIED
from saml2.metadata import create_metadata_string
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

LOG = logging.getLogger("saml_sp")

NAME_ID_FORMATS = {
    "persistent": NAMEID_FORMAT_PERSISTENT,
    "transient": NAMEID_FORMAT_TRANSIENT,
    "unspecified": NAMEID_FORMAT_UNSPECIFIED,
    "none": None,
}


def make_key_pair(directory, common_name):
    """RSA key and self-signed certificate for signing AuthnRequests: DIR/sp.key and DIR/sp.crt,
    reused when both exist, else generated."""
    key_file = os.path.join(directory, "sp.key")
    cert_file = os.path.join(directory, "sp.crt")
    if os.path.exists(key_file) and os.path.exists(cert_file):
        return key_file, cert_file
    os.makedirs(directory, exist_ok=True)
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    with open(os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


class SP:
    def __init__(self, args):
        self.args = args
        self.base = f"http://{args.host}:{args.port}"
        self.acs_url = f"{self.base}/acs"
        self.entity_id = args.entity_id or f"{self.base}/metadata"
        self.name = args.name
        self.lock = threading.Lock()
        self.outstanding = {}  # AuthnRequest ID -> RelayState it was sent with
        self.last_request = None
        self.last_response = None
        self.tmpdir = None

        sp = {
            "name": self.name,
            "endpoints": {"assertion_consumer_service": [(self.acs_url, BINDING_HTTP_POST)]},
            "allow_unsolicited": False,
            "authn_requests_signed": args.sign_requests,
            "want_assertions_signed": args.want_assertions_signed,
            "want_response_signed": args.want_response_signed,
            # Either signature is enough unless one of the two flags above demands a specific one.
            "want_assertions_or_response_signed": True,
            "name_id_format_allow_create": True,
        }
        policy = NAME_ID_FORMATS[args.name_id_policy]
        if policy:
            sp["name_id_policy_format"] = policy
            sp["name_id_format"] = [policy]
        if args.idp_entity_id:
            sp["idp"] = [args.idp_entity_id]
        conf = {
            "entityid": self.entity_id,
            "description": self.name,
            "service": {"sp": sp},
            "accepted_time_diff": args.accepted_time_diff,
            "allow_unknown_attributes": True,
            "xmlsec_binary": args.xmlsec_binary,
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "delete_tmpfiles": True,
        }
        if args.sign_requests:
            key_dir = args.key_dir
            if not key_dir:
                key_dir = self.tmpdir = tempfile.mkdtemp(prefix="saml_sp_")
            conf["key_file"], conf["cert_file"] = make_key_pair(key_dir, self.entity_id[:64])
        config = SPConfig()
        config.load(conf)
        self.metadata_xml = create_metadata_string(None, config=config, sign=False)
        if isinstance(self.metadata_xml, bytes):
            self.metadata_xml = self.metadata_xml.decode("utf-8")
        if args.write_metadata:  # only the SP's own metadata is wanted: no IdP needed
            return
        conf["metadata"] = {"local": [args.idp_metadata]}
        config = SPConfig()
        config.load(conf)
        self.config = config
        self.client = Saml2Client(config=config)

        idps = list(self.client.metadata.with_descriptor("idpsso").keys())
        if args.idp_entity_id:
            if args.idp_entity_id not in idps:
                raise SystemExit(f"saml_sp: IdP {args.idp_entity_id!r} not in metadata (found {idps})")
            self.idp = args.idp_entity_id
        elif len(idps) == 1:
            self.idp = idps[0]
        else:
            raise SystemExit(f"saml_sp: need exactly one IdP in the metadata or --idp-entity-id (found {idps})")
        LOG.info("IdP %s, SSO redirect endpoint %s", self.idp,
                 self.client.metadata.single_sign_on_service(self.idp, BINDING_HTTP_REDIRECT))

    def cleanup(self):
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    # --- SP-initiated sign-in -------------------------------------------------------------
    def login(self, relay_state):
        reqid, info = self.client.prepare_for_authenticate(
            entityid=self.idp,
            relay_state=relay_state,
            binding=BINDING_HTTP_REDIRECT,
            response_binding=BINDING_HTTP_POST,
            sign=self.args.sign_requests,
            # pysaml2 would sign the HTTP-Redirect query with RSA-SHA1 unless told otherwise.
            sigalg=SIG_RSA_SHA256 if self.args.sign_requests else None,
            digest_alg=DIGEST_SHA256 if self.args.sign_requests else None,
        )
        location = dict(info["headers"])["Location"]
        query = parse_qs(urlsplit(location).query)
        xml = decode_base64_and_inflate(query["SAMLRequest"][0])
        if isinstance(xml, bytes):
            xml = xml.decode("utf-8")
        with self.lock:
            self.outstanding[reqid] = relay_state
            self.last_request = xml
        LOG.info("AuthnRequest %s -> %s", reqid, location.split("?", 1)[0])
        LOG.info("AuthnRequest XML: %s", xml)
        return location

    # --- Assertion consumer ---------------------------------------------------------------
    def acs(self, saml_response, relay_state, remote_addr):
        try:
            xml = base64.b64decode(saml_response).decode("utf-8", "replace")
        except Exception:  # pysaml2 reports the real error below
            xml = None
        with self.lock:
            self.last_response = xml
            outstanding = dict(self.outstanding)
        LOG.info("SAMLResponse XML: %s", xml)
        conv_info = {"remote_addr": remote_addr, "request_uri": self.acs_url, "entity_id": self.entity_id}
        resp = self.client.parse_authn_request_response(
            saml_response, BINDING_HTTP_POST, outstanding=outstanding, conv_info=conv_info
        )
        if resp is None:
            raise ValueError("pysaml2 returned no response (not a SAML Response, or undecodable)")
        # pysaml2 returns a Response object without an assertion (rather than raising) when the
        # Destination is wrong, IssueInstant is more than a day off or InResponseTo differs.
        if resp.assertion is None:
            raise ValueError(
                "pysaml2 did not accept an assertion from this Response (wrong Destination "
                f"{resp.response.destination!r}? expected {self.acs_url!r}; or IssueInstant "
                f"{resp.response.issue_instant!r} out of range)"
            )
        if resp.name_id is None:
            raise ValueError("no NameID in the assertion's Subject")
        issuer = resp.response.issuer.text.strip() if resp.response.issuer is not None else None
        a_issuer = resp.assertion.issuer.text.strip() if resp.assertion.issuer is not None else None
        if not self.args.lax:
            if resp.response.destination != self.acs_url:
                raise ValueError(f"Response Destination {resp.response.destination!r} != ACS URL {self.acs_url!r}")
            if issuer is not None and issuer != self.idp:
                raise ValueError(f"Response Issuer {issuer!r} != IdP entityID {self.idp!r}")
            if a_issuer != self.idp:
                raise ValueError(f"Assertion Issuer {a_issuer!r} != IdP entityID {self.idp!r}")
            for sc in resp.assertion.subject.subject_confirmation:
                if sc.subject_confirmation_data.recipient != self.acs_url:
                    raise ValueError(
                        f"SubjectConfirmationData Recipient {sc.subject_confirmation_data.recipient!r} "
                        f"!= ACS URL {self.acs_url!r}"
                    )
        with self.lock:
            # One response per request: a replay of the same Response is unsolicited.
            self.outstanding.pop(resp.in_response_to, None)

        attributes = {}
        for statement in resp.assertion.attribute_statement:
            for attr in statement.attribute:
                attributes.setdefault(attr.name, []).extend(
                    (v.text or "").strip() for v in attr.attribute_value
                )
        authn = resp.assertion.authn_statement[0] if resp.assertion.authn_statement else None
        info = {
            "name_id": resp.name_id.text,
            "name_id_format": resp.name_id.format,
            "issuer": issuer,
            "assertion_issuer": a_issuer,
            "in_response_to": resp.in_response_to,
            "destination": resp.response.destination,
            "response_signed": resp.response.signature is not None,
            "assertion_signed": resp.assertion.signature is not None,
            "session_index": authn.session_index if authn else None,
            "authn_context": (
                authn.authn_context.authn_context_class_ref.text
                if authn and authn.authn_context and authn.authn_context.authn_context_class_ref
                else None
            ),
            "attributes": attributes,
            "ava": resp.ava,
            "relay_state": relay_state,
        }
        LOG.info("signed in: %s", json.dumps(info))
        return info


def page(title, body, status=200):
    doc = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title></head><body>\n{body}\n</body></html>\n"
    )
    return status, "text/html; charset=utf-8", doc


def make_handler(sp):
    class Handler(BaseHTTPRequestHandler):
        server_version = "altgate-test-sp/1"

        def log_message(self, fmt, *a):
            LOG.info("%s %s", self.address_string(), fmt % a)

        def send(self, status, ctype, body, headers=()):
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urlsplit(self.path)
            q = parse_qs(url.query)
            try:
                if url.path == "/health":
                    return self.send(200, "text/plain; charset=utf-8", "ok\n")
                if url.path == "/metadata":
                    return self.send(200, "application/samlmetadata+xml", sp.metadata_xml)
                if url.path == "/login":
                    location = sp.login(q.get("relay_state", ["/after-login"])[0])
                    self.send_response(302)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.send_header("Cache-Control", "no-store")
                    self.end_headers()
                    return
                if url.path in ("/last-request", "/last-response"):
                    doc = sp.last_request if url.path == "/last-request" else sp.last_response
                    if doc is None:
                        return self.send(404, "text/plain; charset=utf-8", "none yet\n")
                    return self.send(200, "application/xml; charset=utf-8", doc)
                if url.path == "/":
                    return self.send(*page(sp.name, f'<h1>{html.escape(sp.name)}</h1><a id="login" href="/login">Sign in</a>'))
                return self.send(*page("Not found", '<h1 id="error">Not found</h1>', 404))
            except Exception as exc:
                LOG.error("GET %s failed: %s", self.path, traceback.format_exc())
                return self.send(*page("Error", f'<h1 id="error">{html.escape(type(exc).__name__)}</h1>'
                                                f'<pre id="error-detail">{html.escape(str(exc))}</pre>', 500))

        def do_POST(self):
            url = urlsplit(self.path)
            if url.path != "/acs":
                return self.send(*page("Not found", '<h1 id="error">Not found</h1>', 404))
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"), keep_blank_values=True)
            saml_response = form.get("SAMLResponse", [""])[0]
            relay_state = form.get("RelayState", [""])[0]
            if not saml_response:
                return self.send(*page("Rejected", '<h1 id="error">SAML response rejected: no SAMLResponse</h1>', 403))
            try:
                info = sp.acs(saml_response, relay_state, self.client_address[0])
            except Exception as exc:
                LOG.error("ACS rejected the response: %s", traceback.format_exc())
                detail = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
                body = (
                    f'<h1 id="error">SAML response rejected: {html.escape(type(exc).__name__)}: '
                    f"{html.escape(str(exc)[:500])}</h1>\n"
                    f'<pre id="error-detail">{html.escape(detail)}</pre>\n'
                    f'<p id="relay-state">{html.escape(relay_state)}</p>'
                )
                return self.send(*page("Rejected", body, 403))
            body = (
                f'<h1 id="signed-in">Signed in to {html.escape(sp.name)} as {html.escape(info["name_id"] or "")}</h1>\n'
                f'<pre id="attributes">{html.escape(json.dumps(info["attributes"], indent=1, sort_keys=True))}</pre>\n'
                f'<p id="relay-state">{html.escape(relay_state)}</p>\n'
                f'<pre id="session">{html.escape(json.dumps(info, indent=1, sort_keys=True, default=str))}</pre>'
            )
            return self.send(*page(f"Signed in to {sp.name}", body))

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--idp-metadata", help="IdP metadata file (altgate's FederationMetadata.xml); required to serve")
    p.add_argument("--write-metadata", metavar="FILE",
                   help="write this SP's metadata to FILE and exit (no --idp-metadata needed); with "
                        "--sign-requests pass the same --key-dir here and when serving")
    p.add_argument("--key-dir", help="with --sign-requests: where sp.key/sp.crt are kept (created if missing, "
                                     "reused otherwise); default a temporary directory")
    p.add_argument("--entity-id", help="SP entityID (default http://HOST:PORT/metadata)")
    p.add_argument("--name", default="SAML SP", help="shown in pages")
    p.add_argument("--host", default="localhost", help="host name in this SP's URLs (default localhost)")
    p.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--idp-entity-id", help="which IdP of the metadata to use (default: the only one)")
    p.add_argument("--sign-requests", action="store_true", help="sign AuthnRequests (HTTP-Redirect signature)")
    p.add_argument("--want-response-signed", action="store_true", help="require a signature on the Response")
    p.add_argument("--no-want-assertions-signed", dest="want_assertions_signed", action="store_false",
                   help="do not require a signature on the Assertion (a signed Response is then enough)")
    p.add_argument("--name-id-policy", choices=sorted(NAME_ID_FORMATS), default="persistent",
                   help="NameIDPolicy Format in the AuthnRequest (default persistent; none = no NameIDPolicy)")
    p.add_argument("--accepted-time-diff", type=int, default=60, help="clock skew allowed, seconds (default 60)")
    p.add_argument("--lax", action="store_true", help="only pysaml2's own checks, not this SP's stricter ones")
    p.add_argument("--xmlsec-binary", default="/usr/bin/xmlsec1")
    p.add_argument("--verbose", action="store_true", help="pysaml2 debug logging")
    args = p.parse_args()
    if not args.write_metadata and not args.idp_metadata:
        p.error("--idp-metadata is required (unless --write-metadata)")

    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.INFO,
        format=f"%(asctime)s saml_sp[{args.name}] %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("saml2").setLevel(logging.WARNING)
    sp = SP(args)
    if args.write_metadata:
        with open(args.write_metadata, "w", encoding="utf-8") as f:
            f.write(sp.metadata_xml)
        LOG.info("wrote metadata of %s to %s", sp.entity_id, args.write_metadata)
        sp.cleanup()
        return

    def stop(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    server = ThreadingHTTPServer((args.bind, args.port), make_handler(sp))
    server.daemon_threads = True
    LOG.info("listening on %s:%d as %s (entityID %s, ACS %s)", args.bind, args.port, sp.base, sp.entity_id, sp.acs_url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        LOG.info("stopping")
    finally:
        server.server_close()
        sp.cleanup()


if __name__ == "__main__":
    main()
