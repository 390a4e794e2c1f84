#!/usr/bin/env python3
"""selftest.py - checks the bench's own pieces without any server:

    python3 bench/selftest.py

- bench.Raw, the lean client of the returning-session rows, against a
  fake server on 127.0.0.1 that sends its answers in 1- to 7-byte pieces:
  a literal holding a line that looks like the tagged answer is skipped,
  FETCH answers are counted (also when the scanned data is dropped on the
  way), NO is an error, untagged data is kept when asked;
- genmbox.py: same seed, same bytes (both styles, mbox and maildir);
  every message of an mbox starts with its own "From " line and body
  lines beginning "From " are escaped.

Every socket wait is bounded; exits 1 on the first failure.
"""

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench        # noqa: E402


def fake_server(script):
    """listen on 127.0.0.1; for each command line received, send the
    answer script(tag, command) in small random pieces"""
    ls = socket.socket()
    ls.bind(('127.0.0.1', 0))
    ls.listen(1)
    ls.settimeout(10)
    port = ls.getsockname()[1]

    def serve():
        c, _ = ls.accept()
        c.settimeout(10)
        rng = random.Random(7)

        def send(data):
            i = 0
            while i < len(data):
                n = rng.randint(1, 7)
                c.sendall(data[i:i + n])
                i += n
        send(b'* OK fake ready\r\n')
        buf = b''
        for _ in range(100):
            while b'\r\n' not in buf:
                d = c.recv(4096)
                if not d:
                    c.close()
                    ls.close()
                    return
                buf += d
            line, buf = buf.split(b'\r\n', 1)
            tag, cmd = line.split(b' ', 1)
            send(script(tag, cmd))
            if cmd == b'LOGOUT':
                break
        c.close()
        ls.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return port, t


def check(what, cond):
    if not cond:
        print('FAIL:', what)
        sys.exit(1)
    print('ok:', what)


def test_raw():
    n = 3000

    def script(tag, cmd):
        if cmd.startswith(b'LOGIN'):
            return tag + b' OK logged in\r\n'
        if cmd.startswith(b'FETCH'):
            out = []
            for i in range(1, n + 1):
                if i % 100 == 0:
                    # a literal whose data looks like the end of the answer
                    lit = b'x\r\n' + tag + b' OK not yet\r\n{5}\r\n'
                    out.append(b'* %d FETCH (ENVELOPE ({%d}\r\n%s NIL))\r\n' % (i, len(lit), lit))
                else:
                    out.append(b'* %d FETCH (FLAGS (\\Seen) ENVELOPE ("d" "s{1}"))\r\n' % i)
            return b''.join(out) + tag + b' OK done\r\n'
        if cmd.startswith(b'SEARCH'):
            return b'* SEARCH 2 4 6\r\n' + tag + b' OK done\r\n'
        if cmd.startswith(b'STORE'):
            return tag + b' NO [CANNOT] refused\r\n'
        if cmd == b'LOGOUT':
            return b'* BYE\r\n' + tag + b' OK bye\r\n'
        return tag + b' BAD what\r\n'
    port, t = fake_server(script)
    bench.TIMEOUT = 20
    c = bench.Raw(port)
    c.login()
    status, data, fetches = c.command('FETCH 1:* (ENVELOPE)')
    check('tagged OK found after the literals', status == 'R2 OK done')
    check('one FETCH counted per answer (%d)' % fetches, fetches == n)
    data, _ = c.ok('SEARCH SUBJECT x', keep=True)
    check('untagged data kept', data.strip() == b'* SEARCH 2 4 6')
    try:
        c.ok('STORE 1:* +FLAGS (\\Flagged)')
        check('NO raises', False)
    except RuntimeError:
        check('NO raises', True)
    c.logout()
    t.join(10)
    check('fake server done', not t.is_alive())

    # the scanned data is dropped every 4 MiB: FETCH lines are still counted once
    big = 60000

    def script2(tag, cmd):
        if cmd.startswith(b'FETCH'):
            pad = b'y' * 80
            return b''.join(b'* %d FETCH (BODY[] "%s")\r\n' % (i, pad)
                            for i in range(1, big + 1)) + tag + b' OK done\r\n'
        if cmd == b'LOGOUT':
            return tag + b' OK bye\r\n'
        return tag + b' OK\r\n'
    port, t = fake_server(script2)
    c = bench.Raw(port)
    _, fetches = c.ok('FETCH 1:* (BODY[])')
    check('%d FETCH answers over 4 MiB counted (%d)' % (big, fetches), fetches == big)
    c.logout()
    t.join(10)


def gen(args, out):
    subprocess.run([sys.executable, os.path.join(HERE, 'genmbox.py')] + args + [out], check=True)


def tree_bytes(path):
    if os.path.isfile(path):
        with open(path, 'rb') as f:
            return f.read()
    parts = []
    for name in sorted(os.listdir(os.path.join(path, 'cur'))):
        with open(os.path.join(path, 'cur', name), 'rb') as f:
            parts.append(name.encode() + b'\0' + f.read())
    return b'\0\0'.join(parts)


def test_genmbox():
    d = tempfile.mkdtemp(prefix='ccbench-selftest-')
    try:
        for style in ('classic', 'small'):
            for fmt in ('mbox', 'maildir'):
                a = os.path.join(d, '%s-%s-a' % (style, fmt))
                b = os.path.join(d, '%s-%s-b' % (style, fmt))
                args = ['--count', '300', '--seed', '42', '--style', style, '--format', fmt]
                gen(args, a)
                gen(args, b)
                check('%s %s: same seed, same bytes' % (style, fmt), tree_bytes(a) == tree_bytes(b))
                c = os.path.join(d, '%s-%s-c' % (style, fmt))
                gen(['--count', '300', '--seed', '43', '--style', style, '--format', fmt], c)
                check('%s %s: another seed, other bytes' % (style, fmt), tree_bytes(a) != tree_bytes(c))
                if fmt == 'mbox':
                    with open(a, 'rb') as f:
                        data = f.read()
                    froms = data.count(b'\nFrom sender@') + data.startswith(b'From sender@')
                    bare = sum(1 for line in data.split(b'\n')
                               if line.startswith(b'From ') and not line.startswith(b'From sender@'))
                    check('%s mbox: 300 messages (%d), no unescaped body From (%d)'
                          % (style, froms, bare), froms == 300 and bare == 0)
                    check('%s mbox: escaped From lines present' % style, b'\n>From ' in data)
                else:
                    check('%s maildir: 300 files' % style, len(os.listdir(os.path.join(a, 'cur'))) == 300)
    finally:
        shutil.rmtree(d)


if __name__ == '__main__':
    test_raw()
    test_genmbox()
    print('selftest passed')
