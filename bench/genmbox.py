#!/usr/bin/env python3
"""genmbox.py - deterministic mailbox corpus generator.

    genmbox.py --count 10000 --seed 1 [--avg-size 10000] [--format mbox|maildir]
               [--style classic|small] OUT

Same seed (and Python version), same bytes. Output is written as it is
generated (memory stays bounded whatever --count is).

--style classic (the default; the corpus docs/performance.md's figures
were measured on): messages realistic in shape: plain text, some
multipart/alternative, some multipart/mixed with base64 attachments,
threads (In-Reply-To/References), 8-bit UTF-8 and RFC 2047 encoded
subjects, quoted-printable bodies, body lines beginning "From ".

--style small: ~1 KB messages (--avg-size defaults to 1000) for the
10k / 100k / 1M growth runs, built from pools of pre-generated lines,
subjects and addresses so that 1,000,000 messages (about 1 GB) take
seconds of CPU: plain text with some multipart/alternative, threads,
RFC 2047 and raw 8-bit subjects, body lines beginning "From ".
"""

import argparse
import base64
import os
import random
import time

# bumped whenever the bytes generated for a given set of options change,
# so that bench.py's corpus cache (BENCH_CORPUS_DIR) never reuses a stale one
VERSION = 2

WORDS = ('mail server mailbox imap message folder client thunderbird alpine '
         'pine mutt delivery spool lock index search thread sort flag seen '
         'answered draft quota report meeting budget release patch review '
         'question answer weekend coffee schedule deadline invoice').split()
NAMES = ['Alice Smith', 'Bob Jones', 'Carol White', 'Dave Brown', 'Eve Black',
         'Frank Green', 'Grace Hopper', 'Heidi Klum', 'Ivan Petrov', 'Judy Chen',
         'Jürgen Müller', 'Zoë Dupont', 'José García']
DOMAINS = ['example.org', 'example.com', 'uni.example.edu', 'mail.example.net']


def addr(rng):
    name = rng.choice(NAMES)
    local = name.split()[0].lower().encode('ascii', 'ignore').decode() or 'user'
    dom = rng.choice(DOMAINS)
    if any(ord(c) > 127 for c in name):
        enc = '=?UTF-8?B?%s?=' % base64.b64encode(name.encode()).decode()
        return '%s <%s@%s>' % (enc, local, dom)
    return '"%s" <%s@%s>' % (name, local, dom) if rng.random() < 0.3 else '%s <%s@%s>' % (name, local, dom)


def sentence(rng, n=None):
    n = n or rng.randint(5, 14)
    # rng.choice(WORDS) n times, inlined (same draws, same words: choice()
    # is _randbelow(len), i.e. getrandbits(len.bit_length()) until below
    # len); it was most of the generator's time
    getrandbits = rng.getrandbits
    nw = len(WORDS)
    k = nw.bit_length()
    picked = []
    for _ in range(n):
        r = getrandbits(k)
        while r >= nw:
            r = getrandbits(k)
        picked.append(WORDS[r])
    s = ' '.join(picked)
    return s[0].upper() + s[1:] + '.'


def random_bytes(rng, n):
    """bytes(rng.getrandbits(8) for _ in range(n)) at C speed: getrandbits(8)
    is the top byte of one 32-bit draw, and getrandbits(32 * n) lays its n
    draws out least significant first"""
    if n <= 0:
        return b''
    return rng.getrandbits(32 * n).to_bytes(4 * n, 'little')[3::4]


def text_body(rng, size):
    lines = []
    total = 0
    while total < size:
        line = sentence(rng)
        if rng.random() < 0.02:
            line = 'From ' + line          # must stay in the body
        lines.append(line)
        total += len(line) + 1
    return '\n'.join(lines) + '\n'


def message(rng, i, avg, ts, threads):
    size = max(200, int(rng.expovariate(1.0 / avg)))
    subj = sentence(rng, rng.randint(2, 6))[:-1]
    r = rng.random()
    if r < 0.05:
        subj = '=?UTF-8?Q?%s?=' % ''.join('=%02X' % b if b > 127 or b in b' =?_' else chr(b)
                                             for b in ('Grüße: ' + subj).encode())
    elif r < 0.08:
        subj = 'Café ' + subj               # raw 8-bit header
    msgid = '<%d.%d@%s>' % (i, rng.randint(1, 10 ** 9), rng.choice(DOMAINS))
    hdr = ['From: ' + addr(rng), 'To: ' + addr(rng)]
    if rng.random() < 0.3:
        hdr.append('Cc: %s, %s' % (addr(rng), addr(rng)))
    parent = None
    if threads and rng.random() < 0.35:
        parent = rng.choice(threads)
        subj = 'Re: ' + parent[1]
        hdr.append('In-Reply-To: ' + parent[0])
        hdr.append('References: ' + (parent[2] + ' ' if parent[2] else '') + parent[0])
    threads.append((msgid, subj if not subj.startswith('Re: ') else subj[4:],
                    (parent[2] + ' ' + parent[0]).strip() if parent else ''))
    if len(threads) > 200:
        del threads[:100]
    hdr += ['Subject: ' + subj,
            'Date: ' + time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(ts)),
            'Message-ID: ' + msgid, 'MIME-Version: 1.0']
    kind = rng.random()
    if kind < 0.6:
        if rng.random() < 0.1:
            hdr += ['Content-Type: text/plain; charset=UTF-8', 'Content-Transfer-Encoding: 8bit']
            body = 'Grüße aus Köln, ça va? ' + text_body(rng, size)
        else:
            hdr += ['Content-Type: text/plain; charset=us-ascii']
            body = text_body(rng, size)
    elif kind < 0.8:
        b = '=_alt_%d' % i
        hdr.append('Content-Type: multipart/alternative; boundary="%s"' % b)
        t = text_body(rng, size // 2)
        body = ('This is a multi-part message in MIME format.\n--%s\nContent-Type: text/plain; charset=us-ascii\n\n%s'
                '--%s\nContent-Type: text/html; charset=us-ascii\nContent-Transfer-Encoding: quoted-printable\n\n'
                '<html><body><p>%s</p></body></html>=\n\n--%s--\n' % (b, t, b, t[:200].replace('\n', ' '), b))
    else:
        b = '=_mix_%d' % i
        hdr.append('Content-Type: multipart/mixed; boundary="%s"' % b)
        att = random_bytes(rng, min(size, 200000))
        enc = base64.encodebytes(att).decode()
        body = ('--%s\nContent-Type: text/plain; charset=us-ascii\n\n%s--%s\nContent-Type: application/octet-stream; name="file%d.bin"\n'
                'Content-Disposition: attachment; filename="file%d.bin"\nContent-Transfer-Encoding: base64\n\n%s--%s--\n'
                % (b, text_body(rng, 300), b, i, i, enc, b))
    return '\n'.join(hdr) + '\n\n' + body


class SmallStyle:
    """~1 KB messages at a few microseconds each: every random piece of
    text is drawn once into a pool, and a message is a few getrandbits()
    picks from the pools"""

    def __init__(self, rng, avg):
        self.rng = rng
        self.lines = []
        for _ in range(4096):
            line = sentence(rng)
            if rng.random() < 0.01:
                line = 'From ' + line          # must stay in the body
            self.lines.append(line.encode())
        self.subjects = []
        for _ in range(8192):
            subj = sentence(rng, rng.randint(2, 6))[:-1]
            r = rng.random()
            if r < 0.05:
                subj = '=?UTF-8?Q?%s?=' % ''.join('=%02X' % b if b > 127 or b in b' =?_' else chr(b)
                                                     for b in ('Grüße: ' + subj).encode())
            elif r < 0.08:
                subj = 'Café ' + subj           # raw 8-bit header
            self.subjects.append(subj.encode())
        self.addrs = [addr(rng).encode() for _ in range(512)]
        self.domains = [d.encode() for d in DOMAINS]
        # what is left of --avg-size after the header (~300 bytes), in pool
        # lines (~70 bytes each); the number of lines is uniform in
        # 1..2*mean-1, so the mean comes out right
        self.mean_lines = max(1, (avg - 300) // 70)
        self.threads = []

    def message(self, i, ts):
        gb = self.rng.getrandbits
        r = gb(32)
        r2 = gb(32)
        subj = self.subjects[r & 8191]
        msgid = b'<%d.%d@%s>' % (i, gb(30), self.domains[(r >> 13) & 3])
        hdr = [b'From: ' + self.addrs[(r >> 15) & 511], b'To: ' + self.addrs[(r >> 24) & 255]]
        if (r2 & 255) < 26:
            hdr.append(b'Cc: ' + self.addrs[(r2 >> 8) & 511])
        refs = b''
        if self.threads and ((r2 >> 17) & 255) < 90:
            pid, psubj, prefs = self.threads[gb(8) % len(self.threads)]
            subj = b'Re: ' + psubj
            refs = (prefs + b' ' + pid) if prefs else pid
            hdr.append(b'In-Reply-To: ' + pid)
            hdr.append(b'References: ' + refs)
            # keep the chain short: a message stays ~1 KB
            refs = b' '.join(refs.split()[-3:])
        self.threads.append((msgid, subj[4:] if subj.startswith(b'Re: ') else subj, refs))
        if len(self.threads) > 256:
            del self.threads[:128]
        hdr += [b'Subject: ' + subj,
                b'Date: ' + time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(ts)).encode(),
                b'Message-ID: ' + msgid, b'MIME-Version: 1.0']
        lines = self.lines
        n = 1 + (r2 >> 25) % (2 * self.mean_lines - 1) if self.mean_lines > 1 else 1
        body = b'\n'.join([lines[gb(12)] for _ in range(n)]) + b'\n'
        if (gb(8)) < 26:
            b = b'=_alt_%d' % i
            hdr.append(b'Content-Type: multipart/alternative; boundary="%s"' % b)
            body = (b'--%s\nContent-Type: text/plain; charset=us-ascii\n\n%s'
                    b'--%s\nContent-Type: text/html; charset=us-ascii\n\n'
                    b'<html><body><p>%s</p></body></html>\n--%s--\n'
                    % (b, body, b, lines[gb(12)], b))
        else:
            hdr.append(b'Content-Type: text/plain; charset=us-ascii')
        return b'\n'.join(hdr) + b'\n\n' + body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--count', type=int, default=100)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--avg-size', type=int, default=None,
                    help='mean message size in bytes (default 4000, or 1000 for --style small)')
    ap.add_argument('--format', choices=('mbox', 'maildir'), default='mbox')
    ap.add_argument('--style', choices=('classic', 'small'), default='classic')
    ap.add_argument('out')
    a = ap.parse_args()
    if a.avg_size is None:
        a.avg_size = 1000 if a.style == 'small' else 4000
    rng = random.Random(a.seed)
    ts = 1577836800                   # 2020-01-01
    threads = []
    small = SmallStyle(rng, a.avg_size) if a.style == 'small' else None
    if a.format == 'maildir':
        for d in ('tmp', 'new', 'cur'):
            os.makedirs(os.path.join(a.out, d), exist_ok=True)
    with open(a.out if a.format == 'mbox' else os.devnull, 'wb', buffering=1 << 20) as f:
        for i in range(1, a.count + 1):
            ts += rng.randint(10, 20000)
            if small:
                data = small.message(i, ts)
            else:
                data = message(rng, i, a.avg_size, ts, threads).encode('utf-8')
            if a.format == 'mbox':
                f.write(time.strftime('From sender@example.org %a %b %d %H:%M:%S %Y\n',
                                      time.gmtime(ts)).encode())
                if small:
                    # the pools' "From " lines are never a message's first
                    # line (that is a header), so this is the same escape
                    f.write(data.replace(b'\nFrom ', b'\n>From '))
                else:
                    out = []
                    for line in data.split(b'\n'):
                        out.append(b'>' + line if line.startswith(b'From ') else line)
                    f.write(b'\n'.join(out))
                if not data.endswith(b'\n'):
                    f.write(b'\n')
                f.write(b'\n')
            else:
                name = '%d.M%dP1.genmbox,S=%d:2,%s' % (ts, i, len(data), 'S' if rng.random() < 0.7 else '')
                p = os.path.join(a.out, 'cur', name)
                with open(p, 'wb') as m:
                    m.write(data)
                os.utime(p, (ts, ts))


if __name__ == '__main__':
    main()
