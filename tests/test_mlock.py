"""tools/mlock (FAQ 7.10): holds <spool>/<user>.lock for a session, for as
long as the session keeps its stdin open; breaks stale locks; takes no
arguments. Runs under nss_wrapper/uid_wrapper as a made-up user whose name
cannot clash with a real one, so only that user's lock file is touched."""

import os
import subprocess
import time
import unittest

from cctest import MailEnv, binary

SPOOL = '/var/mail'


@unittest.skipUnless(os.path.isdir(SPOOL) and os.access(SPOOL, os.W_OK), 'needs a writable /var/mail (run as root)')
class MlockTest(unittest.TestCase):
    def setUp(self):
        self.user = 'cctmlk%d' % (os.getpid() % 100000)
        self.env = MailEnv(user=self.user, uid=61000 + os.getpid() % 1000, gid=61000 + os.getpid() % 1000)
        self.addCleanup(self.env.close)
        self.lock = os.path.join(SPOOL, self.user + '.lock')
        self.addCleanup(lambda: os.path.exists(self.lock) and os.unlink(self.lock))

    def start(self):
        return subprocess.Popen([binary('mlock')], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                env=self.env.environ(as_user=True))

    def test_hold_and_release(self):
        p = self.start()
        self.assertEqual(p.stdout.readline(), b'+\n')
        self.assertTrue(os.path.exists(self.lock))
        with open(self.lock) as f:
            self.assertEqual(int(f.read()), os.getpid())      # the session's pid
        p.stdin.close()
        self.assertEqual(p.wait(timeout=10), 0)
        self.assertFalse(os.path.exists(self.lock))

    def test_second_waits_for_first(self):
        p = self.start()
        self.assertEqual(p.stdout.readline(), b'+\n')
        q = self.start()
        time.sleep(1.2)
        self.assertIsNone(q.poll())                  # still waiting
        p.stdin.close()
        p.wait(timeout=10)
        self.assertEqual(q.stdout.readline(), b'+\n')
        q.stdin.close()
        q.wait(timeout=10)
        self.assertFalse(os.path.exists(self.lock))

    def test_stale_lock_broken(self):
        dead = subprocess.Popen(['true'])
        dead.wait()
        with open(self.lock, 'w') as f:
            f.write('%d\n' % dead.pid)
        p = self.start()
        self.assertEqual(p.stdout.readline(), b'+\n')
        p.stdin.close()
        p.wait(timeout=10)

    def test_no_arguments_accepted(self):
        r = subprocess.run([binary('mlock'), '/etc/passwd'], stdout=subprocess.PIPE,
                           env=self.env.environ(as_user=True), timeout=10)
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith(b'-usage'))


if __name__ == '__main__':
    unittest.main()
