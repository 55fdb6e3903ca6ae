#!/usr/bin/env python3
"""HTTP Negotiate (Kerberos) client for altgate's integration tests, on MIT Kerberos through
python-gssapi and requests-gssapi: an independent client, as a Windows PC or browser would be.

  negotiate_client.py request METHOD URL [--data FILE] [--content-type CT] [--ua UA]
                      [--cacert FILE] [--source IP] [--header 'Name: value']...
      One request with HTTPSPNEGOAuth(mutual_authentication=REQUIRED): the 401 Negotiate dance
      is done by requests-gssapi, and the server's reply token is verified (mutual
      authentication). Prints JSON {status, headers, body, mutual}.
  negotiate_client.py plain METHOD URL [same options]
      The same request without Negotiate (the test sets Authorization itself, if at all).
  negotiate_client.py token SPN
      Prints the base64 initial token (SPNEGO) for service SPN (e.g. HTTP@sts.contoso.com) from
      the credential cache in KRB5CCNAME.

KRB5_CONFIG and KRB5CCNAME come from the environment (the test's private ones).
"""
import base64
import json
import sys

import gssapi


def token(spn):
    name = gssapi.Name(spn, gssapi.NameType.hostbased_service)
    spnego = gssapi.Mechanism.from_sasl_name("SPNEGO")
    ctx = gssapi.SecurityContext(name=name, usage="initiate", mech=spnego,
                                 flags=gssapi.RequirementFlag.mutual_authentication)
    print(base64.b64encode(ctx.step()).decode())


def request(args, negotiate=True):
    import requests
    from requests_gssapi import HTTPSPNEGOAuth, REQUIRED
    method, url = args[0], args[1]
    opts = {"--data": None, "--content-type": None, "--ua": None, "--cacert": True,
            "--source": None}
    headers = {}
    i = 2
    while i < len(args):
        if args[i] == "--header":
            k, v = args[i + 1].split(":", 1)
            headers[k.strip()] = v.strip()
        else:
            opts[args[i]] = args[i + 1]
        i += 2
    if opts["--ua"]:
        headers["User-Agent"] = opts["--ua"]
    if opts["--content-type"]:
        headers["Content-Type"] = opts["--content-type"]
    data = open(opts["--data"], "rb").read() if opts["--data"] else None
    auth = HTTPSPNEGOAuth(mutual_authentication=REQUIRED) if negotiate else None
    session = requests.Session()
    if opts["--source"]:
        # Connect from another loopback address (a trusted proxy's, in the tests).
        from requests.adapters import HTTPAdapter

        class Source(HTTPAdapter):
            def init_poolmanager(self, *a, **kw):
                kw["source_address"] = (opts["--source"], 0)
                super().init_poolmanager(*a, **kw)

        session.mount("https://", Source())
    mutual = "not_needed"
    try:
        r = session.request(method, url, data=data, headers=headers, auth=auth,
                             verify=opts["--cacert"], allow_redirects=False, timeout=30)
        if "www-authenticate" in {k.lower() for k in r.headers} and r.status_code == 200:
            mutual = "verified"
    except Exception as e:  # mutual authentication failed, or the exchange itself
        print(json.dumps({"status": 0, "error": f"{type(e).__name__}: {e}"}))
        return
    print(json.dumps({"status": r.status_code,
                      "headers": {k.lower(): v for k, v in r.headers.items()}, "body": r.text,
                      "mutual": mutual}))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "token":
        token(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "request":
        request(sys.argv[2:])
    elif len(sys.argv) >= 4 and sys.argv[1] == "plain":
        request(sys.argv[2:], negotiate=False)
    else:
        sys.exit(__doc__)
