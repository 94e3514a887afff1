#!/usr/bin/env python3
"""A generated news site on 127.0.0.1 for scripts/bench-fetch.sh: one listing of N articles, N article pages and a
robots.txt, each answered after a fixed latency (default 30 ms), by a thread per connection.

With --hosts H (for scripts/bench-scale), it is instead --sources S sites of N articles each, spread over H hosts:
the loopback addresses 127.1.0.1, 127.1.0.2, ... (any 127.x.y.z reaches this machine on Linux), all on one port,
source k on host k % H under the path /s<k>/ (listing /s<k>/news/index.htm); with --first-host A the hosts are
instead the consecutive addresses A, A + 1, ... (127.0.0.2 to 127.0.0.101 for 100 hosts, scripts/bench-workers).
That mode runs on one asyncio loop, so thousands of connections cost no threads, and answers If-None-Match with 304
(the ETag is a digest of the body).

It counts the requests it serves. GET /_stats answers {"requests": n, "max_in_flight": m} and GET /_reset sets both
to zero; these two answer at once and are not counted. The chosen port is written to --port-file. Standard library
only; it stops on SIGTERM or after --lifetime seconds, whichever comes first.
"""

import argparse
import asyncio
import hashlib
import ipaddress
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PARAGRAPH = (
    "The second World Internet Conference opened in Wuzhen, Zhejiang province, on Wednesday, bringing together "
    "more than 2,000 officials, executives and scholars from over 120 countries and regions. "
)


def listing(n, prefix=""):
    items = "\n".join(
        f'<li><h4><a href="{prefix}/2015-12/16/c_{47000 + i}.htm">Conference story number {i}</a></h4>'
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


def host_address(h, first=None):
    """The loopback address of host number h (0-based): 127.1.0.1, ..., 127.1.0.250, 127.1.1.1, ...; or, given the
    first address, the h-th one after it."""
    if first is not None:
        return str(ipaddress.IPv4Address(first) + h)
    return f"127.1.{h // 250}.{h % 250 + 1}"


def many_pages(host, hosts, sources, articles):
    """Path -> body of every page on host number `host`."""
    pages = {"/robots.txt": b"User-agent: *\nAllow: /\n"}
    for k in range(host, sources, hosts):
        prefix = f"/s{k}"
        pages[f"{prefix}/news/index.htm"] = listing(articles, prefix).encode()
        for i in range(articles):
            pages[f"{prefix}/2015-12/16/c_{47000 + i}.htm"] = article(i).encode()
    return pages


async def serve_many(args, stats):
    latency = args.latency_ms / 1000

    def etag(body):
        return '"' + hashlib.sha1(body).hexdigest()[:16] + '"'

    def handler(pages):
        tags = {path: etag(body) for path, body in pages.items()}

        async def handle(reader, writer):
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    lines = head.decode("latin-1").split("\r\n")
                    path = lines[0].split(" ")[1]
                    headers = {}
                    for line in lines[1:]:
                        if ":" in line:
                            name, value = line.split(":", 1)
                            headers[name.strip().lower()] = value.strip()
                    if path in ("/_stats", "/_reset"):
                        if path == "/_reset":
                            stats.requests = stats.max_in_flight = 0
                        body = json.dumps({"requests": stats.requests, "max_in_flight": stats.max_in_flight})
                        status, body, extra, kind = "200 OK", body.encode(), "", "application/json"
                    else:
                        stats.requests += 1
                        stats.in_flight += 1
                        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
                        try:
                            await asyncio.sleep(latency)
                        finally:
                            stats.in_flight -= 1
                        body = pages.get(path)
                        kind = "text/plain" if path == "/robots.txt" else "text/html; charset=utf-8"
                        if body is None:
                            status, body, extra, kind = "404 Not Found", b"Not Found", "", "text/plain"
                        elif headers.get("if-none-match") == tags[path]:
                            status, body, extra = "304 Not Modified", b"", f"ETag: {tags[path]}\r\n"
                        else:
                            status, extra = "200 OK", f"ETag: {tags[path]}\r\n"
                    writer.write(
                        (f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n{extra}\r\n").encode()
                        + body
                    )
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError, IndexError):
                pass
            finally:
                writer.close()

        return handle

    servers = []
    port = 0
    for h in range(args.hosts):
        pages = many_pages(h, args.hosts, args.sources, args.articles)
        server = await asyncio.start_server(handler(pages), host_address(h, args.first_host), port, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        servers.append(server)
    with open(args.port_file, "w") as f:
        f.write(str(port))
    await asyncio.sleep(args.lifetime)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=50)
    parser.add_argument("--hosts", type=int, help="serve --sources sites over this many loopback hosts")
    parser.add_argument("--sources", type=int, default=1)
    parser.add_argument("--first-host", help="with --hosts: the first of consecutive loopback addresses to listen on")
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--host", default="127.0.0.1", help="the loopback address to listen on (127.0.0.x)")
    parser.add_argument("--lifetime", type=float, default=600.0, help="seconds before the server stops by itself")
    args = parser.parse_args()
    stats = Stats()
    if args.hosts:
        asyncio.run(serve_many(args, stats))
        return
    server = ThreadingHTTPServer((args.host, 0), handler(stats, args.articles, args.latency_ms / 1000))
    server.daemon_threads = True
    with open(args.port_file, "w") as f:
        f.write(str(server.server_address[1]))
    threading.Timer(args.lifetime, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
