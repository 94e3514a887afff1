#!/usr/bin/env python3
"""The driver of scripts/kill-campaign.sh: SIGKILLs `feedwright run` at random moments and at the publish moment,
against the slow growing site of scripts/kill_site.py, and checks what each kill left behind.

Each iteration adds articles to the site, starts `feedwright run` and kills it in one of four ways:
  random   after a random delay (some runs finish first; they count as completed, not as kills);
  tmp      as soon as the K-th temporary file (`.NAME.PID.tmp`) appears in the output folder (inotify), K random;
  renamed  as soon as the first feed file is renamed into place (the other feeds not yet written);
  early    within the first 60 ms (start-up, config, lock, state migration).
After each one: `PRAGMA integrity_check` of the state is "ok", every feed file present parses (xml.etree for Atom,
RSS and OPML, json for JSON Feed) and has no fewer items than it ever had, and the temporary files left are
counted. A temporary file left by a kill is counted again after the next run that completes: a run is expected to
remove the stale temporary files of its own names. After the loop one unkilled run must publish every article of the
site exactly once in each feed.

Standard library only (inotify through ctypes, so Linux only). Prints a summary and exits non-zero when any check
failed.
"""

import argparse
import ctypes
import json
import os
import random
import re
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET

IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
TEMP = re.compile(r"^\..+\.\d+\.tmp$")
ATOM = "{http://www.w3.org/2005/Atom}"
FORMATS = ("atom", "rss", "json")
SOURCE = "kill"


class Inotify:
    """Creations and renames in one folder, read without blocking."""

    def __init__(self, folder):
        self.libc = ctypes.CDLL("libc.so.6", use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if self.libc.inotify_add_watch(self.fd, os.fsencode(folder), IN_CREATE | IN_MOVED_TO) < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch")

    def events(self, timeout):
        """(mask, name) pairs that arrive within `timeout` seconds (all that are queued, if any are)."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return []
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        out, at = [], 0
        while at + 16 <= len(data):
            _, mask, _, length = struct.unpack_from("iIII", data, at)
            name = data[at + 16 : at + 16 + length].rstrip(b"\0").decode(errors="replace")
            out.append((mask, name))
            at += 16 + length
        return out

    def drain(self):
        while self.events(0):
            pass


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def write_config(work, site, concurrency):
    with open(os.path.join(work, "feedwright.toml"), "w") as f:
        f.write(
            f"""[settings]
output_dir = "feeds"
state = "state/feedwright.sqlite"
concurrency = {concurrency}
formats = ["atom", "rss", "json"]
max_items = 1000
lock_timeout = "30s"

[[source]]
id = "{SOURCE}"
title = "Kill campaign"
url = "{site}/news/index.htm"
timezone = "Asia/Shanghai"
max_items = 1000

[source.listing]
item = "div.list li"
links = "h4 > a"
date = "span.date"

[source.article]
title = "h1"
date = "div.info span.time"
content = "#Content"
"""
        )


def feed_ids(path):
    """The item ids of one feed file; raises when it does not parse."""
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            return [item["id"] for item in json.load(f)["items"]]
    root = ET.parse(path).getroot()
    if path.endswith(".atom"):
        return [e.findtext(f"{ATOM}id") for e in root.findall(f"{ATOM}entry")]
    if path.endswith(".rss"):
        return [i.findtext("guid") for i in root.findall("channel/item")]
    return []  # OPML: parsing is the check


def integrity(state):
    if not os.path.exists(state):
        return "ok"
    conn = sqlite3.connect(state, timeout=10)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def temp_files(feeds):
    try:
        return sorted(n for n in os.listdir(feeds) if TEMP.match(n))
    except FileNotFoundError:
        return []


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True)
    parser.add_argument("--site", required=True, help="base URL of scripts/kill_site.py")
    parser.add_argument("--work", required=True, help="an empty folder for config, state and feeds")
    parser.add_argument("--kills", type=int, default=120, help="stop after this many kills")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--mean-latency", type=float, default=0.175, help="the site's mean seconds per request")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    work = args.work
    feeds, state = os.path.join(work, "feeds"), os.path.join(work, "state", "feedwright.sqlite")
    os.makedirs(feeds, exist_ok=True)
    write_config(work, args.site, args.concurrency)
    watch = Inotify(feeds)
    command = [args.bin, "--quiet", "--config", os.path.join(work, "feedwright.toml"), "run"]

    counts = dict.fromkeys(
        [
            "iterations",
            "kills",
            "kills_random",
            "kills_early",
            "kills_at_publish",
            "kills_at_publish_tmp",
            "kills_at_publish_renamed",
            "completed_runs",
            "failed_runs",
            "integrity_failures",
            "parse_failures",
            "shrinks",
            "kills_leaving_temp_files",
            "temp_files_left_after_kill",
            "temp_files_left_after_next_completed_run",
        ],
        0,
    )
    most = {}  # feed file name -> most items it ever had
    seen = set()  # every temporary file a kill left, so that none is counted twice
    stale = set()  # those left since the last completed run
    problems = []
    last_completed = -1

    while counts["kills"] < args.kills:
        i = counts["iterations"]
        counts["iterations"] += 1
        get(f"{args.site}/_grow?n={rng.choice([1, 1, 2, 3])}")
        mode = rng.choices(["random", "tmp", "renamed", "early"], weights=[5, 3, 1, 1])[0]
        nth_tmp = rng.randint(1, 4)  # three feeds and the OPML file may each get a temporary file
        watch.drain()
        started = time.monotonic()
        child = subprocess.Popen(command, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # A run re-reads every listed article (the site sends no validators), so it lasts about
        # (articles + listing) x mean latency / concurrency; random kills fall anywhere in 1.25 times that, and
        # the runs they miss complete.
        articles = get(f"{args.site}/_articles")["articles"]
        typical = 0.3 + (articles + 1) * args.mean_latency / args.concurrency
        deadline = started + {"random": rng.uniform(0, typical * 1.25), "early": rng.uniform(0, 0.06)}.get(mode, 120)
        killed, seen_tmp = False, 0
        while child.poll() is None:
            now = time.monotonic()
            if now >= deadline:
                child.send_signal(signal.SIGKILL)
                killed = True
                break
            trigger = False
            for mask, name in watch.events(min(0.005, deadline - now) if mode in ("random", "early") else 0.02):
                if mode == "tmp" and mask & IN_CREATE and TEMP.match(name):
                    seen_tmp += 1
                    trigger = trigger or seen_tmp >= nth_tmp
                if mode == "renamed" and mask & IN_MOVED_TO and not TEMP.match(name):
                    trigger = True
            if trigger and child.poll() is None:
                child.send_signal(signal.SIGKILL)
                killed = True
                break
        _, stderr = child.communicate()
        # A kill sent just as the process exited on its own is not a kill.
        killed = killed and child.returncode == -signal.SIGKILL
        if killed:
            counts["kills"] += 1
            counts[
                {"random": "kills_random", "early": "kills_early", "tmp": "kills_at_publish_tmp"}.get(
                    mode, "kills_at_publish_renamed"
                )
            ] += 1
            if mode in ("tmp", "renamed"):
                counts["kills_at_publish"] += 1
        elif child.returncode == 0:
            counts["completed_runs"] += 1
            last_completed = i
        else:
            counts["failed_runs"] += 1
            problems.append(f"iteration {i}: run exited {child.returncode}: {stderr.decode(errors='replace')[-500:]}")

        check = integrity(state)
        if check != "ok":
            counts["integrity_failures"] += 1
            problems.append(f"iteration {i} ({mode}): integrity_check says {check!r}")
        for name in sorted(os.listdir(feeds)):
            if TEMP.match(name) or name.startswith("."):
                continue
            try:
                ids = feed_ids(os.path.join(feeds, name))
            except Exception as e:  # noqa: BLE001 - any failure to read the file is what is counted
                counts["parse_failures"] += 1
                problems.append(f"iteration {i} ({mode}): {name} does not parse: {e}")
                continue
            if len(ids) < most.get(name, 0):
                counts["shrinks"] += 1
                problems.append(f"iteration {i} ({mode}): {name} has {len(ids)} items, had {most[name]}")
            most[name] = max(most.get(name, 0), len(ids))
        left = temp_files(feeds)
        if killed:
            new = set(left) - seen
            if new:
                counts["kills_leaving_temp_files"] += 1
                counts["temp_files_left_after_kill"] += len(new)
                seen |= new
                stale |= new
        elif child.returncode == 0:
            survivors = stale & set(left)
            counts["temp_files_left_after_next_completed_run"] += len(survivors)
            if survivors:
                problems.append(f"iteration {i}: a completed run left stale {sorted(survivors)}")
            # Each is counted at the first completed run after the kill that left it, not again later.
            stale.clear()

    # The final run, not killed: it finishes the work, and every article is in every feed exactly once.
    final = subprocess.run(command, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    articles = get(f"{args.site}/_articles")["articles"]
    expected = {f"{args.site}/2015-12/16/c_{47000 + n}.htm" for n in range(articles)}
    duplicates = missing = 0
    if final.returncode != 0:
        problems.append(f"final run exited {final.returncode}: {final.stderr.decode(errors='replace')[-500:]}")
    for fmt in FORMATS:
        path = os.path.join(feeds, f"{SOURCE}.{fmt}")
        try:
            ids = feed_ids(path)
        except Exception as e:  # noqa: BLE001
            counts["parse_failures"] += 1
            problems.append(f"final {fmt}: {e}")
            continue
        duplicates += len(ids) - len(set(ids))
        missing += len(expected - set(ids))
        if set(ids) - expected:
            problems.append(f"final {fmt}: ids not on the site: {sorted(set(ids) - expected)[:3]}")
    left_at_end = temp_files(feeds)
    counts["temp_files_left_after_next_completed_run"] += len(stale & set(left_at_end))
    final_check = integrity(state)
    if final_check != "ok":
        counts["integrity_failures"] += 1

    print(f"site articles at the end: {articles}; iterations: {counts['iterations']} (last completed: {last_completed})")
    print(f"most items a feed had before the final run: {max(most.values(), default=0)}")
    for key, value in counts.items():
        print(f"{key}: {value}")
    print(f"final_run_exit: {final.returncode}")
    print(f"final_duplicates: {duplicates}")
    print(f"final_missing: {missing}")
    print(f"temp_files_at_end: {len(left_at_end)}")
    for p in problems[:20]:
        print("problem:", p, file=sys.stderr)
    if len(problems) > 20:
        print(f"problem: ... and {len(problems) - 20} more", file=sys.stderr)
    ok = (
        counts["integrity_failures"] == counts["parse_failures"] == counts["shrinks"] == counts["failed_runs"] == 0
        and final.returncode == 0
        and duplicates == missing == 0
    )
    # Stale temporary files are reported, not failed on, until the cleanup of them is on main.
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
