"""Test hooks exist only in test builds: the programs make installs
(build/bin/) ignore CCLIENT_CRASH_POINT, the same programs built with
-DCCLIENT_TEST_HOOKS (build/test-bin/, what tests/lib/cctest.py runs when
a test sets CCLIENT_CRASH_*) stop at the crash point."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
from cctest import BIN, TEST_BIN, TIMEOUT, MailEnv  # noqa: E402

MSG = b'Subject: hook\r\n\r\nbody\r\n'
APPEND = (b'a APPEND INBOX {%d+}\r\n%s\r\nb LOGOUT\r\n' % (len(MSG), MSG))


class TestHooks(unittest.TestCase):
    def setUp(self):
        self.env = MailEnv()
        self.addCleanup(self.env.close)
        self.env.write_inbox(b'')

    def append(self, bindir):
        """imapd from bindir, PREAUTH, with CCLIENT_CRASH_POINT=1: APPEND"""
        p = subprocess.run([os.path.join(bindir, 'imapd')], input=APPEND,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=self.env.environ(True, False, {'CCLIENT_CRASH_POINT': '1'}),
                           cwd=self.env.dir, timeout=TIMEOUT * 3)
        return p.returncode, p.stdout

    def test_installed_imapd_ignores_crash_point(self):
        rc, out = self.append(BIN)
        self.assertEqual(rc, 0, out)
        self.assertIn(b'\r\na OK', out)
        self.assertIn(b'Subject: hook', self.env.read_inbox())

    def test_test_build_stops_at_crash_point(self):
        rc, out = self.append(TEST_BIN)
        self.assertEqual(rc, 99, out)
        self.assertNotIn(b'\r\na OK', out)


if __name__ == '__main__':
    unittest.main()
