#!/usr/bin/env python3
"""Third-party WS-Trust client for altgate's interoperability tests, driven by Microsoft's MSAL.

Uses MSAL for Python's own code (the package `msal`, installed by scripts/setup-python-clients.sh
into ${ALTGATE_PYENV:-/var/tmp/altgate-pyenv}; run this file with that venv's python):

  1. msal.mex.send_request        fetch and parse the WS-MetadataExchange document and pick the
                                  usernamemixed endpoint exactly as MSAL's
                                  acquire_token_by_username_password does;
  2. msal.wstrust_request.send_request
                                  build and POST the RST (UsernameToken) to that endpoint and parse
                                  the RSTR with msal.wstrust_response.parse_response.

  wstrust_client.py --mex https://127.0.0.1:PORT/adfs/services/trust/mex --ca CA.pem \
      --username U --password P [--applies-to urn:federation:MicrosoftOnline] [--prefer 13|2005]

Prints exactly one JSON object on stdout.
Success (exit 0):
  {"mex": <dict msal.mex.send_request returned: {"address", "action"}>,
   "mex_endpoints": [<every usernamemixed endpoint MSAL's Mex parser found, in document order>],
   "endpoint": "...", "action": "...", "applies_to": "...",
   "token_type": "<TokenType text as MSAL extracted it>",
   "token": "<RequestedSecurityToken content exactly as MSAL extracted it>"}
Failure (exit 1):
  {"error": "<exception class>", "message": "...",
   "fault": {"reason": ..., "code": ...}   (only when MSAL's parse_error found a SOAP 1.2 fault),
   "http_status": N                        (status of the last HTTP response, when there was one)}

TLS is always verified against the CA bundle given with --ca (never disabled). Environment proxy /
CA settings are ignored (requests' trust_env is off) so that REQUESTS_CA_BUNDLE cannot override --ca.
The password is never printed: error text has it masked (raw and XML-escaped; if >= 4 chars).
"""

import argparse
import json
import os
import sys


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # report bad usage as JSON too, with exit 1
        raise _UsageError(message)


def _parse_args(argv):
    p = _Parser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mex", required=True, help="URL of the WS-MetadataExchange document (https)")
    p.add_argument("--ca", required=True, help="PEM CA bundle used to verify the server's TLS cert")
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--applies-to", default="urn:federation:MicrosoftOnline",
                   help="AppliesTo address (MSAL's cloud_audience_urn); default is MSAL's own")
    p.add_argument("--prefer", choices=["13", "2005"],
                   help="use the first WS-Trust 1.3 / 2005 usernamemixed endpoint in the mex "
                        "instead of the one MSAL picks (MSAL picks 1.3 when present)")
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds")
    return p.parse_args(argv)


def main(argv):
    password = None
    last = {}  # last HTTP response seen by the session (for fault details)

    def emit_error(exc):
        msg = str(exc)
        # Mask the password (raw and XML-escaped as MSAL sends it). Passwords shorter than 4
        # characters are not masked: that would mangle ordinary text (tests use long ones).
        if password and len(password) >= 4:
            escaped = (password.replace("&", "&amp;").replace('"', "&quot;").replace("'", "&apos;")
                       .replace("<", "&lt;").replace(">", "&gt;"))  # = msal's escape_xml
            for form in (password, escaped):
                msg = msg.replace(form, "***")
        out = {"error": type(exc).__name__, "message": msg}
        resp = last.get("resp")
        if resp is not None:
            out["http_status"] = resp.status_code
            if "fault" in last:
                out["fault"] = last["fault"]
        print(json.dumps(out))
        return 1

    try:
        args = _parse_args(argv)
        password = args.password
        if not os.path.isfile(args.ca):
            raise FileNotFoundError("CA bundle not found: %s" % args.ca)

        import requests
        import msal
        from msal import mex as msal_mex
        from msal import wstrust_request, wstrust_response

        session = requests.Session()
        session.verify = args.ca     # verify TLS against the test CA, never disabled
        session.trust_env = False    # no env proxies / REQUESTS_CA_BUNDLE overriding --ca

        def _record(resp, *a, **kw):
            last["resp"] = resp
            last.pop("fault", None)
        session.hooks["response"].append(_record)

        # (1) Discovery, exactly as MSAL's _acquire_token_by_username_password_federated does.
        chosen = msal_mex.send_request(args.mex, session, timeout=args.timeout)
        if chosen is None:
            raise LookupError("MSAL found no usernamemixed WS-Trust endpoint in the mex document")
        # The full list from MSAL's own Mex parser (same internals send_request uses), for --prefer.
        parser = msal_mex.Mex(last["resp"].text)
        endpoints = parser._get_endpoints(
            parser._get_bindings(), parser._get_username_password_policy_ids())

        endpoint = chosen
        if args.prefer:
            want = msal_mex.Mex.ACTION_13 if args.prefer == "13" else msal_mex.Mex.ACTION_2005
            matches = [e for e in endpoints if e["action"] == want]
            if not matches:
                raise LookupError("mex has no usernamemixed endpoint with action %s (found: %s)"
                                  % (want, endpoints))
            endpoint = matches[0]

        # (2) RST/RSTR with MSAL's own request builder and response parser.
        last.pop("resp", None)
        try:
            result = wstrust_request.send_request(
                args.username, args.password, args.applies_to,
                endpoint["address"], endpoint["action"], session, timeout=args.timeout)
        except RuntimeError:
            resp = last.get("resp")
            if resp is not None:
                try:
                    fault = wstrust_response.parse_error(resp.text)
                except Exception:  # not XML, or an incomplete fault: keep MSAL's own message
                    fault = None
                if fault:
                    last["fault"] = fault
            raise

        token = result["token"]
        if isinstance(token, bytes):
            token = token.decode("utf-8")
        print(json.dumps({
            "msal_version": msal.__version__,
            "mex": chosen,
            "mex_endpoints": endpoints,
            "endpoint": endpoint["address"],
            "action": endpoint["action"],
            "applies_to": args.applies_to,
            "http_status": last["resp"].status_code if last.get("resp") is not None else None,
            "token_type": result["type"],
            "token": token,
        }))
        return 0
    except Exception as exc:  # any failure: one JSON object, exit 1
        return emit_error(exc)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
