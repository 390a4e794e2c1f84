#!/usr/bin/env python3
"""genmbox.py - deterministic mailbox corpus generator.

    genmbox.py --count 10000 --seed 1 [--avg-size 10000] [--format mbox|maildir] OUT

Same seed, same bytes. Messages are realistic in shape: plain text, some
multipart/alternative, some multipart/mixed with base64 attachments,
threads (In-Reply-To/References), 8-bit UTF-8 and RFC 2047 encoded
subjects, quoted-printable bodies, body lines beginning "From ".
"""

import argparse
import base64
import os
import random
import time

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
    s = ' '.join(rng.choice(WORDS) for _ in range(n))
    return s[0].upper() + s[1:] + '.'


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
        att = bytes(rng.getrandbits(8) for _ in range(min(size, 200000)))
        enc = base64.encodebytes(att).decode()
        body = ('--%s\nContent-Type: text/plain; charset=us-ascii\n\n%s--%s\nContent-Type: application/octet-stream; name="file%d.bin"\n'
                'Content-Disposition: attachment; filename="file%d.bin"\nContent-Transfer-Encoding: base64\n\n%s--%s--\n'
                % (b, text_body(rng, 300), b, i, i, enc, b))
    return '\n'.join(hdr) + '\n\n' + body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--count', type=int, default=100)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--avg-size', type=int, default=4000)
    ap.add_argument('--format', choices=('mbox', 'maildir'), default='mbox')
    ap.add_argument('out')
    a = ap.parse_args()
    rng = random.Random(a.seed)
    ts = 1577836800                   # 2020-01-01
    threads = []
    if a.format == 'maildir':
        for d in ('tmp', 'new', 'cur'):
            os.makedirs(os.path.join(a.out, d), exist_ok=True)
    with open(a.out if a.format == 'mbox' else os.devnull, 'wb') as f:
        for i in range(1, a.count + 1):
            ts += rng.randint(10, 20000)
            msg = message(rng, i, a.avg_size, ts, threads)
            data = msg.encode('utf-8')
            if a.format == 'mbox':
                f.write(time.strftime('From sender@example.org %a %b %d %H:%M:%S %Y\n',
                                      time.gmtime(ts)).encode())
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
