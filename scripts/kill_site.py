#!/usr/bin/env python3
"""A slow, growing news site on 127.0.0.1 for scripts/kill-campaign.sh: the pages of scripts/bench_site.py (one
listing, N article pages, robots.txt), each answered after a random delay between --min-ms and --max-ms, so that a
`feedwright run` against it lasts long enough to be killed at any moment.

GET /_grow?n=K adds K articles (they appear at the end of the listing) and answers the new count as JSON;
GET /_articles answers {"articles": n}. These two answer at once. The chosen port is written to --port-file.
Standard library only; it stops on SIGTERM or after --lifetime seconds, whichever comes first.
"""

import argparse
import json
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_site import article, listing  # noqa: E402


class Site:
    def __init__(self, articles):
        self.lock = threading.Lock()
        self.articles = articles

    def page(self, path):
        with self.lock:
            n = self.articles
        if path == "/news/index.htm":
            return listing(n).encode(), "text/html; charset=utf-8"
        if path == "/robots.txt":
            return b"User-agent: *\nAllow: /\n", "text/plain"
        prefix, suffix = "/2015-12/16/c_", ".htm"
        if path.startswith(prefix) and path.endswith(suffix):
            number = path[len(prefix) : -len(suffix)]
            if number.isdigit() and 0 <= int(number) - 47000 < n:
                return article(int(number) - 47000).encode(), "text/html; charset=utf-8"
        return None, None


def handler(site, min_s, max_s):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def reply(self, status, body, content_type):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            try:
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client was killed mid-request: that is the point

        def do_GET(self):
            url = urlparse(self.path)
            if url.path == "/_grow":
                k = int(parse_qs(url.query).get("n", ["1"])[0])
                with site.lock:
                    site.articles += k
                    n = site.articles
                return self.reply(200, json.dumps({"articles": n}).encode(), "application/json")
            if url.path == "/_articles":
                with site.lock:
                    n = site.articles
                return self.reply(200, json.dumps({"articles": n}).encode(), "application/json")
            time.sleep(random.uniform(min_s, max_s))
            body, content_type = site.page(url.path)
            if body is None:
                self.reply(404, b"Not Found", "text/plain")
            else:
                self.reply(200, body, content_type)

    return Handler


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A client killed mid-request resets its connection: that is the point, not an error to print.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=5)
    parser.add_argument("--min-ms", type=float, default=50.0)
    parser.add_argument("--max-ms", type=float, default=300.0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--lifetime", type=float, default=3600.0, help="seconds before the server stops by itself")
    args = parser.parse_args()
    site = Site(args.articles)
    server = Server(("127.0.0.1", 0), handler(site, args.min_ms / 1000, args.max_ms / 1000))
    server.daemon_threads = True
    with open(args.port_file, "w") as f:
        f.write(str(server.server_address[1]))
    threading.Timer(args.lifetime, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
