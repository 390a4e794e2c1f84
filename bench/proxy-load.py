#!/usr/bin/env python3
"""proxy-load.py - a load run through nginx's mail proxy (issue 18).

A measurement, not a test: it builds the same private network as
tests/test_proxy.py (network namespaces, nginx + mail-route on the proxy,
imapd/ipop3d on three backends; needs root), adds LOAD_USERS users spread
over the three backends, and runs SESSIONS concurrent IMAP sessions for
SECONDS seconds, each session in a loop of

    connect [TLS] - greeting - LOGIN - SELECT INBOX - APPEND (a unique
    marker) - UID FETCH 1:* (FLAGS) - LOGOUT

three times: straight to the backends (plain), through the proxy
without TLS (an extra nginx listener), and through the proxy with
implicit TLS (nginx ends TLS). Afterwards every APPEND that was answered
OK must be in its user's spool file on the user's backend and on no
other (nothing lost, nothing misrouted), and no session may have seen a
protocol error. Prints sessions per second and latency percentiles, and
with --write-doc replaces the figures section of docs/scaling.md.

    sudo bench/proxy-load.py [--sessions 300] [--seconds 60] [--write-doc]

Every wait is bounded (20 s per step, the run by SECONDS + 60 s).
"""

import argparse
import asyncio
import os
import platform
import re
import ssl
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests'))
import test_proxy as tp  # noqa: E402

STEP = 20.0
PLAIN_PROXY_PORT = 1143


class Stats:
    def __init__(self):
        self.latencies = []
        self.errors = []
        self.appended = {}       # user -> set of markers answered OK


async def expect(reader, tag):
    """Read to the tagged response; returns (untagged lines, tagged line)."""
    lines = []
    while True:
        line = await asyncio.wait_for(reader.readline(), STEP)
        if not line:
            raise ConnectionError('EOF waiting for %s' % tag)
        if line.startswith(tag + b' '):
            return lines, line
        lines.append(line)


async def session(host, port, tls_ctx, user, password, marker, stats):
    t0 = time.monotonic()
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=tls_ctx), STEP)
    try:
        greet = await asyncio.wait_for(reader.readline(), STEP)
        if not greet.startswith(b'* OK'):
            raise RuntimeError('greeting %r' % greet)
        writer.write(b'a1 LOGIN %s %s\r\n' % (user.encode(), password.encode()))
        _, t = await expect(reader, b'a1')
        if not t.startswith(b'a1 OK'):
            raise RuntimeError('LOGIN %r' % t)
        writer.write(b'a2 SELECT INBOX\r\n')
        _, t = await expect(reader, b'a2')
        if not t.startswith(b'a2 OK'):
            raise RuntimeError('SELECT %r' % t)
        msg = tp.sample_message(1, subject=marker)
        writer.write(b'a3 APPEND INBOX {%d+}\r\n' % len(msg) + msg + b'\r\n')
        _, t = await expect(reader, b'a3')
        if not t.startswith(b'a3 OK'):
            raise RuntimeError('APPEND %r' % t)
        stats.appended.setdefault(user, set()).add(marker)
        writer.write(b'a4 UID FETCH 1:* (FLAGS)\r\n')
        _, t = await expect(reader, b'a4')
        if not t.startswith(b'a4 OK'):
            raise RuntimeError('FETCH %r' % t)
        writer.write(b'a5 LOGOUT\r\n')
        _, t = await expect(reader, b'a5')
        if not t.startswith(b'a5 OK'):
            raise RuntimeError('LOGOUT %r' % t)
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), STEP)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            pass
    stats.latencies.append(time.monotonic() - t0)


async def worker(n, target, users, deadline, stats, label):
    i = 0
    while time.monotonic() < deadline:
        user = users[(n + i) % len(users)]
        host, port, ctx = target(user)
        marker = 'load-%s-%d-%d-%d' % (label, n, i, time.monotonic_ns())
        try:
            await session(host, port, ctx, user, tp.USERS[user][0], marker, stats)
        except Exception as e:   # counted, the run goes on
            stats.errors.append('%s: %s' % (user, e))
        i += 1


async def run(target, users, sessions, seconds, label):
    stats = Stats()
    t0 = time.monotonic()
    deadline = t0 + seconds
    tasks = [asyncio.ensure_future(worker(n, target, users, deadline, stats, label))
             for n in range(sessions)]
    await asyncio.wait_for(asyncio.gather(*tasks), seconds + 60)
    stats.elapsed = time.monotonic() - t0
    return stats


def verify(world, stats):
    """every APPEND answered OK is on the user's backend, and only there"""
    lost = misplaced = 0
    for user, markers in stats.appended.items():
        home = tp.USERS[user][1]
        for b in tp.BACKENDS:
            text = world.spool(b, user).decode(errors='replace')
            found = set(re.findall(r'load-[a-z-]+-\d+-\d+-\d+', text))
            if b == home:
                lost += len(markers - found)
            else:
                misplaced += len(markers & found)
    return lost, misplaced


def pct(values, p):
    if not values:
        return float('nan')
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--sessions', type=int, default=300)
    ap.add_argument('--seconds', type=int, default=60)
    ap.add_argument('--users', type=int, default=300)
    ap.add_argument('--write-doc', action='store_true')
    args = ap.parse_args()
    reason = tp.netns_usable()
    if reason:
        sys.exit('proxy-load: %s' % reason)
    names = []
    for i in range(args.users):
        name = 'load%03d' % i
        tp.USERS[name] = ('pw%03d' % i, 'b%d' % (i % 3 + 1), False)
        names.append(name)
    args.load_before = os.getloadavg()[0]
    world = tp.World(backend_settings={'plaintext-logins': 'yes'},
                     plain_proxy_port=PLAIN_PROXY_PORT)
    results = []
    try:
        tls = world.tls_context()
        modes = [
            ('direct to the backends, plain', 'direct',
             lambda u: (tp.BACKENDS[tp.USERS[u][1]], 143, None)),
            ('through nginx, plain', 'proxy',
             lambda u: (tp.PROXY_IP, PLAIN_PROXY_PORT, None)),
            ('through nginx, implicit TLS', 'proxytls',
             lambda u: (tp.PROXY_IP, 993, tls)),
        ]
        for title, label, target in modes:
            with tp.in_netns(world.ns('client')):
                stats = asyncio.run(run(target, names, args.sessions,
                                        args.seconds, label))
            lost, misplaced = verify(world, stats)
            n = len(stats.latencies)
            results.append((title, n, n / stats.elapsed, pct(stats.latencies, 50),
                            pct(stats.latencies, 95), pct(stats.latencies, 99),
                            len(stats.errors), lost, misplaced))
            print('%-32s %6d sessions %7.1f/s  p50 %6.1f ms  p95 %6.1f ms  '
                  'p99 %6.1f ms  errors %d  lost %d  misrouted %d'
                  % (title, n, n / stats.elapsed, 1000 * results[-1][3],
                     1000 * results[-1][4], 1000 * results[-1][5],
                     len(stats.errors), lost, misplaced), flush=True)
            for e in stats.errors[:5]:
                print('   error: %s' % e)
    finally:
        world.close()
    if args.write_doc:
        write_doc(results, args)
    bad = any(r[6] or r[7] or r[8] for r in results)
    sys.exit(1 if bad else 0)


def write_doc(results, args):
    path = os.path.join(HERE, '..', 'docs', 'scaling.md')
    with open(path) as f:
        text = f.read()
    load = os.getloadavg()
    lines = ['<!-- figures: written by bench/proxy-load.py --write-doc -->',
             '',
             '%d concurrent sessions for %d s over %d users on three backends; '
             'each session: connect, LOGIN, SELECT INBOX, APPEND, UID FETCH '
             '1:* (FLAGS), LOGOUT; the load generator, nginx, mail-route and '
             'the backends share one machine. Measured once, %s, on %s (%d CPUs; '
             'load average %.1f before the run, from other work on the machine, '
             'and %.1f at its end), so read the ratios between the rows, not '
             'the absolute numbers.'
             % (args.sessions, args.seconds, args.users,
                time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
                platform.platform(), os.cpu_count(), args.load_before, load[0]),
             '',
             '| path | sessions | sessions/s | p50 ms | p95 ms | p99 ms | errors | lost | misrouted |',
             '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for r in results:
        lines.append('| %s | %d | %.1f | %.1f | %.1f | %.1f | %d | %d | %d |'
                     % (r[0], r[1], r[2], 1000 * r[3], 1000 * r[4], 1000 * r[5],
                        r[6], r[7], r[8]))
    lines.append('<!-- end of figures -->')
    new = re.sub(r'<!-- figures:.*?<!-- end of figures -->', '\n'.join(lines),
                 text, flags=re.S)
    with open(path, 'w') as f:
        f.write(new)


if __name__ == '__main__':
    main()
