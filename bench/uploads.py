#!/usr/bin/env python3
"""COUNT clients upload SIZE bytes each to POST /api/v1/verify at once
(issue 13 §2), streaming the body from a generator so the client holds no
whole file. Prints "ok busy other p50_ms p99_ms seconds".

    bench/uploads.py http://127.0.0.1:8080 80 20971520
"""
import http.client
import statistics
import sys
import threading
import time
import urllib.parse

url, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
target = urllib.parse.urlsplit(url)
boundary = "motcua-bench-boundary"
magic = b"%PDF-1.7\n"
head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"scan.pdf\"\r\n"
        "Content-Type: application/pdf\r\n\r\n").encode() + magic
tail = f"\r\n--{boundary}--\r\n".encode()
chunk = b"x" * 65536
body_length = len(head) + size - len(magic) + len(tail)
start_line = threading.Barrier(count)


def body():
    yield head
    left = size - len(magic)  # the file is SIZE bytes, its magic included
    while left > 0:
        piece = chunk[:min(left, len(chunk))]
        left -= len(piece)
        yield piece
    yield tail


statuses, times = [], []
lock = threading.Lock()


def upload():
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=600)
    start_line.wait()
    t = time.monotonic()
    try:
        conn.request("POST", "/api/v1/verify", body=body(), headers={
            "content-type": f"multipart/form-data; boundary={boundary}", "content-length": str(body_length)})
        status = conn.getresponse().status
    except OSError:
        status = 0  # refused mid-body: the server answered before reading it all
    with lock:
        statuses.append(status)
        times.append((time.monotonic() - t) * 1000)


t0 = time.monotonic()
threads = [threading.Thread(target=upload) for _ in range(count)]
for th in threads:
    th.start()
for th in threads:
    th.join()
times.sort()
ok, busy = statuses.count(200), statuses.count(503)
others = sorted(set(s for s in statuses if s not in (200, 503)))
if others:
    print("other statuses:", others, file=sys.stderr)
p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
print(ok, busy, len(statuses) - ok - busy, round(statistics.median(times)), round(p99), round(time.monotonic() - t0, 1))
