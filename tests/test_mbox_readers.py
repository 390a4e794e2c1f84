"""A mailbox written by our mbox driver must be readable by other mbox
readers: Python's mailbox.mbox sees the same messages with the same
contents (after mboxrd ">From" unquoting and without our status headers).

The mailbox is produced by the unit test program test-mbox
(test_write_sample with CCLIENT_MBOX_SAMPLE=path), found next to the
built binaries: $CC_TESTS, or $CC_BIN/../tests, or build/tests.
"""
import mailbox
import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# the same texts as round_trips[] in drivers/test-mbox.c
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


class MboxReaders(unittest.TestCase):
    def test_python_mailbox_reads_ours(self):
        prog = find_test_mbox()
        if prog is None:
            self.skipTest("test-mbox not built")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'sample.mbox')
            env = dict(os.environ, CCLIENT_MBOX_SAMPLE=path, TZ='UTC')
            r = subprocess.run([prog, 'test_write_sample'], cwd=REPO,
                               env=env, capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertTrue(os.path.exists(path))
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
