"""End-to-end tests of SEARCH, SORT and THREAD through imapd: keys,
charsets (BADCHARSET), MIME/RFC 2047 decoding, sequence and UID sets,
ESEARCH, hostile nesting, and both THREAD algorithms.

Messages come from tests/data/search/*.eml, appended with APPEND (so the
test does not depend on one mailbox format; the mailbox is created in
the format given by CC_SEARCH_DRIVER, default mbx).

Run: python3 -m unittest tests/test_search.py   (CC_BIN, CC_TIMEOUT as in
tests/lib/cctest.py)."""

import glob
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from cctest import MailEnv, have_binary  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, 'data', 'search')
DRIVER = os.environ.get('CC_SEARCH_DRIVER', 'mbx')

DATES = ['07-Feb-1994 21:52:25 -0800', '08-Feb-1994 10:00:00 +0000',
         '10-Mar-2000 12:00:00 +0000', '11-Mar-2000 09:00:00 +0000']


def messages():
    out = []
    for p in sorted(glob.glob(os.path.join(DATA, '*.eml'))):
        with open(p, 'rb') as f:
            out.append(f.read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n'))
    return out


@unittest.skipUnless(have_binary('imapd'), 'imapd not built')
class SearchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = MailEnv(config={'default-driver': DRIVER})
        cls.s = cls.env.imap()
        _, t = cls.s.cmd('CREATE box')
        assert t.startswith(b'OK'), t
        for msg, date in zip(messages(), DATES):
            _, t = cls.s.append('box', msg, date=date)
            assert t.startswith(b'OK'), t
        _, t = cls.s.cmd('SELECT box')
        assert t.startswith(b'OK'), t
        for cmd in ('STORE 1 +FLAGS (\\Seen)', 'STORE 3 +FLAGS (\\Flagged)'):
            _, t = cls.s.cmd(cmd)
            assert t.startswith(b'OK'), t

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def result(self, cmd, word=b'SEARCH'):
        """run cmd; the numbers of its one untagged word response"""
        untagged, tagged = self.s.cmd(cmd)
        self.assertTrue(tagged.startswith(b'OK'), (cmd, tagged))
        lines = [u for u in untagged if u.startswith(b'* ' + word)]
        self.assertEqual(len(lines), 1, (cmd, untagged))
        return lines[0][len(b'* ') + len(word):].strip().decode()

    def check(self, cmd, want, word=b'SEARCH'):
        self.assertEqual(self.result(cmd, word), want, cmd)

    def status(self, cmd):
        return self.s.cmd(cmd)[1]

    def test_keys(self):
        self.check('SEARCH ALL', '1 2 3 4')
        self.check('SEARCH FROM alice', '1')
        self.check('SEARCH FROM "alice example"', '1')
        self.check('SEARCH TO bob CC carol', '1')
        self.check('SEARCH BCC dave', '3')
        self.check('SEARCH SUBJECT hello', '1 3')
        self.check('SEARCH HEADER X-Custom "foo bar"', '3')
        self.check('SEARCH BODY "plain body"', '1')
        self.check('SEARCH BODY "secret base64"', '3')
        self.check('SEARCH BODY needle', '')
        self.check('SEARCH TEXT hello', '1 3')
        self.check('SEARCH SEEN', '1')
        self.check('SEARCH UNSEEN', '2 3 4')
        self.check('SEARCH FLAGGED', '3')
        self.check('SEARCH RECENT', '1 2 3 4')
        self.check('SEARCH OLD', '')
        self.check('SEARCH ON 7-Feb-1994', '1')
        self.check('SEARCH SINCE 1-Jan-2000', '3 4')
        self.check('SEARCH SENTON 10-Mar-2000', '3')
        self.check('SEARCH SENTBEFORE 1-Jan-1995', '1 2')
        self.check('SEARCH LARGER 300', '2 3')
        self.check('SEARCH SMALLER 300', '1 4')
        self.check('SEARCH LARGER 496', '')
        self.check('SEARCH LARGER 495', '3')
        self.check('SEARCH OLDER 3600', '1 2 3 4')
        self.check('SEARCH YOUNGER 3600', '')
        self.check('SEARCH KEYWORD nosuch', '')
        self.check('SEARCH UNKEYWORD nosuch', '1 2 3 4')

    def test_decoding_and_charsets(self):
        self.check(b'SEARCH CHARSET UTF-8 FROM {6+}\r\nAndr\xc3\xa9', '2')
        self.check(b'SEARCH CHARSET UTF-8 SUBJECT {6+}\r\n\xc3\xa9cole', '2')
        self.check(b'SEARCH CHARSET UTF-8 BODY {6+}\r\ncr\xc3\xa8me', '2')
        self.check(b'SEARCH CHARSET ISO-8859-1 BODY {5+}\r\nCR\xc8ME', '2')
        self.check(b'SEARCH CHARSET UTF-8 TEXT {6+}\r\ngr\xc3\xbc\xc3\x9f', '4')
        self.check('SEARCH CHARSET US-ASCII FROM andre@example.fr', '2')
        t = self.status('SEARCH CHARSET X-NO-SUCH-CHARSET ALL')
        self.assertTrue(t.startswith(b'NO [BADCHARSET'), t)

    def test_sets(self):
        self.check('SEARCH 1:4294967295', '1 2 3 4')
        self.check('SEARCH *', '4')
        self.check('SEARCH 2:*', '2 3 4')
        self.check('SEARCH 9:*', '4')
        self.check('SEARCH 1,3', '1 3')
        self.check('UID SEARCH UID 2:*', '2 3 4')
        self.check('UID SEARCH 3:*', '3 4')
        self.check('SEARCH UID 1:4294967295 SEEN', '1')

    def test_not_or(self):
        self.check('SEARCH OR SEEN FLAGGED', '1 3')
        self.check('SEARCH NOT OR SEEN FLAGGED', '2 4')
        self.check('SEARCH (OR FROM alice FROM dave) NOT SEEN', '3')
        self.check('SEARCH OR (SEEN SUBJECT hello) (NOT NOT BODY secret)', '1 3')

    def test_bad(self):
        for cmd in ('SEARCH FOO', 'SEARCH FROM', 'SEARCH OR SEEN',
                    'SEARCH ' + 'NOT ' * 200 + 'ALL',
                    'SEARCH ' + 'OR SEEN ' * 500 + 'SEEN',
                    'SEARCH BEFORE 99-Foo-1994', 'SEARCH LARGER -5',
                    'SEARCH 0:3'):
            t = self.status(cmd)
            self.assertTrue(t.startswith(b'BAD'), (cmd[:40], t))
        # the session survives
        self.check('SEARCH SEEN', '1')

    def test_esearch(self):
        untagged, tagged = self.s.cmd('SEARCH RETURN (MIN MAX COUNT) UNSEEN',
                                      tag='x1')
        self.assertTrue(tagged.startswith(b'OK'))
        self.assertIn(b'* ESEARCH (TAG "x1") MIN 2 MAX 4 COUNT 3', untagged)

    def test_sort(self):
        self.check('SORT (SUBJECT) UTF-8 ALL', '1 3 4 2', b'SORT')
        self.check('SORT (REVERSE DATE) UTF-8 ALL', '4 3 2 1', b'SORT')
        self.check('SORT (ARRIVAL) UTF-8 ALL', '1 2 3 4', b'SORT')
        self.check('SORT (FROM) UTF-8 ALL', '1 2 3 4', b'SORT')
        self.check('SORT (REVERSE FROM) UTF-8 UNSEEN', '4 3 2', b'SORT')
        self.check('SORT (SIZE) UTF-8 ALL', '1 4 2 3', b'SORT')
        self.check('SORT (REVERSE SIZE) UTF-8 ALL', '3 2 4 1', b'SORT')
        self.check('UID SORT (REVERSE ARRIVAL) UTF-8 ALL', '4 3 2 1', b'SORT')
        t = self.status('SORT (FOO) UTF-8 ALL')
        self.assertTrue(t.startswith(b'BAD'), t)

    def test_thread(self):
        self.check('THREAD REFERENCES UTF-8 ALL', '(1 (2)(3 4))', b'THREAD')
        self.check('THREAD ORDEREDSUBJECT UTF-8 ALL', '(1 3)(2)(4)', b'THREAD')
        # 1 is not searched: its replies share a dummy parent
        self.check('UID THREAD REFERENCES UTF-8 NOT SEEN', '((2)(3 4))', b'THREAD')
        self.check('THREAD REFERENCES UTF-8 FROM nobody', '', b'THREAD')
        t = self.status('THREAD FOO UTF-8 ALL')
        self.assertTrue(t.startswith(b'BAD'), t)


if __name__ == '__main__':
    unittest.main()
