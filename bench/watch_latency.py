#!/usr/bin/env python3
"""watch_latency.py: host change -> watcher event latency, for bench/run-watch.sh.

Runs a watcher command (tests/launch/watch_probe or tests/launch/watch_node.js,
on the host or in a guest through `launch`), makes changes in DIR on the host
and times each from just before the change to the arrival of the watcher's line
for it on the watcher's stdout (so a guest's figure includes the way back to
the host: it is an upper bound of what a watcher in the guest sees).

  watch_latency.py --dir DIR --label NAME --out FILE [--burst N]... [--steady RATE:SECONDS]
                   [--saves N] -- WATCHER-COMMAND...

Workloads: single (20 creates, 300 ms apart), burst N (N creates at once, in a
fresh directory), steady RATE:SECONDS (creates at RATE per second), saves N
(editor saves of one file: temp file renamed over it; the watcher must be
watch_node.js rerun).  Appends "LABEL WORKLOAD n p50 p90 p99 max lost
overflow" lines to FILE (milliseconds) and prints them.
"""
import argparse
import os
import re
import subprocess
import sys
import threading
import time


class Watcher:
    def __init__(self, cmd):
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                  bufsize=0)
        self.lines = []          # (time, text)
        self.cv = threading.Condition()
        self.t = threading.Thread(target=self.read, daemon=True)
        self.t.start()

    def read(self):
        buf = b''
        while True:
            chunk = self.p.stdout.read(65536)
            now = time.time()
            if not chunk:
                break
            buf += chunk
            *done, buf = buf.split(b'\n')
            with self.cv:
                for d in done:
                    self.lines.append((now, d.decode(errors='replace')))
                self.cv.notify_all()

    def wait_for(self, pred, timeout):
        end = time.time() + timeout
        with self.cv:
            while True:
                for t, line in self.lines:
                    if pred(line):
                        return t
                left = end - time.time()
                if left <= 0:
                    return None
                self.cv.wait(left)

    def mark(self):
        with self.cv:
            return len(self.lines)

    def since(self, i):
        with self.cv:
            return list(self.lines[i:])


def pct(values, p):
    if not values:
        return float('nan')
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(len(v) * p)) - 1))]


def report(out, label, workload, lat, n, overflow):
    ms = [x * 1000 for x in lat]
    line = '%s %s %d %.1f %.1f %.1f %.1f %d %s' % (
        label, workload, n, pct(ms, 0.5), pct(ms, 0.9), pct(ms, 0.99),
        max(ms) if ms else float('nan'), n - len(ms), 'yes' if overflow else 'no')
    print(line, flush=True)
    with open(out, 'a') as f:
        f.write(line + '\n')


def creates(w, d, names, pace, settle):
    """Create names in d (pace seconds apart), then wait for their events."""
    start = w.mark()
    t0 = {}
    for name in names:
        t0[name] = time.time()
        with open(os.path.join(d, name), 'w'):
            pass
        if pace:
            time.sleep(pace)
    want = {os.path.join(d, n) for n in names}
    got = {}
    overflow = False
    end = time.time() + settle
    while time.time() < end and len(got) < len(want) and not overflow:
        for t, line in w.since(start):
            f = line.split(' ')
            if len(f) >= 2 and f[0] in want and f[1].startswith('CREATE'):
                got.setdefault(f[0], t)
            if 'Q_OVERFLOW' in line:
                overflow = True
        time.sleep(0.05)
    lat = [got[os.path.join(d, n)] - t0[n] for n in names if os.path.join(d, n) in got]
    return lat, overflow


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dir', required=True)
    ap.add_argument('--label', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--burst', type=int, action='append', default=[])
    ap.add_argument('--steady', action='append', default=[])
    ap.add_argument('--saves', type=int, default=0)
    ap.add_argument('--single', type=int, default=20)
    ap.add_argument('cmd', nargs='+')
    a = ap.parse_args()

    w = Watcher(a.cmd)
    if w.wait_for(lambda l: l == 'READY', 600) is None:
        sys.exit('watch_latency.py: the watcher never said READY')
    try:
        if a.saves:
            target = os.path.join(a.dir, 'target.txt')
            lat = []
            for i in range(a.saves):
                text = 'save%d' % i
                tmp = os.path.join(a.dir, '.target.txt.tmp')
                start = w.mark()
                t0 = time.time()
                with open(tmp, 'w') as f:
                    f.write(text + '\n')
                os.rename(tmp, target)
                t = w.wait_for(lambda l, x=text: re.match(r'^RUN \d+ %s$' % x, l) is not None, 10)
                if t is not None:
                    lat.append(t - t0)
                time.sleep(0.3)
                del start
            report(a.out, a.label, 'save-rerun', lat, a.saves, False)
            return
        if a.single:
            d = os.path.join(a.dir, 'single')
            os.mkdir(d)
            time.sleep(1)
            lat, ov = creates(w, d, ['s%d' % i for i in range(a.single)], 0.3, 30)
            report(a.out, a.label, 'single', lat, a.single, ov)
        for n in a.burst:
            d = os.path.join(a.dir, 'burst%d' % n)
            os.mkdir(d)
            time.sleep(1)
            lat, ov = creates(w, d, ['b%d' % i for i in range(n)], 0, 120)
            report(a.out, a.label, 'burst-%d' % n, lat, n, ov)
        for s in a.steady:
            rate, secs = (float(x) for x in s.split(':'))
            n = int(rate * secs)
            d = os.path.join(a.dir, 'steady%d' % int(rate))
            os.mkdir(d)
            time.sleep(1)
            lat, ov = creates(w, d, ['t%d' % i for i in range(n)], 1 / rate, 30)
            report(a.out, a.label, 'steady-%d/s' % int(rate), lat, n, ov)
    finally:
        open(os.path.join(a.dir, 'watch-probe.stop'), 'w').close()
        try:
            w.p.wait(30)
        except subprocess.TimeoutExpired:
            w.p.kill()


if __name__ == '__main__':
    main()
