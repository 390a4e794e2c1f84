"""The Debian package, end to end (issue 14): build it from a copy of the
tree with dpkg-buildpackage (nothing reused from build/), check it with
lintian, install it with dpkg -i, serve IMAP, IMAPS, POP3 and POP3S
through a private xinetd instance (its own config file and pidfile, on
127.0.0.1, free ports) made from the package's own /etc/xinetd.d files, to
a real system user whose INBOX is in Debian's 2775 root:mail /var/mail,
then purge the package and delete the user, and check that nothing of
either is left.

Runs as root (CI does); as anyone else every test fails, saying why. The
steps depend on each other, so the tests run in the order of their names;
a package left installed by an earlier run is purged first. Every wait is
bounded. The test does not use CC_BIN: it builds its own binaries."""

import glob
import grp
import gzip
import imaplib
import os
import poplib
import pwd
import re
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from cctest import REPO, free_port  # noqa: E402

PACKAGES = ('cclient-imapd', 'cclient-mailutils')
USER = 'ccdebpkg'
GECOS = 'cclient package test'
PASSWORD = 'pkg-test-Secret9'
SPOOL = '/var/mail'
CERTS = ['/etc/ssl/certs/imapd.pem', '/etc/ssl/private/imapd.pem',
         '/etc/ssl/certs/ipop3d.pem', '/etc/ssl/private/ipop3d.pem']
MLOCK = '/usr/sbin/mlock'
MAIL_GID = grp.getgrnam('mail').gr_gid
UNITS = ['imapd.socket', 'imaps.socket', 'pop3.socket', 'pop3s.socket']
BUILD_TIMEOUT = int(os.environ.get('CC_DEB_BUILD_TIMEOUT', '200'))
DPKG_LOCK_WAIT = 120      # seconds to wait for another dpkg/apt to finish
NET_TIMEOUT = 20
DPKG_LOCKED = re.compile(r'locked by another process|frontend lock')
SUBJECT = 'cclient package test'
MESSAGE = (b'From: Sender <sender@example.org>\n'
           b'To: %s@localhost\n'
           b'Subject: ' + SUBJECT.encode() + b'\n'
           b'Date: Fri, 04 Dec 2026 12:00:00 +0000\n'
           b'Message-ID: <debpkg-1@example.org>\n'
           b'\n'
           b'The first line of the body.\n'
           b'The last line.\n') % USER.encode()
# what the package has beyond make install: docs, changelog, copyright
PKG_ONLY = re.compile(r'^/usr/share/doc/')
# the suffix of an /etc file set aside while the package is installed
SAVED = '.cc-debpkg-saved'


def run(cmd, timeout=60, check=True, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, **kw)
    out = p.stdout.decode(errors='replace')
    if check and p.returncode != 0:
        raise AssertionError('%s exited %d:\n%s' % (' '.join(cmd), p.returncode, out[-4000:]))
    return p.returncode, out


def dpkg(args, timeout=120):
    """dpkg ARGS, waiting (bounded) while another dpkg or apt holds the lock."""
    deadline = time.monotonic() + DPKG_LOCK_WAIT
    while True:
        rc, out = run(['dpkg'] + args, timeout=timeout, check=False)
        if rc != 0 and DPKG_LOCKED.search(out) and time.monotonic() < deadline:
            time.sleep(2)
            continue
        if rc != 0:
            raise AssertionError('dpkg %s exited %d:\n%s' % (' '.join(args), rc, out[-4000:]))
        return out


def purge_packages():
    present = [p for p in PACKAGES if run(['dpkg-query', '-W', p], check=False)[0] == 0]
    if present:
        dpkg(['--purge'] + present)


def remove_user():
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        return
    if pw.pw_gecos.split(',')[0] != GECOS:
        raise AssertionError('a user %s exists that this test did not make' % USER)
    run(['userdel', '-r', USER], check=False)
    for p in (os.path.join(SPOOL, USER), os.path.join(SPOOL, USER + '.lock')):
        if os.path.lexists(p):
            os.unlink(p)


def copy_tree(dst):
    """The source tree as it is (uncommitted changes included) without
    build output, demo runs or test logs: the files git tracks or would
    track, or, outside a git checkout, everything but those."""
    if os.path.exists(os.path.join(REPO, '.git')) and shutil.which('git'):
        rc, out = run(['git', '-C', REPO, 'ls-files', '-z', '--cached', '--others',
                       '--exclude-standard'])
        for rel in sorted(set(out.split('\0')) - {''}):
            src = os.path.join(REPO, rel)
            if not os.path.lexists(src):
                continue            # deleted in the work tree
            os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
            shutil.copy2(src, os.path.join(dst, rel), follow_symlinks=False)
        return

    def ignore(d, names):
        d = os.path.abspath(d)
        out = [n for n in names if n in ('.git', '__pycache__')]
        if d == REPO:
            out += [n for n in names if n.startswith('build') or n == 'demo-run']
        if d == os.path.join(REPO, 'tests'):
            out += [n for n in names if n == 'tmp']
        if d == os.path.join(REPO, 'debian'):
            out += [n for n in names if n in ('tmp', '.debhelper', 'files') or
                    n in PACKAGES or n.endswith(('.substvars', '.debhelper.log'))]
        return out
    shutil.copytree(REPO, dst, symlinks=True, ignore=ignore)


def wait_port(port, deadline):
    while time.monotonic() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def private_xinetd_conf(ports, logfile):
    """The installed /etc/xinetd.d files, each service put on its own
    port on 127.0.0.1 and enabled (they are installed disabled)."""
    out = ['defaults', '{', '\tlog_type = FILE %s' % logfile, '}', '']
    for name in ('imapd', 'ipop3d'):
        text = open('/etc/xinetd.d/' + name).read()
        for m in re.finditer(r'service\s+(\S+)\s*\{([^}]*)\}', text):
            svc, body = m.group(1), m.group(2)
            lines = [l for l in body.splitlines()
                     if l.strip() and not re.match(r'\s*disable\s*=', l)]
            out += ['service ' + svc, '{'] + lines + [
                '\ttype = UNLISTED', '\tport = %d' % ports[svc],
                '\tbind = 127.0.0.1', '\tdisable = no', '}', '']
    return '\n'.join(out) + '\n'


def tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE     # the package's certificate is self-signed
    return ctx


def pem_der(path):
    return ssl.PEM_cert_to_DER_cert(open(path).read())


class DebianPackage(unittest.TestCase):
    tmp = None
    saved = []  # /etc paths set aside (see setUpClass)
    debs = []
    xinetd = None
    ports = {}
    before = {}

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise AssertionError('must run as root: it installs a Debian package, '
                                 'adds a system user and runs xinetd')
        for tool in ('dpkg-buildpackage', 'dh', 'lintian', 'xinetd', 'useradd', 'openssl'):
            if shutil.which(tool) is None and not os.path.exists('/usr/sbin/' + tool):
                raise AssertionError('%s is not installed (tests/install-deps.sh)' % tool)
        st = os.stat(SPOOL)
        if (stat.S_IMODE(st.st_mode) != 0o2775 or st.st_uid != 0 or
                st.st_gid != MAIL_GID):
            raise AssertionError('%s is not 2775 root:mail as on Debian' % SPOOL)
        # a package or user left by an earlier run goes first; whatever
        # this run adds goes again even if a step below fails
        purge_packages()
        remove_user()
        cls.addClassCleanup(cls.cleanup)
        cls.tmp = tempfile.mkdtemp(prefix='cc-debpkg-')
        os.chmod(cls.tmp, 0o755)
        src = os.path.join(cls.tmp, 'src')
        copy_tree(src)
        env = {k: v for k, v in os.environ.items()
               if k not in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'CC', 'CFLAGS',
                            'LDFLAGS', 'CPPFLAGS', 'ASAN_OPTIONS', 'UBSAN_OPTIONS')}
        # the unit tests run elsewhere in the suite; here the package
        env['DEB_BUILD_OPTIONS'] = 'nocheck parallel=2'
        env['DEB_BUILD_PROFILES'] = 'nocheck'
        rc, cls.build_log = run(['dpkg-buildpackage', '-us', '-uc', '-b'], cwd=src,
                                env=env, timeout=BUILD_TIMEOUT, check=False)
        if rc != 0:
            raise AssertionError('dpkg-buildpackage failed:\n' + cls.build_log[-4000:])
        cls.debs = sorted(glob.glob(os.path.join(cls.tmp, '*_*.deb')))
        cls.debs = [d for d in cls.debs if '-dbgsym_' not in d]
        # what was there before the install, to tell what it added
        cls.before = {p: os.path.lexists(p) for p in CERTS + ['/var/lib/cclient-imapd']}
        cls.before_overrides = run(['dpkg-statoverride', '--list'])[1]
        cls.dirs_before = set()
        for deb in cls.debs:
            for line in dpkg(['-c', deb]).splitlines():
                path = os.path.normpath(line.split(None, 5)[5].split(' -> ')[0][1:] or '/')
                if line.startswith('d') and os.path.lexists(path):
                    cls.dirs_before.add(path)
        # an /etc file the package ships that is already there and belongs
        # to no package (a "make install" on this machine made it) would
        # stop dpkg at its conffile prompt: set it aside for the test and
        # put it back afterwards
        for deb in cls.debs:
            for line in dpkg(['-c', deb]).splitlines():
                path = os.path.normpath(line.split(None, 5)[5].split(' -> ')[0][1:])
                if (line.startswith('-') and path.startswith('/etc/') and
                        os.path.lexists(path) and
                        run(['dpkg', '-S', path], check=False)[0] != 0):
                    os.rename(path, path + SAVED)
                    cls.saved.append(path)
        dpkg(['-i'] + cls.debs)
        cls.pkg_paths = []
        for pkg in PACKAGES:
            cls.pkg_paths += [l for l in dpkg(['-L', pkg]).splitlines() if l.startswith('/')]
        # the user: real, in /etc/passwd and /etc/shadow, not in group mail
        home = os.path.join(cls.tmp, 'home')
        run(['useradd', '-c', GECOS, '-d', home, '-m', '-s', '/bin/sh', USER])
        run(['chpasswd'], input=('%s:%s\n' % (USER, PASSWORD)).encode())
        pw = pwd.getpwnam(USER)
        cls.uid, cls.gid = pw.pw_uid, pw.pw_gid
        cls.inbox = os.path.join(SPOOL, USER)
        with open(cls.inbox, 'wb') as f:
            f.write(b'From sender@example.org Fri Dec  4 12:00:00 2026\n' + MESSAGE + b'\n')
        os.chown(cls.inbox, cls.uid, MAIL_GID)
        os.chmod(cls.inbox, 0o660)

    @classmethod
    def cleanup(cls):
        cls.stop_xinetd()
        try:
            purge_packages()
        finally:
            remove_user()
            if cls.tmp:
                shutil.rmtree(cls.tmp, ignore_errors=True)
            for path in cls.saved:
                if not os.path.lexists(path):
                    os.rename(path + SAVED, path)
            cls.saved = []

    @classmethod
    def start_xinetd(cls):
        if cls.xinetd is not None:
            return
        cls.ports = {s: free_port() for s in ('imap', 'imaps', 'pop3', 'pop3s')}
        conf = os.path.join(cls.tmp, 'xinetd.conf')
        cls.xinetd_log = os.path.join(cls.tmp, 'xinetd.log')
        with open(conf, 'w') as f:
            f.write(private_xinetd_conf(cls.ports, cls.xinetd_log))
        pidfile = os.path.join(cls.tmp, 'xinetd.pid')
        with open(os.path.join(cls.tmp, 'xinetd.stderr'), 'wb') as err:
            cls.xinetd = subprocess.Popen(['xinetd', '-f', conf, '-pidfile', pidfile,
                                           '-dontfork'], stdout=err, stderr=err)
        deadline = time.monotonic() + 15
        for port in cls.ports.values():
            if not wait_port(port, deadline):
                cls.stop_xinetd()
                logs = ''
                for f in ('xinetd.stderr', 'xinetd.log'):
                    if os.path.exists(os.path.join(cls.tmp, f)):
                        logs += open(os.path.join(cls.tmp, f), errors='replace').read()[-2000:]
                raise AssertionError('xinetd did not listen on 127.0.0.1:%d\n%s' % (port, logs))

    @classmethod
    def stop_xinetd(cls):
        if cls.xinetd is None:
            return
        cls.xinetd.terminate()
        try:
            cls.xinetd.wait(timeout=10)
        except subprocess.TimeoutExpired:
            cls.xinetd.kill()
            cls.xinetd.wait(timeout=10)
        cls.xinetd = None

    def spool(self):
        with open(self.inbox, 'rb') as f:
            return f.read()

    # ---- the package as built and installed ----

    def test_1_layout(self):
        names = sorted(os.path.basename(d).split('_')[0] for d in self.debs)
        self.assertEqual(names, sorted(PACKAGES))
        for p in ('/usr/sbin/imapd', '/usr/sbin/ipop3d', '/usr/bin/mailutil',
                  '/usr/bin/tmail', '/usr/bin/dmail'):
            self.assertTrue(os.access(p, os.X_OK), p)
        # mlock: setgid mail, by dpkg-statoverride (the .deb has it 0755 root:root)
        st = os.stat(MLOCK)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o2755)
        self.assertEqual(st.st_gid, MAIL_GID)
        self.assertIn('root mail 2755 %s' % MLOCK, run(['dpkg-statoverride', '--list', MLOCK])[1])
        self.assertRegex(dpkg(['-c', [d for d in self.debs if 'mailutils' in d][0]]),
                         r'-rwxr-xr-x root/root .* \./usr/sbin/mlock\n')
        # the PAM services
        for svc in ('imap', 'pop'):
            self.assertIn('@include common-auth', open('/etc/pam.d/' + svc).read())
        # xinetd files and socket units installed, none of them enabled
        for name in ('imapd', 'ipop3d'):
            text = open('/etc/xinetd.d/' + name).read()
            self.assertEqual(len(re.findall(r'disable\s*=\s*yes', text)), 2, text)
            self.assertNotRegex(text, r'disable\s*=\s*no')
            self.assertIn('/usr/sbin/' + name, text)
        for unit in UNITS:
            self.assertTrue(os.path.exists('/lib/systemd/system/' + unit), unit)
            self.assertIn('Accept=yes', open('/lib/systemd/system/' + unit).read())
            tmpl = unit.replace('.socket', '@.service')
            self.assertIn('ExecStart=/usr/sbin/', open('/lib/systemd/system/' + tmpl).read())
            self.assertEqual(glob.glob('/etc/systemd/system/*/' + unit), [], unit)
        # the certificates: made by postinst unless there were some
        for c in CERTS:
            self.assertTrue(os.path.exists(c), c)
        for name in ('imapd', 'ipop3d'):
            key = '/etc/ssl/private/%s.pem' % name
            if not self.before[key]:
                self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
                rc, out = run(['openssl', 'x509', '-in', '/etc/ssl/certs/%s.pem' % name,
                               '-noout', '-subject'])
                self.assertIn('CN', out)

    def test_2_same_files_as_make_install(self):
        """make install (PREFIX=/usr, units in /lib/systemd/system) installs
        exactly the package's files; make uninstall removes them all but
        an /etc file that was changed."""
        src = os.path.join(self.tmp, 'src')
        stage = os.path.join(self.tmp, 'stage')
        make = ['make', '-s', 'PREFIX=/usr', 'SYSTEMDUNITDIR=/lib/systemd/system',
                'DESTDIR=' + stage]
        run(make + ['install'], cwd=src, timeout=BUILD_TIMEOUT)
        staged = {}
        for d, _, files in os.walk(stage):
            for f in files:
                p = os.path.join(d, f)
                staged['/' + os.path.relpath(p, stage)] = p
        packaged = set()
        for p in self.pkg_paths:
            if os.path.isdir(p) or PKG_ONLY.match(p):
                continue
            packaged.add(p)
        want = {p[:-3] if p.startswith('/usr/share/man/') and p.endswith('.gz') else p
                for p in packaged}
        self.assertEqual(sorted(staged), sorted(want))
        # the same bytes, except binaries (the package's are stripped)
        for p, s in staged.items():
            if p.startswith(('/usr/sbin/', '/usr/bin/')):
                continue
            data = open(s, 'rb').read()
            if p.startswith('/usr/share/man/'):
                self.assertEqual(gzip.open(p + '.gz').read(), data, p)
            else:
                self.assertEqual(open(p, 'rb').read(), data, p)
        # an /etc file the administrator changed survives uninstall
        edited = os.path.join(stage, 'etc/pam.d/pop')
        with open(edited, 'a') as f:
            f.write('# local change\n')
        run(make + ['uninstall'], cwd=src, timeout=60)
        left = [os.path.join(d, f) for d, _, files in os.walk(stage) for f in files]
        self.assertEqual(left, [edited])

    def test_3_lintian_no_errors(self):
        changes = glob.glob(os.path.join(self.tmp, '*.changes'))
        self.assertEqual(len(changes), 1)
        rc, out = run(['lintian', '--fail-on', 'error', changes[0]], timeout=120, check=False)
        self.assertEqual([l for l in out.splitlines() if l.startswith('E:')], [], out)
        self.assertEqual(rc, 0, out)

    # ---- serving through xinetd ----

    def test_4_imap_through_xinetd(self):
        self.start_xinetd()
        m = imaplib.IMAP4('127.0.0.1', self.ports['imap'], timeout=NET_TIMEOUT)
        try:
            self.assertIn(b'STARTTLS', m.capability()[1][0])
            m.login(USER, PASSWORD)
            typ, data = m.select('INBOX')      # imaplib raises if READ-ONLY
            self.assertEqual((typ, data), ('OK', [b'1']))
            typ, data = m.fetch('1', '(BODY.PEEK[])')
            self.assertEqual(typ, 'OK')
            self.assertEqual(data[0][1], MESSAGE.replace(b'\n', b'\r\n'))
            self.assertEqual(m.store('1', '+FLAGS', '(\\Seen \\Flagged)')[0], 'OK')
            m.close()
        finally:
            m.logout()
        # written back to the spool (the session had the dotlock via mlock)
        spool = self.spool()
        self.assertIn(SUBJECT.encode(), spool)
        self.assertRegex(spool, rb'\nStatus: RO\n')
        self.assertRegex(spool, rb'\nX-Status: F\n')
        self.assertFalse(os.path.exists(self.inbox + '.lock'))

    def test_5_imaps_through_xinetd(self):
        self.start_xinetd()
        m = imaplib.IMAP4_SSL('127.0.0.1', self.ports['imaps'], ssl_context=tls_context(),
                              timeout=NET_TIMEOUT)
        try:
            self.assertEqual(m.sock.getpeercert(binary_form=True),
                             pem_der('/etc/ssl/certs/imapd.pem'))
            m.login(USER, PASSWORD)
            self.assertEqual(m.select('INBOX', readonly=True), ('OK', [b'1']))
            typ, data = m.fetch('1', '(FLAGS)')
            self.assertIn(b'\\Flagged', data[0])
        finally:
            m.logout()

    def test_6_pop3_through_xinetd(self):
        self.start_xinetd()
        p = poplib.POP3('127.0.0.1', self.ports['pop3'], timeout=NET_TIMEOUT)
        try:
            p.user(USER)
            p.pass_(PASSWORD)
            self.assertEqual(p.stat()[0], 1)
            resp, lines, _ = p.retr(1)
            self.assertTrue(resp.startswith(b'+OK'))
            self.assertIn(b'Subject: ' + SUBJECT.encode(), lines)
            self.assertEqual(lines[-2:], [b'The first line of the body.', b'The last line.'])
            p.dele(1)
        finally:
            p.quit()
        self.assertNotIn(SUBJECT.encode(), self.spool())     # deleted at QUIT

    def test_7_pop3s_through_xinetd(self):
        self.start_xinetd()
        p = poplib.POP3_SSL('127.0.0.1', self.ports['pop3s'], context=tls_context(),
                            timeout=NET_TIMEOUT)
        try:
            self.assertEqual(p.sock.getpeercert(binary_form=True),
                             pem_der('/etc/ssl/certs/ipop3d.pem'))
            p.user(USER)
            p.pass_(PASSWORD)
            self.assertEqual(p.stat()[0], 0)
        finally:
            p.quit()
        with self.assertRaises(poplib.error_proto):
            q = poplib.POP3('127.0.0.1', self.ports['pop3'], timeout=NET_TIMEOUT)
            try:
                q.user(USER)
                q.pass_('wrong-' + PASSWORD)
            finally:
                q.close()

    def test_8_mlock_takes_the_spool_lock(self):
        """As the user (not in group mail), mlock creates and removes
        /var/mail/USER.lock: the statoverride makes it work."""
        lock = self.inbox + '.lock'
        p = subprocess.Popen(['setpriv', '--reuid=%d' % self.uid, '--regid=%d' % self.gid,
                              '--clear-groups', MLOCK],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            self.assertEqual(p.stdout.readline(), b'+\n')
            self.assertTrue(os.path.exists(lock))
            self.assertEqual(os.stat(lock).st_gid, MAIL_GID)
        finally:
            p.stdin.close()
            p.wait(timeout=30)
        self.assertFalse(os.path.exists(lock))

    # ---- removal ----

    def test_9_purge_leaves_nothing(self):
        self.stop_xinetd()
        dpkg(['--purge'] + list(PACKAGES))
        for pkg in PACKAGES:
            rc, out = run(['dpkg-query', '-W', '-f=${Status}', pkg], check=False)
            self.assertTrue(rc != 0 or 'not-installed' in out, out)
            self.assertEqual(glob.glob('/var/lib/dpkg/info/%s.*' % pkg), [])
        # every file and every directory the install created is gone
        left = [p for p in self.pkg_paths if os.path.lexists(p) and
                os.path.normpath(p) not in self.dirs_before]
        self.assertEqual(left, [])
        for c in CERTS + ['/var/lib/cclient-imapd']:
            self.assertEqual(os.path.lexists(c), self.before[c], c)
        self.assertEqual(run(['dpkg-statoverride', '--list'])[1], self.before_overrides)
        self.assertEqual(glob.glob('/var/lib/systemd/deb-systemd-helper-*/*/imap*') +
                         glob.glob('/var/lib/systemd/deb-systemd-helper-*/*/pop3*'), [])
        # and the user
        remove_user()
        with self.assertRaises(KeyError):
            pwd.getpwnam(USER)
        self.assertFalse(os.path.lexists(self.inbox))
        self.assertFalse(os.path.lexists(os.path.join(self.tmp, 'home')))


if __name__ == '__main__':
    unittest.main()
