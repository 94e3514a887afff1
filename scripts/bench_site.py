#!/usr/bin/env python3
"""A generated news site on 127.0.0.1 for scripts/bench-fetch.sh: one listing of N articles, N article pages and a
robots.txt, each answered after a fixed latency (default 30 ms), by a thread per connection.

It counts the requests it serves. GET /_stats answers {"requests": n, "max_in_flight": m} and GET /_reset sets both
to zero; these two answer at once and are not counted. The chosen port is written to --port-file. Standard library
only; it stops on SIGTERM or after --lifetime seconds, whichever comes first.
"""

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PARAGRAPH = (
    "The second World Internet Conference opened in Wuzhen, Zhejiang province, on Wednesday, bringing together "
    "more than 2,000 officials, executives and scholars from over 120 countries and regions. "
)


def listing(n):
    items = "\n".join(
        f'<li><h4><a href="/2015-12/16/c_{47000 + i}.htm">Conference story number {i}</a></h4>'
        f'<span class="date">2015-12-16</span></li>'
        for i in range(n)
    )
    return (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>News</title></head><body>"
        "<div class=\"nav\"><a href=\"/\">Home</a></div>"
        f"<div class=\"list\"><ul>\n{items}\n</ul></div></body></html>"
    )


def article(i):
    body = "".join(f"<p>{PARAGRAPH}({j})</p>" for j in range(12))
    return (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
        f"<title>Story {i}</title></head><body><div class=\"art\"><h1>Conference story number {i}</h1>"
        f"<div class=\"info\"><span class=\"time\">2015-12-16 {10 + i % 10}:{i % 60:02d}</span></div>"
        f"<div id=\"Content\">{body}</div></div></body></html>"
    )


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0


def handler(stats, articles, latency):
    pages = {"/news/index.htm": listing(articles).encode()}
    for i in range(articles):
        pages[f"/2015-12/16/c_{47000 + i}.htm"] = article(i).encode()
    pages["/robots.txt"] = b"User-agent: *\nAllow: /\n"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, the client's delayed ACK would add ~40 ms to
        # every response, which no real server does.
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def reply(self, status, body, content_type="text/html"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/_stats":
                with stats.lock:
                    data = {"requests": stats.requests, "max_in_flight": stats.max_in_flight}
                return self.reply(200, json.dumps(data).encode(), "application/json")
            if self.path == "/_reset":
                with stats.lock:
                    stats.requests = 0
                    stats.max_in_flight = 0
                return self.reply(200, b"{}", "application/json")
            with stats.lock:
                stats.requests += 1
                stats.in_flight += 1
                stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
            try:
                time.sleep(latency)
                body = pages.get(self.path)
                if body is None:
                    self.reply(404, b"Not Found", "text/plain")
                elif self.path == "/robots.txt":
                    self.reply(200, body, "text/plain")
                else:
                    self.reply(200, body)
            finally:
                with stats.lock:
                    stats.in_flight -= 1

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--host", default="127.0.0.1", help="the loopback address to listen on (127.0.0.x)")
    parser.add_argument("--lifetime", type=float, default=600.0, help="seconds before the server stops by itself")
    args = parser.parse_args()
    stats = Stats()
    server = ThreadingHTTPServer((args.host, 0), handler(stats, args.articles, args.latency_ms / 1000))
    server.daemon_threads = True
    with open(args.port_file, "w") as f:
        f.write(str(server.server_address[1]))
    threading.Timer(args.lifetime, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
