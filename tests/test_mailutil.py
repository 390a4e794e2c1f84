"""End-to-end tests of mailutil: every subcommand, round trips between
every pair of mailbox formats (bytes, flags, keywords, dates), and a
generator of corrupted mbx and mbox files that `repair --fix` must
recover (every intact message back, every other byte in a side file).

mailutil runs as the invoking user with HOME=<tempdir> and
CCLIENT_CONFIG=<tempdir>/c-client.cf (spool-directory inside the temp
dir). Binaries come from $CC_BIN (default build/bin); UW's files from
tests/data/uw.
"""

import os
import random
import re
import shutil
import subprocess
import tempfile
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
BIN = os.path.abspath(os.environ.get('CC_BIN', os.path.join(REPO, 'build', 'bin')))
UW_DATA = os.path.join(REPO, 'tests', 'data', 'uw')
MAILUTIL = os.path.join(BIN, 'mailutil')
# the build with the test hooks (CCLIENT_CRASH_POINT), as tests/lib/cctest.py
TEST_BIN = os.path.abspath(os.environ.get('CC_TEST_BIN',
                                          os.path.join(os.path.dirname(BIN), 'test-bin')))
TIMEOUT = float(os.environ.get('CC_TIMEOUT', '60'))

MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep',
          'Oct', 'Nov', 'Dec']
F_SEEN, F_DELETED, F_FLAGGED, F_ANSWERED, F_OLD, F_DRAFT = 1, 2, 4, 8, 0x10, 0x20
F_EXPUNGED = 0x8000
SYSF = {'\\Seen': F_SEEN, '\\Deleted': F_DELETED, '\\Flagged': F_FLAGGED,
        '\\Answered': F_ANSWERED, '\\Draft': F_DRAFT}


def slurp(path):
    with open(path, 'rb') as f:
        return f.read()


def imap_date(t, zone_min):
    """'dd-Mon-yyyy hh:mm:ss +zzzz', day space-padded (UW's mbx form)."""
    import datetime
    d = datetime.datetime.fromtimestamp(t + zone_min * 60, datetime.timezone.utc)
    sign = '+' if zone_min >= 0 else '-'
    z = abs(zone_min)
    return '%2d-%s-%04d %02d:%02d:%02d %s%02d%02d' % (
        d.day, MONTHS[d.month - 1], d.year, d.hour, d.minute, d.second,
        sign, z // 60, z % 60)


def parse_imap_date(s):
    import datetime
    m = re.match(r'^ ?(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$', s)
    assert m, s
    day, mon, year, hh, mm, ss, sign, zh, zm = m.groups()
    zone = (int(zh) * 60 + int(zm)) * (1 if sign == '+' else -1)
    d = datetime.datetime(int(year), MONTHS.index(mon) + 1, int(day),
                          int(hh), int(mm), int(ss), tzinfo=datetime.timezone.utc)
    return int(d.timestamp()) - zone * 60, zone


class Msg:
    def __init__(self, text, flags=(), keywords=(), t=1546300800, zone=0, uid=0):
        self.text = text
        self.flags = set(flags)
        self.keywords = set(keywords)
        self.t = t
        self.zone = zone
        self.uid = uid

    def __repr__(self):
        return 'Msg(%r, %r, %r, %r)' % (self.text[:30], self.flags, self.keywords, self.t)


def mbx_write(path, msgs, uidvalidity=1700000000, keywords=None):
    """An mbx file as UW writes it."""
    kws = list(keywords) if keywords is not None else sorted(
        {k for m in msgs for k in m.keywords})
    assert len(kws) <= 30
    h = b'*mbx*\r\n' + b'%08x%08x\r\n' % (uidvalidity, len(msgs))
    h += b''.join(k.encode() + b'\r\n' for k in kws) + b'\r\n' * (30 - len(kws))
    h += b'\0' * (2048 - 10 - len(h)) + b'%08x\r\n' % 0
    assert len(h) == 2048
    out = [h]
    for i, m in enumerate(msgs):
        uf = 0
        for k in m.keywords:
            uf |= 1 << kws.index(k)
        sf = F_OLD
        for f in m.flags:
            sf |= SYSF[f]
        out.append(b'%s,%d;%08x%04x-%08x\r\n' % (
            imap_date(m.t, m.zone).encode(), len(m.text), uf, sf, m.uid or i + 1))
        out.append(m.text)
    with open(path, 'wb') as f:
        f.write(b''.join(out))


def mbx_read(path):
    """(uidvalidity, lastuid, [Msg]) of an mbx file; strict."""
    data = slurp(path)
    assert data[:7] == b'*mbx*\r\n', data[:16]
    uv, last = int(data[7:15], 16), int(data[15:23], 16)
    kws = []
    p = 25
    for _ in range(30):
        e = data.index(b'\r\n', p)
        if e == p:
            break
        kws.append(data[p:e].decode())
        p = e + 2
    msgs = []
    pos = 2048
    while pos < len(data):
        e = data.index(b'\r\n', pos)
        line = data[pos:e].decode()
        m = re.match(r'^(.{26}),(\d+);([0-9a-f]{8})([0-9a-f]{4})-([0-9a-f]{8})$', line)
        assert m, 'bad internal header at %d: %r' % (pos, line)
        date, size, uf, sf, uid = m.groups()
        size, uf, sf, uid = int(size), int(uf, 16), int(sf, 16), int(uid, 16)
        text = data[e + 2:e + 2 + size]
        assert len(text) == size
        pos = e + 2 + size
        if sf & F_EXPUNGED:
            continue
        t, zone = parse_imap_date(date)
        flags = {n for n, b in SYSF.items() if sf & b}
        kw = {kws[i] for i in range(len(kws)) if uf >> i & 1}
        msgs.append(Msg(text, flags, kw, t, zone, uid))
    return uv, last, msgs


def sample_messages():
    """Messages with everything a copy must keep."""
    return [
        Msg(b'From: a@example.com\r\nSubject: one\r\n\r\nFirst body.\r\n',
            ['\\Seen'], ['Junk'], 1546300800, 60),
        Msg(b'From: b@example.com\r\nSubject: two\r\n\r\nFrom the desk of B\r\n'
            b'>From quoted\r\nlast\r\n',
            ['\\Flagged', '\\Answered'], ['$Label1', 'project-x'], 1546304400, -300),
        Msg(b'From: c@example.com\r\nSubject: three\r\n\r\nno newline at end',
            ['\\Draft'], [], 1584272096, 0),
        Msg(b'From: d@example.com\r\nSubject: four\r\nX-Lone-CR: a\rb\r\n\r\n8bit \xe9\xe8\r\n',
            [], ['NonJunk'], 1612195200, 0),
        Msg(b'From: e@example.com\r\nSubject: five\r\n\r\n' + b'long line ' * 500 + b'\r\n',
            ['\\Seen', '\\Deleted'], [], 1612195260, 0),
    ]


class MailutilCase(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(MAILUTIL):
            self.skipTest('mailutil not built (CC_BIN=%s)' % BIN)
        self.dir = tempfile.mkdtemp(prefix='cc-mailutil.')
        self.home = os.path.join(self.dir, 'home')
        self.spool = os.path.join(self.dir, 'spool')
        os.mkdir(self.home)
        os.mkdir(self.spool)
        self.cf = os.path.join(self.dir, 'c-client.cf')
        with open(self.cf, 'w') as f:
            f.write('spool-directory %s\nlock-directory %s\n' % (self.spool, self.dir))

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_mu(self, *args, rc=0):
        env = dict(os.environ)
        env['HOME'] = self.home
        env['CCLIENT_CONFIG'] = self.cf
        env.pop('CCLIENT_LOG_STDERR', None)
        p = subprocess.run([MAILUTIL] + list(args), env=env, capture_output=True,
                           timeout=TIMEOUT)
        if rc is not None:
            self.assertEqual(p.returncode, rc, 'mailutil %s: rc %d\nstdout: %s\nstderr: %s'
                             % (' '.join(args), p.returncode, p.stdout.decode(errors='replace'),
                                p.stderr.decode(errors='replace')))
        return p.stdout.decode(errors='replace') + p.stderr.decode(errors='replace')

    def h(self, *names):
        return os.path.join(self.home, *names)

    def check_counts(self, name, n):
        out = self.run_mu('check', name)
        if n == 0:
            self.assertIn('No messages', out)
        else:
            m = re.search(r'(\d+) new message\(s\) \((\d+) unseen\), (\d+) old', out)
            self.assertIsNotNone(m, out)
            self.assertEqual(int(m.group(1)) + int(m.group(3)), n, out)

    def same_messages(self, got, want, zones=True):
        self.assertEqual(len(got), len(want))
        for g, w in zip(got, want):
            # bare LF never appears in our samples; text is byte-exact
            self.assertEqual(g.text, w.text)
            self.assertEqual(g.flags, w.flags, w)
            self.assertEqual(g.keywords, w.keywords, w)
            self.assertEqual(g.t, w.t, w)
            if zones:
                self.assertEqual(g.zone, w.zone, w)


class TestSubcommands(MailutilCase):
    def test_usage_and_errors(self):
        self.run_mu(rc=2)
        self.run_mu('frobnicate', rc=2)
        self.run_mu('copy', 'onlyone', rc=2)
        self.run_mu('check', 'nonexistent', rc=1)
        self.run_mu('delete', 'nonexistent', rc=1)
        self.run_mu('-c', os.path.join(self.dir, 'missing.cf'), 'check', rc=1)

    def test_create_delete_rename_check(self):
        for fmt in ('mbox', 'mbx', 'maildir'):
            name = 'box-' + fmt
            self.run_mu('create', '#driver.%s/%s' % (fmt, name))
            self.assertTrue(os.path.exists(self.h(name)))
            self.run_mu('create', name, rc=1)           # exists
            self.check_counts(name, 0)
            self.run_mu('rename', name, 'dir/' + name + '-renamed')
            self.assertFalse(os.path.exists(self.h(name)))
            self.check_counts('dir/' + name + '-renamed', 0)
            self.run_mu('delete', 'dir/' + name + '-renamed')
            self.assertFalse(os.path.exists(self.h('dir', name + '-renamed')))
        # an mbx CREATE is UW's file apart from UIDVALIDITY
        self.run_mu('create', '#driver.mbx/empty')
        uw = slurp(os.path.join(UW_DATA, 'mbx/empty-created.mbx'))
        ours = slurp(self.h('empty'))
        self.assertEqual(len(ours), 2048)
        self.assertEqual(ours[:7], uw[:7])
        self.assertEqual(ours[15:], uw[15:])

    def test_check_inbox_default(self):
        with open(os.path.join(self.spool, os.environ.get('USER') or
                               __import__('pwd').getpwuid(os.getuid()).pw_name), 'wb') as f:
            f.write(b'From a@b Sun Mar 15 12:34:56 2020\nSubject: x\n\nbody\n')
        out = self.run_mu('check')
        self.assertIn('1 new message(s)', out)

    def test_copy_move_append_appenddelete(self):
        msgs = sample_messages()
        mbx_write(self.h('src'), msgs)
        self.run_mu('copy', 'src', '#driver.mbx/c1')
        self.run_mu('copy', 'src', 'c1', rc=1)          # copy creates: exists
        self.same_messages(mbx_read(self.h('c1'))[2], msgs)
        self.run_mu('append', 'src', 'c1')
        self.same_messages(mbx_read(self.h('c1'))[2], msgs + msgs)
        self.run_mu('append', 'src', 'nonexistent', rc=1)
        self.run_mu('move', 'c1', '#driver.mbx/m1')
        self.assertEqual(mbx_read(self.h('c1'))[2], [])
        self.same_messages(mbx_read(self.h('m1'))[2], msgs + msgs)
        self.run_mu('create', '#driver.mbx/a1')
        self.run_mu('appenddelete', 'm1', 'a1')
        self.assertEqual(mbx_read(self.h('m1'))[2], [])
        self.same_messages(mbx_read(self.h('a1'))[2], msgs + msgs)
        # -v says what it did
        out = self.run_mu('-v', 'copy', 'src', '#driver.maildir/v1')
        self.assertIn('5 message(s)', out)

    def test_prune(self):
        msgs = sample_messages()
        mbx_write(self.h('p'), msgs)
        out = self.run_mu('prune', 'p', 'SEEN')
        self.assertIn('2 message(s) deleted', out)
        left = mbx_read(self.h('p'))[2]
        self.same_messages(left, [m for m in msgs if '\\Seen' not in m.flags])
        out = self.run_mu('prune', 'p', 'OR KEYWORD project-x SUBJECT three')
        self.assertIn('2 message(s) deleted', out)
        self.assertEqual(len(mbx_read(self.h('p'))[2]), 1)
        self.run_mu('prune', 'p', 'NOSUCHKEY', rc=2)

    def test_transfer(self):
        msgs = sample_messages()
        os.makedirs(self.h('mail', 'sub'))
        mbx_write(self.h('mail', 'a'), msgs[:2])
        mbx_write(self.h('mail', 'sub', 'b'), msgs[2:])
        self.run_mu('transfer', 'mail/', '#driver.mbx/converted/')
        self.same_messages(mbx_read(self.h('converted', 'a'))[2], msgs[:2])
        self.same_messages(mbx_read(self.h('converted', 'sub', 'b'))[2], msgs[2:])
        # again: exists -> failure; -m append merges; -m suffix=.new renames
        self.run_mu('transfer', 'mail/', '#driver.mbx/converted/', rc=1)
        self.run_mu('transfer', '-m', 'append', 'mail/', 'converted/')
        self.same_messages(mbx_read(self.h('converted', 'a'))[2], msgs[:2] + msgs[:2])
        self.run_mu('transfer', '-m', 'suffix=.new', 'mail/', '#driver.maildir/converted/')
        self.assertTrue(os.path.isdir(self.h('converted', 'a.new', 'cur')))
        self.run_mu('transfer', '-m', 'bogus', 'mail/', 'x/', rc=2)

    def test_uw_mbx_fixture_copies(self):
        """UW's own mbx file through every format and back."""
        src = os.path.join(UW_DATA, 'mbx/after-uw.mbx')
        shutil.copy(src, self.h('fx'))
        uv, last, want = mbx_read(self.h('fx'))
        self.assertEqual(len(want), 31)
        self.run_mu('copy', 'fx', '#driver.maildir/fxm')
        self.run_mu('copy', 'fxm', '#driver.mbx/back')
        self.same_messages(mbx_read(self.h('back'))[2], want, zones=False)

    def test_prune_compaction_crash_safe(self):
        """A crash at any step of the journaled compaction (prune is
        alone with the file, so it compacts in 1 MB steps) garbles
        nothing: after recovery the file is valid, every kept message is
        intact, and only messages being expunged may be gone."""
        msgs = [Msg(b'Subject: m%d\r\n\r\n' % i + (b'x%d ' % i) * (50 + 60000 * (i % 3)) + b'\r\n',
                    ['\\Seen'] if i % 2 else [], [], 1546300800 + i) for i in range(24)]
        kept = [m for i, m in enumerate(msgs) if i % 2 == 0]
        for point in range(1, 60):
            with self.subTest(point=point):
                name = 'crash'
                mbx_write(self.h(name), msgs)
                env = dict(os.environ, HOME=self.home, CCLIENT_CONFIG=self.cf,
                           CCLIENT_CRASH_POINT=str(point))
                p = subprocess.run([os.path.join(TEST_BIN, 'mailutil'), 'prune', name,
                                    'SEEN'], env=env,
                                   capture_output=True, timeout=TIMEOUT)
                self.assertIn(p.returncode, (0, 99), p.stderr)
                # a read-write open finishes or undoes the step
                self.run_mu('prune', name, 'UID 999999')
                got = mbx_read(self.h(name))[2]
                it = iter(msgs)
                for g in got:
                    w = next(m for m in it if m.text == g.text)
                    self.assertEqual(g.t, w.t)
                    g.flags.discard('\\Deleted')
                    self.assertEqual(g.flags, w.flags)
                self.assertTrue(all(any(g.text == k.text for g in got) for k in kept))
                self.run_mu('prune', name, 'SEEN')
                self.same_messages(mbx_read(self.h(name))[2], kept)
                if p.returncode == 0:
                    break
        self.assertEqual(p.returncode, 0)

    def test_concurrent_appends(self):
        """Several mailutil processes appending at once to one mbx and
        one maildir: nothing lost, every UID unique and increasing."""
        msgs = sample_messages()
        mbx_write(self.h('src'), msgs)
        for fmt in ('mbx', 'maildir'):
            with self.subTest(fmt=fmt):
                self.run_mu('create', '#driver.%s/conc-%s' % (fmt, fmt))
                env = dict(os.environ, HOME=self.home, CCLIENT_CONFIG=self.cf)
                procs = [subprocess.Popen([MAILUTIL, 'append', 'src', 'conc-' + fmt],
                                          env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE) for _ in range(8)]
                for p in procs:
                    _, err = p.communicate(timeout=TIMEOUT)
                    self.assertEqual(p.returncode, 0, err)
                self.run_mu('copy', 'conc-' + fmt, '#driver.mbx/conc-back-' + fmt)
                got = mbx_read(self.h('conc-back-' + fmt))[2]
                self.assertEqual(len(got), 8 * len(msgs))
                # each batch is all-or-nothing and contiguous
                for i in range(8):
                    self.same_messages(got[i * 5:(i + 1) * 5], msgs)
                if fmt == 'mbx':
                    uids = [m.uid for m in mbx_read(self.h('conc-mbx'))[2]]
                    self.assertEqual(uids, list(range(1, 41)))
                else:
                    lines = slurp(self.h('conc-maildir', 'cclient-uidlist')).decode().split('\n')
                    uids = [int(l.split()[0]) for l in lines[1:] if l]
                    self.assertEqual(sorted(uids), list(range(1, 41)))


class TestRoundTrips(MailutilCase):
    FORMATS = ('mbox', 'mbx', 'maildir')

    def test_every_pair(self):
        msgs = sample_messages()
        mbx_write(self.h('src'), msgs)
        for a in self.FORMATS:
            for b in self.FORMATS:
                with self.subTest(a=a, b=b):
                    na, nb, back = 'rt-%s-%s-1' % (a, b), 'rt-%s-%s-2' % (a, b), \
                        'rt-%s-%s-back' % (a, b)
                    self.run_mu('copy', 'src', '#driver.%s/%s' % (a, na))
                    self.run_mu('copy', na, '#driver.%s/%s' % (b, nb))
                    self.run_mu('copy', nb, '#driver.mbx/' + back)
                    got = mbx_read(self.h(back))[2]
                    # the zone too (maildir keeps it in the uid list)
                    self.same_messages(got, msgs)

    def test_maildir_files_are_dovecot_style(self):
        msgs = sample_messages()
        mbx_write(self.h('src'), msgs)
        self.run_mu('copy', 'src', '#driver.maildir/md')
        names = sorted(os.listdir(self.h('md', 'cur'))) + sorted(os.listdir(self.h('md', 'new')))
        self.assertEqual(len(names), 5)
        kw = dict(l.split(' ', 1) for l in slurp(self.h('md', 'dovecot-keywords')).decode().split('\n') if l)
        letters = {v: chr(ord('a') + int(k)) for k, v in kw.items()}
        first = [n for n in names if ':2,' in n and 'S' in n.split(':2,')[1]]
        self.assertTrue(any(letters['Junk'] in n.split(':2,')[1] for n in first), names)
        for n in names:
            self.assertRegex(n, r',S=\d+,W=\d+')
            d = 'cur' if ':2,' in n else 'new'
            st = os.stat(self.h('md', d, n))
            self.assertIn(int(st.st_mtime), [m.t for m in msgs])
        ul = slurp(self.h('md', 'cclient-uidlist')).decode().split('\n')
        self.assertRegex(ul[0], r'^1 V\d+ N6 R1$')     # nobody has seen them yet
        self.assertRegex(ul[1], r'^1 W\d+ Z60 :\S+$')  # message 1 was +0100
        self.run_mu('check', 'md')                      # read-only: claims nothing
        self.assertRegex(slurp(self.h('md', 'cclient-uidlist')).decode(), r'^1 V\d+ N6 R1\n')
        self.run_mu('prune', 'md', 'UID 999')           # read-write: takes them as \\Recent
        self.assertRegex(slurp(self.h('md', 'cclient-uidlist')).decode(), r'^1 V\d+ N6 R6\n')
        out = self.run_mu('check', 'md')
        self.assertIn('0 new message(s)', out)


# ---- corruption generator ----

def corrupt_mbx(kind, msgs, rnd):
    """Return (file bytes, expected surviving message indexes,
    list of byte strings that must show up in side files)."""
    path_bytes = []
    header = None
    records = []
    tmp = tempfile.mktemp()
    mbx_write(tmp, msgs)
    data = slurp(tmp)
    os.unlink(tmp)
    header = data[:2048]
    pos = 2048
    while pos < len(data):
        e = data.index(b'\r\n', pos) + 2
        size = int(data[pos:e].split(b',')[1].split(b';')[0])
        records.append((data[pos:e], data[e:e + size]))
        pos = e + size
    n = len(records)
    victim = rnd.randrange(1, n - 1)
    keep = list(range(n))
    bad = []
    recs = [l + t for l, t in records]
    if kind == 'truncated':
        cut = rnd.randrange(len(records[-1][0]) + 1, len(recs[-1]) - 1)
        bad.append(recs[-1][:cut])
        recs[-1] = recs[-1][:cut]
        keep.remove(n - 1)
    elif kind == 'size-too-big':
        line, text = records[victim]
        d, rest = line.split(b',', 1)
        size, tail = rest.split(b';', 1)
        recs[victim] = d + b',' + str(int(size) + 40).encode() + b';' + tail + text
    elif kind == 'size-too-small':
        line, text = records[victim]
        d, rest = line.split(b',', 1)
        size, tail = rest.split(b';', 1)
        new = int(size) - 7
        assert text[new - 2:new] != b'\r\n'
        recs[victim] = d + b',' + str(new).encode() + b';' + tail + text
    elif kind == 'garbage-spliced':
        junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(20, 300)))
        junk = junk.replace(b'-', b'_')     # cannot look like a header
        recs[victim] = recs[victim] + junk
        bad.append(junk)
    elif kind == 'internal-header-damaged':
        line, text = records[victim]
        damaged = b'ne bombastic blurdybloop' + line[24:]
        recs[victim] = damaged + text
        bad.append(recs[victim])
        keep.remove(victim)
    elif kind == 'mailbox-header-damaged':
        header = b'*garbage*' + header[9:]
        bad.append(header)
    return header + b''.join(recs), keep, bad


def corrupt_mbox(kind, rnd):
    msgs = [b'From a@example.com Tue Jan  1 00:00:00 2019\nSubject: m%d\nX-UID: %d\n\nbody %d\n\n'
            % (i, i + 1, i) for i in range(6)]
    bad = []
    count = 6
    if kind == 'leading-garbage':
        junk = b'\x00\x01garbage line without a colon\n'
        data = junk + b''.join(msgs)
        bad.append(junk)
    elif kind == 'first-from-line-lost':
        data = msgs[0].split(b'\n', 1)[1] + b''.join(msgs[1:])
    elif kind == 'uids-out-of-order':
        msgs[3] = msgs[3].replace(b'X-UID: 4', b'X-UID: 2')
        data = b''.join(msgs)
    return data, count, bad


class TestRepair(MailutilCase):
    KINDS = ('truncated', 'size-too-big', 'size-too-small', 'garbage-spliced',
             'internal-header-damaged', 'mailbox-header-damaged')

    def side_files(self, name):
        d = self.h()
        return [slurp(os.path.join(d, f)) for f in sorted(
            os.listdir(d), key=lambda f: int(f.rsplit('.', 1)[1]) if '.badmsg.' in f else 0)
            if f.startswith(name + '.badmsg.')]

    def test_mbx_corruptions(self):
        rnd = random.Random(1234)
        base = sample_messages() * 2
        for kind in self.KINDS:
            for trial in range(3):
                with self.subTest(kind=kind, trial=trial):
                    name = 'bad-%s-%d' % (kind, trial)
                    data, keep, bad = corrupt_mbx(kind, base, rnd)
                    with open(self.h(name), 'wb') as f:
                        f.write(data)
                    # the driver refuses it with a FAQ 7.15 message
                    if kind != 'mailbox-header-damaged':
                        out = self.run_mu('check', name, rc=1)
                        self.assertRegex(out, r'Unable to .* at \d+|Last message \(at \d+\)')
                    # dry run: reports, changes nothing
                    out = self.run_mu('repair', name, rc=1)
                    self.assertRegex(out, r'at \d+: ')
                    self.assertEqual(slurp(self.h(name)), data)
                    self.assertEqual(self.side_files(name), [])
                    out = self.run_mu('repair', '--fix', name)
                    self.assertIn('repaired', out)
                    got = mbx_read(self.h(name))[2]
                    want = [base[i] for i in keep]
                    if kind == 'mailbox-header-damaged':
                        # keyword names were in the lost header
                        self.assertEqual([g.text for g in got], [w.text for w in want])
                        self.assertEqual([g.flags for g in got], [w.flags for w in want])
                    else:
                        self.same_messages(got, want)
                    self.assertEqual(self.side_files(name), bad)
                    self.check_counts(name, len(want))
                    # a second repair finds nothing
                    out = self.run_mu('repair', name)
                    self.assertIn('no problems found', out)

    def test_mbox_corruptions(self):
        rnd = random.Random(99)
        for kind in ('leading-garbage', 'first-from-line-lost', 'uids-out-of-order'):
            with self.subTest(kind=kind):
                name = 'mbox-' + kind
                data, count, bad = corrupt_mbox(kind, rnd)
                with open(self.h(name), 'wb') as f:
                    f.write(data)
                self.run_mu('repair', name, rc=1)
                self.assertEqual(slurp(self.h(name)), data)
                mode = 0o640
                os.chmod(self.h(name), mode)
                ino = os.stat(self.h(name)).st_ino
                self.run_mu('repair', '--fix', name)
                st = os.stat(self.h(name))
                self.assertEqual(st.st_mode & 0o777, mode)
                self.assertEqual(st.st_ino, ino)
                self.assertEqual(self.side_files(name), bad)
                new = slurp(self.h(name))
                self.assertTrue(new.startswith(b'From '))
                self.check_counts(name, count)
                for i in range(6):
                    self.assertIn(b'body %d\n' % i, new)
                self.run_mu('repair', name)

    def test_clean_files(self):
        shutil.copy(os.path.join(UW_DATA, 'mbx/after-uw.mbx'), self.h('fx'))
        self.assertIn('no problems found', self.run_mu('repair', 'fx'))
        shutil.copy(os.path.join(UW_DATA, 'mbox/after-uw.mbox'), self.h('fb'))
        self.assertIn('no problems found', self.run_mu('repair', 'fb'))


if __name__ == '__main__':
    unittest.main()
