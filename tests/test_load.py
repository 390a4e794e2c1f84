"""A short run of tests/load.py in CI (issue 7): concurrent IMAP, POP3
and delivery on shared mbox, mbx and maildir mailboxes; nothing lost or
duplicated, no protocol errors, no process left behind."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402


class LoadTest(unittest.TestCase):
    def test_short_load(self):
        sessions = os.environ.get('CC_LOAD_SESSIONS', '24')
        seconds = os.environ.get('CC_LOAD_SECONDS', '12')
        self.assertEqual(load.main(['--sessions', sessions, '--seconds', seconds]), 0)


if __name__ == '__main__':
    unittest.main()
