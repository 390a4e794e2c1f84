"""Authentication end to end: the password backends (passwd-file, PAM via
pam_wrapper + pam_matrix, shadow via nss_wrapper), the CRAM-MD5 database
(CRAM-MD5, APOP, FAQ 3.8/3.9/3.16) and the login policy, seen through
ipop3d and imapd running under the cwrap wrappers (tests/lib/cctest.py).
No test touches a real user.

The C-level tests (backends, SASL state machines, the privilege drop and
the proof that root cannot be regained) are in c-client/auth/test-auth.c; the
first test here runs that program too.
"""

import base64
import hashlib
import hmac
import os
import re
import subprocess
import sys
import unittest
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
import cctest  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter('ignore', DeprecationWarning)
    import crypt  # noqa: E402

# the sanitizer runtime refuses the wrappers' RTLD_DEEPBIND (SANITIZE=1)
os.environ.setdefault('UID_WRAPPER_DISABLE_DEEPBIND', '1')
os.environ.setdefault('NSS_WRAPPER_DISABLE_DEEPBIND', '1')

TESTS = os.environ.get('CC_TESTS') or os.path.join(os.path.dirname(cctest.BIN), 'tests')
LOGIN_FAILED = b'-ERR [AUTH] Login failed'


def authenticated(resp):
    """The password was accepted: +OK, or an error that can only come
    after the login (opening the mailbox), never an [AUTH] one."""
    return resp.startswith(b'+OK') or (resp.startswith(b'-ERR [') and
                                        not resp.startswith(b'-ERR [AUTH]'))


def sha512(password):
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))


def yescrypt(password):
    """A yescrypt hash, or None where this libcrypt lacks it."""
    alphabet = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
    # 16 salt bytes: 21 full characters and one with zero low bits
    salt = '$y$j9T$' + ''.join(alphabet[b % 64] for b in os.urandom(21)) + '.'
    h = crypt.crypt(password, salt)
    return h if h and h.startswith('$y$') else None


class UnitProgram(unittest.TestCase):
    @unittest.skipUnless(os.path.exists(os.path.join(TESTS, 'test-auth')),
                         'test-auth not built')
    def test_c_unit_tests_pass(self):
        r = subprocess.run([os.path.join(TESTS, 'test-auth')], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=300)
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 0, out + r.stderr.decode()[-3000:])
        self.assertNotIn('FAIL', out)
        self.assertIn('PASS test_wrapped_become', out)


@unittest.skipUnless(cctest.have_binary('ipop3d'), 'ipop3d not built')
class PopAuth(unittest.TestCase):
    def setUp(self):
        self.env = cctest.MailEnv()
        self.env.write_inbox(cctest.mbox_of([cctest.sample_message()]))

    def tearDown(self):
        self.env.close()

    def login(self, user, password, **kw):
        p = self.env.pop(**kw)
        try:
            p.cmd('USER ' + user)
            return p.cmd('PASS ' + password)
        finally:
            p.close()

    def test_passwd_file(self):
        self.assertTrue(authenticated(self.login('alice', 'secret')))
        # wrong password and unknown user get the very same answer (FAQ 7.4)
        self.assertEqual(self.login('alice', 'wrong'), LOGIN_FAILED)
        self.assertEqual(self.login('nosuch', 'secret'), LOGIN_FAILED)
        self.assertIn('wrong password', self.env.log())

    def test_uid0_never_logs_in(self):
        with open(self.env.userfile, 'a') as f:
            f.write('toor:%s:0:0:/root:\n' % sha512('rootpw'))
        self.assertEqual(self.login('toor', 'rootpw'), LOGIN_FAILED)
        self.assertIn('uid 0 never logs in', self.env.log())

    def test_yescrypt_passwd_file(self):
        h = yescrypt('yes-pw')
        if h is None:
            self.skipTest('no yescrypt in this libcrypt')
        with open(self.env.userfile, 'a') as f:
            f.write('carol:%s:1000:1000:%s:\n' % (h, self.env.home))
        self.assertTrue(authenticated(self.login('carol', 'yes-pw')))

    def pam_setup(self):
        # one pam_matrix file per service: pam_matrix's account phase only
        # looks at the first line for a user
        for svc in ('imap', 'pop'):
            passdb = os.path.join(self.env.dir, 'passdb-' + svc)
            with open(passdb, 'w') as f:
                f.write('alice:pampw:%s\nroot:rootpw:%s\n' % (svc, svc))
            with open(os.path.join(self.env.pam_dir, svc), 'w') as f:
                f.write('auth required %s passdb=%s\n' % (cctest.PAM_MATRIX, passdb))
                f.write('account required %s passdb=%s\n' % (cctest.PAM_MATRIX, passdb))
        self.env.write_config(auth_backends='pam')

    def test_pam(self):
        self.pam_setup()
        self.assertTrue(authenticated(self.login('alice', 'pampw', pam=True)))
        self.assertEqual(self.login('alice', 'secret', pam=True), LOGIN_FAILED)
        self.assertEqual(self.login('nosuch', 'pampw', pam=True), LOGIN_FAILED)
        self.assertEqual(self.login('root', 'rootpw', pam=True), LOGIN_FAILED)
        self.assertIn('uid 0 never logs in', self.env.log())

    def test_pam_account_refused(self):
        self.pam_setup()
        deny = None
        for d in ('/usr/lib/x86_64-linux-gnu/security', '/lib/x86_64-linux-gnu/security',
                  '/usr/lib/aarch64-linux-gnu/security', '/lib/security'):
            if os.path.exists(os.path.join(d, 'pam_deny.so')):
                deny = os.path.join(d, 'pam_deny.so')
        if deny is None:
            self.skipTest('pam_deny.so not found')
        path = os.path.join(self.env.pam_dir, 'pop')
        with open(path) as f:
            auth_line = f.readline()
        with open(path, 'w') as f:
            f.write(auth_line + 'account required %s\n' % deny)
        self.assertEqual(self.login('alice', 'pampw', pam=True), LOGIN_FAILED)
        self.assertIn('pam_acct_mgmt', self.env.log())

    def test_shadow(self):
        shadow = os.path.join(self.env.dir, 'shadow')
        today = int(__import__('time').time() // 86400)
        with open(shadow, 'w') as f:
            f.write('alice:%s:%d:0:99999:7:::\n' % (sha512('shadowpw'), today))
            f.write('bob:%s:%d:0:99999:7::%d:\n' % (sha512('bobpw'), today, today - 1))
        os.chmod(shadow, 0o600)
        self.env.write_config(auth_backends='shadow')
        extra = {'NSS_WRAPPER_SHADOW': shadow}
        self.assertTrue(authenticated(self.login('alice', 'shadowpw', extra_env=extra)))
        self.assertEqual(self.login('alice', 'secret', extra_env=extra), LOGIN_FAILED)
        # bob's account expired yesterday
        self.assertEqual(self.login('bob', 'bobpw', extra_env=extra), LOGIN_FAILED)
        self.assertIn('account expired', self.env.log())

    def write_cram(self, mode):
        path = self.env.settings['cram-md5-database']
        with open(path, 'w') as f:
            f.write('# user<TAB>password\nalice\tcrampw\n')
        os.chmod(path, mode)

    def test_apop(self):
        self.write_cram(0o600)
        p = self.env.pop()
        try:
            m = re.search(rb'<[^<>]+@[^<>]+>', p.greeting_line)
            self.assertIsNotNone(m, p.greeting_line)
            digest = hashlib.md5(m.group(0) + b'crampw').hexdigest()
            self.assertTrue(authenticated(p.cmd('APOP alice ' + digest)))
        finally:
            p.close()
        p = self.env.pop()
        try:
            m = re.search(rb'<[^<>]+@[^<>]+>', p.greeting_line)
            digest = hashlib.md5(m.group(0) + b'wrong').hexdigest()
            self.assertEqual(p.cmd('APOP alice ' + digest), LOGIN_FAILED)
        finally:
            p.close()
        # FAQ 3.16: the database password is the plaintext password too
        self.assertTrue(authenticated(self.login('alice', 'crampw')))
        self.assertEqual(self.login('alice', 'secret'), LOGIN_FAILED)

    def test_cram_database_readable_by_others_refused(self):
        self.write_cram(0o644)
        p = self.env.pop()
        try:
            self.assertIsNone(re.search(rb'<[^<>]+@[^<>]+>', p.greeting_line))
        finally:
            p.close()
        self.assertIn('CRAM-MD5 database', self.env.log())
        self.assertIn('refused', self.env.log())
        # treated as absent: the backend password works
        self.assertTrue(authenticated(self.login('alice', 'secret')))

    def test_sasl_plain(self):
        p = self.env.pop()
        try:
            resp = base64.b64encode(b'\0alice\0secret').decode()
            self.assertTrue(authenticated(p.cmd('AUTH PLAIN ' + resp)))
        finally:
            p.close()
        p = self.env.pop()
        try:
            r = p.cmd('AUTH PLAIN AGFsaWNlAHNlY3JldA')       # no padding
            self.assertTrue(r.startswith(b'-ERR'))
            self.assertNotEqual(r, LOGIN_FAILED)
        finally:
            p.close()


@unittest.skipUnless(cctest.have_binary('imapd'), 'imapd not built')
class ImapAuth(unittest.TestCase):
    def setUp(self):
        self.env = cctest.MailEnv()
        self.env.write_inbox(cctest.mbox_of([cctest.sample_message()]))

    def tearDown(self):
        self.env.close()

    def caps(self, s):
        untagged, tagged = s.cmd('CAPABILITY')
        self.assertTrue(tagged.startswith(b'OK'))
        return untagged[0].split()

    def test_login(self):
        s = self.env.imap(login=True)
        try:
            _, tagged = s.cmd('LOGIN alice wrong')
            self.assertTrue(tagged.startswith(b'NO'))
            self.assertIn(b'failed', tagged)
            _, tagged = s.cmd('LOGIN alice secret')
            self.assertTrue(tagged.startswith(b'OK'), tagged)
        finally:
            s.close()

    def test_tls_only_plaintext(self):
        # FAQ 3.18: no plaintext passwords before TLS
        self.env.write_config(plaintext_logins='tls-only')
        s = self.env.imap(login=True)
        try:
            caps = self.caps(s)
            self.assertIn(b'LOGINDISABLED', caps)
            self.assertNotIn(b'AUTH=PLAIN', caps)
            _, tagged = s.cmd('LOGIN alice secret')
            self.assertFalse(tagged.startswith(b'OK'))
        finally:
            s.close()

    def test_cram_md5(self):
        path = self.env.settings['cram-md5-database']
        with open(path, 'w') as f:
            f.write('alice\tcrampw\n')
        os.chmod(path, 0o400)
        s = self.env.imap(login=True)
        try:
            self.assertIn(b'AUTH=CRAM-MD5', self.caps(s))
            s.send('c1 AUTHENTICATE CRAM-MD5\r\n')
            line = s.readline()
            self.assertTrue(line.startswith(b'+ '), line)
            challenge = base64.b64decode(line[2:].strip())
            digest = hmac.new(b'crampw', challenge, hashlib.md5).hexdigest()
            s.send(base64.b64encode(b'alice ' + digest.encode()) + b'\r\n')
            _, tagged = s.collect('c1')
            self.assertTrue(tagged.startswith(b'OK'), tagged)
        finally:
            s.close()

    def test_cram_md5_absent_when_mode_0644(self):
        path = self.env.settings['cram-md5-database']
        with open(path, 'w') as f:
            f.write('alice\tcrampw\n')
        os.chmod(path, 0o644)
        s = self.env.imap(login=True)
        try:
            self.assertNotIn(b'AUTH=CRAM-MD5', self.caps(s))
        finally:
            s.close()


if __name__ == '__main__':
    unittest.main()
