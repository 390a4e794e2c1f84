"""A mailbox written by our mbox driver must be readable by other mbox
readers: Python's mailbox.mbox sees the same messages with the same
contents (after mboxrd ">From" unquoting and without our status headers).

The mailbox is produced by the unit test program test-mbox
(test_write_sample with CCLIENT_MBOX_SAMPLE=path), found next to the
built binaries: $CC_TESTS, or $CC_BIN/../tests, or build/tests.
"""
import mailbox
import os
import shutil
import re
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# the same texts as round_trips[] in drivers/mbox/test-mbox.c
ROUND_TRIPS = [
    b"Subject: plain\r\n\r\nHello\r\n",
    b"Subject: from lines\r\n\r\nFrom me to you\r\n>From quoted\r\n"
    b">>From twice\r\nFrom Tue Jan  1 00:27:14 2019\r\n\r\nFrom the end\r\n",
    b"Subject: lone CRs\r\n\r\na\rb\r\nends with CR\r\r\n\r\r\n\rx\r\n",
    b"Subject: no final newline\r\n\r\nlast",
    b"Subject: empty body\r\n\r\n",
    b"Subject: header only\r\n",
    b"Subject: header only, no newline",
    b"",
    b"\r\n",
    b"\r\nbody without header\r\n",
    b"Subject: trailing blank lines\r\n\r\nx\r\n\r\n\r\n",
    b"Subject: nul\r\n\r\na\0b\r\n",
    b"Subject: 8bit \xff\xfe\r\n\r\n\x80\x81\r\n",
    b"From: looks like a header\r\nSubject: x\r\n\r\nFrom \r\n",
]

HIDDEN = re.compile(rb"^(status|x-status|x-keywords|x-uid|x-imap|x-imapbase|"
                    rb"x-mbox-size):", re.I)


def find_test_mbox():
    cands = []
    if os.environ.get('CC_TESTS'):
        cands.append(os.path.join(os.environ['CC_TESTS'], 'test-mbox'))
    if os.environ.get('CC_BIN'):
        cands.append(os.path.join(os.environ['CC_BIN'], '..', 'tests',
                                  'test-mbox'))
    cands.append(os.path.join(REPO, 'build', 'tests', 'test-mbox'))
    for c in cands:
        if os.access(c, os.X_OK):
            return c
    return None


def visible(raw):
    """Python's view of a message -> the text without our hidden headers,
    mboxrd-unquoted, with LF line ends and no trailing newlines."""
    lines = raw.split(b"\n")
    out, in_header, skipping = [], True, False
    for line in lines:
        if in_header:
            if line in (b"", b"\r"):
                in_header = False
            else:
                if not line[:1] in (b" ", b"\t"):
                    skipping = bool(HIDDEN.match(line))
                if skipping:
                    continue
        if re.match(rb"^>+From ", line):
            line = line[1:]
        out.append(line)
    return b"\n".join(out).rstrip(b"\n")


def original(text):
    return text.replace(b"\r\n", b"\n").rstrip(b"\n")


def write_sample(path):
    """our driver writes ROUND_TRIPS into path (appends and a rewrite)"""
    prog = find_test_mbox()
    if prog is None:
        raise AssertionError("test-mbox not built")
    env = dict(os.environ, CCLIENT_MBOX_SAMPLE=path, TZ='UTC')
    r = subprocess.run([prog, 'test_write_sample'], cwd=REPO,
                       env=env, capture_output=True, timeout=60)
    if r.returncode != 0 or not os.path.exists(path):
        raise AssertionError(r.stdout + r.stderr)


class MboxReaders(unittest.TestCase):
    def test_mutt_reads_ours(self):
        """mutt opens the file (read-only), sees every message, and pipes
        each one out byte for byte (after its own view of >From)"""
        from cctest import TmuxClient
        self.assertTrue(shutil.which('mutt') and shutil.which('tmux'), 'mutt/tmux missing')
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'sample.mbox')
            out = os.path.join(d, 'piped')
            write_sample(path)
            os.makedirs(os.path.join(d, 'Mail'))     # or mutt asks to create it
            rc = os.path.join(d, 'muttrc')
            with open(rc, 'w') as f:
                f.write('set pipe_split=yes\nset pipe_decode=no\nset wait_key=no\n'
                        'set pipe_sep="\\n==CUT==\\n"\nset mbox_type=mbox\n'
                        'set sort=mailbox-order\nset check_new=no\n')
            c = TmuxClient('muttrd%d' % os.getpid(), 'mutt -n -R -F %s -f %s' % (rc, path),
                           {'HOME': d, 'TERM': 'xterm'})
            try:
                s = c.wait_for('Msgs:')
                # mutt shows the FOLDER INTERNAL DATA message like any other
                n = int(re.search(r'Msgs:(\d+)', s).group(1))
                self.assertEqual(n, len(ROUND_TRIPS) + 1, s)
                c.keys('T')
                c.wait_for('Tag messages matching')
                c.keys('~A', 'Enter')
                c.type(';|')
                c.wait_for('ipe to command')
                c.type('cat >> %s' % out)
                c.keys('Enter')
                time.sleep(1)
                c.keys('q')
                c.gone()
            finally:
                c.close()
            with open(out, 'rb') as f:
                pieces = f.read().split(b'\n==CUT==\n')
            msgs = [p for p in pieces if p.strip() and
                    b"FOLDER INTERNAL DATA" not in p.split(b"\n\n")[0]]
            self.assertEqual(len(msgs), len(ROUND_TRIPS))
            for i, (raw, want) in enumerate(zip(msgs, ROUND_TRIPS)):
                # mutt pipes the raw message with its "From " separator line
                self.assertTrue(raw.startswith(b'From '), raw[:80])
                raw = raw.split(b'\n', 1)[1] if b'\n' in raw else b''
                exp = original(want)
                self.assertIn(visible(raw), (exp, exp + b"\n"), "message %d" % (i + 1))

    def test_python_mailbox_reads_ours(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'sample.mbox')
            write_sample(path)
            box = mailbox.mbox(path, create=False)
            msgs = []
            for key in box.iterkeys():
                raw = box.get_bytes(key)
                if b"FOLDER INTERNAL DATA" in raw.split(b"\n\n")[0]:
                    continue
                msgs.append(raw)
            box.close()
            self.assertEqual(len(msgs), len(ROUND_TRIPS))
            for i, (raw, want) in enumerate(zip(msgs, ROUND_TRIPS)):
                got = visible(raw)
                exp = original(want)
                # a message without a header/body separator gains the
                # blank line that ends our status block
                self.assertIn(got, (exp, exp + b"\n"), "message %d" % (i + 1))


if __name__ == '__main__':
    unittest.main()
