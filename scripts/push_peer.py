#!/usr/bin/env python3
"""A Web Push service on loopback, for the alert tests: it plays the browser's push service.

It makes the browser's side of a subscription (a P-256 key pair and a 16-byte auth secret)
and prints it as one JSON line on stdout: {"port", "p256dh", "auth"} (base64url). Every POST
to /push/<mode>/<name> is checked as a push service and a browser would check it:

- RFC 8292 VAPID: `Authorization: vapid t=<JWT>, k=<key>`; k must be the application server
  key the subscription was made with (--server-key), the JWT an ES256 JWT whose signature
  that key verifies, `aud` this service's origin, `exp` in the future and within 24 hours,
  `sub` a mailto: or https: contact;
- RFC 8030: `TTL` a whole number of seconds, `Urgency` one of the four levels;
- RFC 8291: `Content-Encoding: aes128gcm`, and the body decrypted with the subscription's
  private key and auth secret (http-ece, an independent implementation).

<mode> chooses the answer: `ok` 201; `gone` 410; `busy` 503 to the first request of that
name, then 201; `later` 429 with `Retry-After: 30` to the first request of that name, then
201. GET /report returns every request seen, in order, with what was decrypted
and every check that failed. `--selftest` instead decrypts RFC 8291's worked example
(Appendix A) and exits 0 only if it gives the RFC's plaintext.
"""

import argparse
import base64
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def public_bytes(key):
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def private_key(raw):
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


def check_vapid(header, server_key, origin, errors):
    """Appends to `errors` every way the Authorization header fails RFC 8292."""
    if not header.startswith("vapid "):
        errors.append("Authorization is not a vapid scheme: %r" % header[:40])
        return
    params = {}
    for part in header[len("vapid "):].split(","):
        k, _, v = part.strip().partition("=")
        params[k] = v
    if params.get("k") != server_key:
        errors.append("k= is not the subscription's server key")
    token = params.get("t", "")
    pieces = token.split(".")
    if len(pieces) != 3:
        errors.append("t= is not a JWT")
        return
    try:
        head = json.loads(b64d(pieces[0]))
        claims = json.loads(b64d(pieces[1]))
        sig = b64d(pieces[2])
    except ValueError as e:
        errors.append("JWT does not decode: %s" % e)
        return
    if head.get("alg") != "ES256":
        errors.append("JWT alg is %r, not ES256" % head.get("alg"))
    if len(sig) != 64:
        errors.append("ES256 signature is %d bytes, not 64" % len(sig))
        return
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64d(server_key))
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        key.verify(der, (pieces[0] + "." + pieces[1]).encode(), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError) as e:
        errors.append("JWT signature does not verify under the server key: %r" % e)
    if claims.get("aud") != origin:
        errors.append("aud %r is not %r" % (claims.get("aud"), origin))
    now = time.time()
    exp = claims.get("exp")
    if not isinstance(exp, int) or not now < exp <= now + 24 * 3600:
        errors.append("exp %r is not within the next 24 hours" % exp)
    sub = claims.get("sub", "")
    if not (sub.startswith("mailto:") or sub.startswith("https:") or sub.startswith("http:")):
        errors.append("sub %r is not a contact URI" % sub)


class Service:
    def __init__(self, server_key):
        self.server_key = server_key
        self.ua_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = __import__("os").urandom(16)
        self.seen = []
        self.busy_names = set()
        self.lock = threading.Lock()

    def handle(self, path, headers, body, origin):
        parts = path.strip("/").split("/")
        errors = []
        mode = parts[1] if len(parts) >= 3 and parts[0] == "push" else None
        if mode not in ("ok", "gone", "busy", "later"):
            return 404, {"path": path, "errors": ["unknown path"]}
        check_vapid(headers.get("Authorization", ""), self.server_key, origin, errors)
        if headers.get("Content-Encoding") != "aes128gcm":
            errors.append("Content-Encoding is %r" % headers.get("Content-Encoding"))
        ttl = headers.get("TTL", "")
        if not ttl.isdigit():
            errors.append("TTL %r is not a whole number of seconds" % ttl)
        urgency = headers.get("Urgency")
        if urgency not in ("very-low", "low", "normal", "high"):
            errors.append("Urgency %r" % urgency)
        plaintext = None
        try:
            plaintext = http_ece.decrypt(
                body, private_key=self.ua_key, auth_secret=self.auth, version="aes128gcm"
            ).decode("utf-8")
        except Exception as e:  # any failure to decrypt is what the test must see
            errors.append("decryption failed: %r" % e)
        with self.lock:
            if mode == "gone":
                status = 410
            elif mode in ("busy", "later") and parts[2] not in self.busy_names:
                self.busy_names.add(parts[2])
                status = 503 if mode == "busy" else 429
            else:
                status = 201
            record = {
                "path": path,
                "status": status,
                "errors": errors,
                "plaintext": plaintext,
                "urgency": urgency,
                "ttl": ttl,
            }
            self.seen.append(record)
        return status, record


def serve(service):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            origin = "http://%s" % self.headers.get("Host", "")
            status, record = service.handle(self.path, self.headers, body, origin)
            out = json.dumps(record).encode()
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "30")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def do_GET(self):
            if self.path != "/report":
                self.send_error(404)
                return
            with service.lock:
                out = json.dumps(service.seen).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(
        json.dumps(
            {
                "port": httpd.server_address[1],
                "p256dh": b64e(public_bytes(service.ua_key)),
                "auth": b64e(service.auth),
            }
        ),
        flush=True,
    )
    httpd.serve_forever()


def selftest():
    """RFC 8291 Appendix A through http-ece: proves this peer's decryption is the RFC's."""
    body = b64d(
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml"
        "mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT"
        "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
    )
    ua = private_key(b64d("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"))
    got = http_ece.decrypt(
        body, private_key=ua, auth_secret=b64d("BTBZMqHH6r4Tts7J_aSIgg"), version="aes128gcm"
    )
    want = b"When I grow up, I want to be a watermelon"
    print(json.dumps({"plaintext": got.decode()}))
    return 0 if got == want else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server-key", help="the application server (VAPID) public key, base64url")
    ap.add_argument("--selftest", action="store_true")
    args = ap.parse_args()
    if args.selftest:
        return selftest()
    if not args.server_key:
        ap.error("--server-key is needed")
    serve(Service(args.server_key))
    return 0


if __name__ == "__main__":
    sys.exit(main())
