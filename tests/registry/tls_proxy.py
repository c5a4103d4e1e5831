#!/usr/bin/env python3
"""A TLS-terminating, basic-auth-checking reverse proxy in front of the schema registry, as
registries are commonly deployed: the registry client's TLS (custom CA, client certificates)
and basic-auth settings are tested against it (tests/avro_tls.rs).

usage: tls_proxy.py UPSTREAM_URL CERT KEY USER:PASSWORD [CLIENT_CA]

Listens on 127.0.0.1 on a free port and prints `PORT <n>` once it listens. Requests without
the right `Authorization: Basic ...` get 401; with CLIENT_CA, a client without a certificate
signed by it cannot complete the handshake. Everything else is forwarded to UPSTREAM_URL's
host with the request's own path and query, and the answer relayed. Runs until stdin closes.
"""
import base64
import http.server
import ssl
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request


def main():
    upstream, cert, key, user_info = sys.argv[1:5]
    client_ca = sys.argv[5] if len(sys.argv) > 5 else None
    expected = "Basic " + base64.b64encode(user_info.encode()).decode()
    parts = urllib.parse.urlsplit(upstream)
    origin = f"{parts.scheme}://{parts.netloc}"

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def relay(self):
            if self.headers.get("Authorization") != expected:
                body = b'{"error_code":40101,"message":"Unauthorized"}'
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else None
            request = urllib.request.Request(origin + self.path, data=data, method=self.command)
            for name in ("Content-Type", "Accept"):
                if self.headers.get(name):
                    request.add_header(name, self.headers[name])
            try:
                with urllib.request.urlopen(request, timeout=30) as r:
                    status, headers, body = r.status, r.headers, r.read()
            except urllib.error.HTTPError as e:
                status, headers, body = e.code, e.headers, e.read()
            self.send_response(status)
            self.send_header("Content-Type", headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = relay

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    if client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
