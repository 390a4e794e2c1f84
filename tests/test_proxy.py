"""Many backends behind nginx's mail proxy (issue 18, docs/scaling.md).

The test builds its own little network out of Linux network namespaces
(ip netns, veth pairs on a bridge; private addresses 10.77.0.0/24 inside
these namespaces only, nothing leaves them):

    ccpx-client 10.77.0.2   the test's clients (imaplib, poplib)
    ccpx-proxy  10.77.0.1   Debian's nginx with the mail module, and
                            mail-route on 127.0.0.1:9000 as its auth_http
    ccpx-b1/b2/b3 10.77.0.11-13   imapd and ipop3d, each backend with its
                            own spool and homes; trusted-proxies 10.77.0.1

Each backend runs imapd and ipop3d from its own private xinetd, as an
administrator would run them (`ip netns exec ccpx-bN xinetd -f CONF
-pidfile F -dontfork`: its own configuration file and log file, in the
foreground): xinetd accepts each connection and starts imapd or ipop3d
on it, the socket on stdin/stdout, so the PROXY header nginx sends is
read in inetd mode. A backend's daemon is stopped and started again by
disabling its service and sending xinetd SIGHUP. xinetd also puts the
socket on stderr, so sanitizer builds write their reports to files
(ASAN_OPTIONS/UBSAN_OPTIONS log_path), which the module checks. The
servers run under the cwrap wrappers (given by xinetd's env attribute)
with a private passwd (the site's shared user directory: every host
knows every user; mail lives only on the user's backend). xinetd, nginx
and ip run as real root: the test needs root and working `ip netns`,
and fails (not skips) when it has neither.

Cleanup: every namespace is named ccpx-*, and setUpClass first removes
any left by an earlier run (killing the processes still inside them);
tearDownClass stops what it started and deletes the namespaces.
"""

import contextlib
import crypt
import ctypes
import hashlib
import hmac
import imaplib
import os
import poplib
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from cctest import MailEnv, binary, sample_message  # noqa: E402

NS_PREFIX = 'ccpx-'
NET = '10.77.0.'
PROXY_IP = NET + '1'
CLIENT_IP = NET + '2'
BACKENDS = {'b1': NET + '11', 'b2': NET + '12', 'b3': NET + '13'}
NGINX = '/usr/sbin/nginx'
NGINX_MAIL = '/usr/lib/nginx/modules/ngx_mail_module.so'
XINETD = '/usr/sbin/xinetd'
STEP_TIMEOUT = 20

# user -> (password, home backend, in the CRAM-MD5/APOP database)
USERS = {
    'alice': ('alicepw', 'b1', False),
    'brian': ('brianpw', 'b2', False),
    'chris': ('chrispw', 'b3', False),   # routed by the map's default line
    'dora': ('dorapw', 'b2', True),
    'mover': ('moverpw', 'b1', False),
    'mover2': ('mover2pw', 'b1', False),   # moved by mailutil transfer
}

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def setns(name):
    fd = os.open('/run/netns/' + name, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, 'setns %s: %s' % (name, os.strerror(e)))
    finally:
        os.close(fd)


@contextlib.contextmanager
def in_netns(name):
    """Sockets created inside the block live in namespace name."""
    orig = os.open('/proc/self/ns/net', os.O_RDONLY)
    try:
        setns(name)
        yield
    finally:
        libc.setns(orig, CLONE_NEWNET)
        os.close(orig)


def ip(*args, check=True):
    return subprocess.run(['ip'] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=STEP_TIMEOUT, check=check)


def netns_usable():
    """None when we can build namespaces, else the reason."""
    if os.geteuid() != 0:
        return 'needs root for ip netns (CI runs as root)'
    if shutil.which('ip') is None:
        return 'ip (iproute2) is not installed'
    if not os.path.exists(NGINX) or not os.path.exists(NGINX_MAIL):
        return 'nginx with the mail module is not installed (nginx, libnginx-mod-mail)'
    if not os.path.exists(XINETD):
        return 'xinetd is not installed'
    name = NS_PREFIX + 'probe'
    ip('netns', 'del', name, check=False)
    r = ip('netns', 'add', name, check=False)
    if r.returncode != 0:
        return 'ip netns add fails: %s' % r.stderr.decode(errors='replace').strip()
    ip('netns', 'del', name, check=False)
    return None


def remove_leftovers():
    """Namespaces (and their processes) of an earlier, interrupted run."""
    r = ip('netns', 'list', check=False)
    for line in r.stdout.decode().splitlines():
        name = line.split()[0] if line.split() else ''
        if not name.startswith(NS_PREFIX):
            continue
        pids = ip('netns', 'pids', name, check=False).stdout.decode().split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        ip('netns', 'del', name, check=False)


def wait_listening(ns, addr, port, proc, what):
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError('%s exited with %s' % (what, proc.returncode))
        try:
            with in_netns(ns):
                socket.create_connection((addr, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError('%s did not listen on %s:%d' % (what, addr, port))


def cram_digest(secret, challenge):
    return hmac.new(secret.encode(), challenge, hashlib.md5).hexdigest()


class World:
    """The proxy, three backends and a client namespace (see the module
    docstring). Used by this test and by bench/proxy-load.py."""

    def __init__(self, backend_settings=None, plain_proxy_port=None):
        # plain_proxy_port: an extra IMAP listener without TLS on the
        # proxy (bench/proxy-load.py, to compare like with like)
        self.plain_proxy_port = plain_proxy_port
        self.procs = []          # (name, Popen)
        self.namespaces = []
        self.envs = {}
        self.xinetd = {}         # backend -> Popen
        self.disabled = set()    # (backend, 'imapd'/'ipop3d') stopped
        self.backend_settings = backend_settings or {}
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    # ---- network ----
    def _net(self):
        sw = NS_PREFIX + 'sw'
        ip('netns', 'add', sw)
        self.namespaces.append(sw)
        ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge')
        ip('-n', sw, 'link', 'set', 'br0', 'up')
        hosts = [('proxy', PROXY_IP), ('client', CLIENT_IP)] + \
            [(b, a) for b, a in sorted(BACKENDS.items())]
        for host, addr in hosts:
            ns = NS_PREFIX + host
            ip('netns', 'add', ns)
            self.namespaces.append(ns)
            ip('-n', sw, 'link', 'add', 'v-' + host, 'type', 'veth', 'peer',
               'name', 'eth0', 'netns', ns)
            ip('-n', sw, 'link', 'set', 'v-' + host, 'master', 'br0', 'up')
            ip('-n', ns, 'addr', 'add', addr + '/24', 'dev', 'eth0')
            ip('-n', ns, 'link', 'set', 'eth0', 'up')
            ip('-n', ns, 'link', 'set', 'lo', 'up')

    def ns(self, host):
        return NS_PREFIX + host

    def spawn(self, host, name, argv, env, stderr_path):
        ns = self.ns(host)
        with open(stderr_path, 'ab') as err:
            p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=err,
                                 preexec_fn=lambda: setns(ns))
        self.procs.append((name, p))
        return p

    # ---- users ----
    def _users(self, env, mail_here):
        """Every host knows every user (a shared directory); only the
        users in mail_here get a spool file here."""
        uid = 2001
        with open(env.passwd, 'w') as pw, open(env.group, 'w') as gr, \
                open(env.userfile, 'w') as uf:
            pw.write('root:x:0:0:root:/root:/bin/sh\n'
                     'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n')
            gr.write('root:x:0:\nmail:x:8:\nnogroup:x:65534:\n')
            for i, (user, (password, _, _)) in enumerate(sorted(USERS.items())):
                u = uid + i
                home = os.path.join(env.dir, 'home', user)
                os.makedirs(home, exist_ok=True)
                os.chown(home, u, u)
                pw.write('%s:x:%d:%d:%s:%s:/bin/sh\n' % (user, u, u, user, home))
                gr.write('%s:x:%d:\n' % (user, u))
                uf.write('%s:%s:%d:%d:%s:\n' % (
                    user, crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512)),
                    u, u, home))
                if user in mail_here:
                    spool = os.path.join(env.spool, user)
                    open(spool, 'ab').close()
                    os.chown(spool, u, u)
                    os.chmod(spool, 0o600)
        cram = env.settings['cram-md5-database']
        with open(cram, 'w') as f:
            for user, (password, _, in_cram) in sorted(USERS.items()):
                if in_cram:
                    f.write('%s\t%s\n' % (user, password))
        os.chmod(cram, 0o600)

    def write_map(self, overrides=None):
        """The route map, replaced atomically (write, then rename)."""
        lines = ['# written by tests/test_proxy.py']
        homes = {u: h for u, (_, h, _) in USERS.items()}
        homes.update(overrides or {})
        for user, home in sorted(homes.items()):
            if user != 'chris':
                lines.append('%-8s %s' % (user, BACKENDS.get(home, home)))
        lines.append('*        %s:143:110' % BACKENDS['b3'])
        tmp = self.map_path + '.new'
        with open(tmp, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        os.rename(tmp, self.map_path)

    # ---- the hosts ----
    def _build(self):
        remove_leftovers()
        self._net()
        self.proxy_env = MailEnv(user='alice', password='alicepw')
        self.map_path = os.path.join(self.proxy_env.dir, 'route.map')
        self.write_map()
        for b, addr in sorted(BACKENDS.items()):
            env = MailEnv(user='alice', password='alicepw', config=dict({
                'trusted-proxies': PROXY_IP + '/32',
                'route-map': self.map_path,
                'server-name': addr,
                'plaintext-logins': 'no',
                'login-failure-delay': '0',
            }, **self.backend_settings))
            self._users(env, [u for u, (_, h, _) in USERS.items() if h == b])
            self.envs[b] = env
            self._xinetd(b)
        penv = self.proxy_env
        penv.write_config(**{'route-map': self.map_path,
                             'route-state-file': os.path.join(penv.dir, 'failures'),
                             'login-failure-delay': '0',
                             'login-failures-max': '3'})
        self._users(penv, [])
        self.route_proc = self.spawn('proxy', 'mail-route',
                                     [binary('mail-route'), '-l', '127.0.0.1:9000'],
                                     penv.environ(as_user=False),
                                     os.path.join(penv.dir, 'mail-route.stderr'))
        wait_listening(self.ns('proxy'), '127.0.0.1', 9000, self.route_proc, 'mail-route')
        self._nginx()

    # ---- the backends' xinetd ----
    PORTS = {'imapd': 143, 'ipop3d': 110}

    def server_env(self, b):
        """What xinetd gives imapd/ipop3d: the wrappers, the backend's
        configuration and log, sanitizer reports to files."""
        env = self.envs[b]
        full = env.environ(as_user=False)
        keep = {k: v for k, v in full.items()
                if k.startswith(('NSS_WRAPPER', 'UID_WRAPPER', 'CCLIENT_'))
                or k in ('LD_PRELOAD', 'HOME', 'USER', 'LOGNAME')}
        keep['PATH'] = '/usr/sbin:/usr/bin:/sbin:/bin'
        keep['ASAN_OPTIONS'] = full['ASAN_OPTIONS'] + ':log_path=' + \
            os.path.join(env.dir, 'sanitizer-asan')
        keep['UBSAN_OPTIONS'] = full['UBSAN_OPTIONS'] + ':log_path=' + \
            os.path.join(env.dir, 'sanitizer-ubsan')
        for k, v in keep.items():
            # xinetd's env attribute is a list split at white space
            assert not re.search(r'\s', k + v), (k, v)
        return keep

    def write_xinetd_conf(self, b):
        env = self.envs[b]
        conf = os.path.join(env.dir, 'xinetd.conf')
        envs = ' '.join('%s=%s' % kv for kv in sorted(self.server_env(b).items()))
        text = ('defaults\n{\n    log_type = FILE %s\n'
                '    log_on_success = HOST PID EXIT\n    log_on_failure = HOST\n}\n'
                % os.path.join(env.dir, 'xinetd.log'))
        for prog, port in sorted(self.PORTS.items()):
            text += '''
service cc-%(prog)s
{
    type        = UNLISTED
    socket_type = stream
    protocol    = tcp
    wait        = no
    user        = root
    bind        = %(addr)s
    port        = %(port)d
    server      = %(server)s
    passenv     =
    env         = %(env)s
    instances   = UNLIMITED
    per_source  = UNLIMITED
    cps         = 100000 1
    disable     = %(disable)s
}
''' % {'prog': prog, 'addr': BACKENDS[b], 'port': port, 'server': binary(prog),
               'env': envs, 'disable': 'yes' if (b, prog) in self.disabled else 'no'}
        tmp = conf + '.new'
        with open(tmp, 'w') as f:
            f.write(text)
        os.rename(tmp, conf)
        return conf

    def _xinetd(self, b):
        env = self.envs[b]
        conf = self.write_xinetd_conf(b)
        # as an administrator would: ip netns exec, in the foreground
        p = self.spawn(b, 'xinetd-%s' % b,
                       ['ip', 'netns', 'exec', self.ns(b), XINETD, '-f', conf,
                        '-pidfile', os.path.join(env.dir, 'xinetd.pid'), '-dontfork'],
                       {'PATH': '/usr/sbin:/usr/bin:/sbin:/bin'},
                       os.path.join(env.dir, 'xinetd.stderr'))
        self.xinetd[b] = p
        for prog, port in sorted(self.PORTS.items()):
            wait_listening(self.ns(b), BACKENDS[b], port, p, 'xinetd (%s) on %s' % (prog, b))

    def _reconfigure(self, b, prog, listening):
        """Rewrite b's xinetd.conf, SIGHUP xinetd (a hard
        reconfiguration), wait until prog's port is (not) listening."""
        self.write_xinetd_conf(b)
        p = self.xinetd[b]
        p.send_signal(signal.SIGHUP)
        port = self.PORTS[prog]
        if listening:
            wait_listening(self.ns(b), BACKENDS[b], port, p, '%s on %s' % (prog, b))
            return
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with in_netns(self.ns(b)):
                    socket.create_connection((BACKENDS[b], port), timeout=1).close()
            except ConnectionRefusedError:
                return
            time.sleep(0.05)
        raise TimeoutError('xinetd on %s still accepts %s' % (b, prog))

    def start_backend(self, b, prog):
        self.disabled.discard((b, prog))
        self._reconfigure(b, prog, True)

    def stop_backend(self, b, prog):
        self.disabled.add((b, prog))
        self._reconfigure(b, prog, False)

    def _nginx(self):
        d = os.path.join(self.proxy_env.dir, 'nginx')
        os.makedirs(os.path.join(d, 'logs'))
        # a certificate naming the proxy's address, so clients that check
        # the host (mbsync, fetchmail --sslcertck) accept it
        self.cert, key = os.path.join(d, 'proxy.crt'), os.path.join(d, 'proxy.key')
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
                        '-keyout', key, '-out', self.cert, '-days', '2', '-subj',
                        '/CN=%s' % PROXY_IP, '-addext',
                        'subjectAltName=IP:%s,DNS:%s' % (PROXY_IP, PROXY_IP)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60)
        os.chmod(key, 0o600)
        self.nginx_log = os.path.join(d, 'error.log')
        conf = os.path.join(d, 'nginx.conf')
        # the capabilities nginx shows before login: what our backends
        # offer after it (docs/scaling.md has the same lines)
        with open(conf, 'w') as f:
            f.write('''
load_module %(module)s;
daemon off;
worker_processes 2;
pid %(dir)s/nginx.pid;
error_log %(log)s info;
events { worker_connections 2048; }
mail {
    server_name proxy.test;
    auth_http 127.0.0.1:9000/auth;
    auth_http_timeout 20s;
    proxy_pass_error_message on;
    proxy_protocol on;
    proxy_timeout 120s;
    ssl_certificate %(cert)s;
    ssl_certificate_key %(key)s;
    imap_capabilities IMAP4rev1 LITERAL+ SASL-IR IDLE NAMESPACE UIDPLUS
                      CHILDREN UNSELECT ID ENABLE MOVE MULTIAPPEND ESEARCH
                      WITHIN SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES
                      BINARY I18NLEVEL=1 LIST-EXTENDED LIST-STATUS
                      SPECIAL-USE CREATE-SPECIAL-USE STATUS=SIZE ESORT
                      SEARCHRES SORT=DISPLAY COMPRESS=DEFLATE;
    imap_auth login plain cram-md5;
    pop3_capabilities TOP UIDL RESP-CODES AUTH-RESP-CODE "EXPIRE NEVER"
                      "LOGIN-DELAY 180" USER;
    pop3_auth plain apop cram-md5;
    server { listen %(ip)s:143; protocol imap; starttls only; }
    server { listen %(ip)s:993 ssl; protocol imap; }
    server { listen %(ip)s:110; protocol pop3; starttls only; }
    server { listen %(ip)s:995 ssl; protocol pop3; }
    %(plain)s
}
''' % {'module': NGINX_MAIL, 'dir': d, 'log': self.nginx_log,
                'cert': self.cert, 'key': key, 'ip': PROXY_IP,
                'plain': 'server { listen %s:%d; protocol imap; starttls off; }'
                % (PROXY_IP, self.plain_proxy_port) if self.plain_proxy_port else ''})
        subprocess.run([NGINX, '-t', '-p', d, '-c', conf], check=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=STEP_TIMEOUT,
                       preexec_fn=lambda: setns(self.ns('proxy')))
        self.nginx = self.spawn('proxy', 'nginx', [NGINX, '-p', d, '-c', conf],
                                {'PATH': '/usr/sbin:/usr/bin:/bin'},
                                os.path.join(d, 'stderr'))
        for port in (143, 993, 110, 995) + ((self.plain_proxy_port,)
                                             if self.plain_proxy_port else ()):
            wait_listening(self.ns('proxy'), PROXY_IP, port, self.nginx, 'nginx')

    def close(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for name, p in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        for ns in reversed(self.namespaces):
            # listener children (sessions) may outlive their parent
            for pid in ip('netns', 'pids', ns, check=False).stdout.decode().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            ip('netns', 'del', ns, check=False)
        self.namespaces = []
        for env in list(self.envs.values()) + [getattr(self, 'proxy_env', None)]:
            if env is not None:
                env.close()

    def sanitizer_reports(self):
        out = ''
        for env in list(self.envs.values()) + [self.proxy_env]:
            for name in os.listdir(env.dir):
                if name.endswith('.stderr') or name.startswith('sanitizer-'):
                    with open(os.path.join(env.dir, name), errors='replace') as f:
                        text = f.read()
                    if 'Sanitizer' in text or 'runtime error' in text:
                        out += '== %s\n%s\n' % (name, text)
        return out

    # ---- clients (from the client namespace) ----
    def tls_context(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.check_hostname = False
        return ctx

    def imap(self, mode='starttls', host=PROXY_IP, timeout=STEP_TIMEOUT):
        with in_netns(self.ns('client')):
            if mode == 'implicit':
                c = imaplib.IMAP4_SSL(host, 993, ssl_context=self.tls_context(),
                                      timeout=timeout)
            else:
                c = imaplib.IMAP4(host, 143, timeout=timeout)
        if mode == 'starttls':
            c.starttls(ssl_context=self.tls_context())
        return c

    def pop(self, mode='starttls', host=PROXY_IP, timeout=STEP_TIMEOUT):
        with in_netns(self.ns('client')):
            if mode == 'implicit':
                c = poplib.POP3_SSL(host, 995, context=self.tls_context(),
                                    timeout=timeout)
            else:
                c = poplib.POP3(host, 110, timeout=timeout)
        if mode == 'starttls':
            c.stls(context=self.tls_context())
        return c

    def spool(self, b, user):
        try:
            with open(os.path.join(self.envs[b].spool, user), 'rb') as f:
                return f.read()
        except FileNotFoundError:
            return b''

    def log(self, b):
        return self.envs[b].log()


class ProxyTest(unittest.TestCase):
    world = None

    @classmethod
    def setUpClass(cls):
        cls.reason = netns_usable()
        if cls.reason is None:
            cls.world = World()

    @classmethod
    def tearDownClass(cls):
        reports = ''
        if cls.world is not None:
            reports = cls.world.sanitizer_reports()
            cls.world.close()
            cls.world = None
        # nothing of ours may remain
        left = [l for l in ip('netns', 'list', check=False).stdout.decode().splitlines()
                if l.startswith(NS_PREFIX)]
        assert not left, left
        # a sanitizer build's report in any server's stderr fails the module
        assert not reports, reports[-4000:]

    def setUp(self):
        if self.world is None:
            self.fail('cannot build the test network: %s' % self.reason)
        self.w = self.world

    def login(self, user, mode='starttls'):
        c = self.w.imap(mode)
        typ, data = c.login(user, USERS[user][0])
        self.assertEqual(typ, 'OK', data)
        return c, data

    # ---- routing ----
    def test_append_lands_on_the_users_backend_only(self):
        for user, (password, home, _) in sorted(USERS.items()):
            if user.startswith('mover'):
                continue
            for mode in ('starttls', 'implicit'):
                subject = 'routed-%s-%s-%d' % (user, mode, time.monotonic_ns())
                c, data = self.login(user, mode)
                # the backend's LOGIN OK, with its capabilities, reaches
                # the client through nginx
                self.assertIn(b'[CAPABILITY IMAP4rev1', data[0])
                typ, _ = c.append('INBOX', None, None,
                                  sample_message(1, subject=subject))
                self.assertEqual(typ, 'OK')
                typ, data = c.select('INBOX')
                self.assertEqual(typ, 'OK')
                typ, found = c.search(None, 'SUBJECT', subject)
                self.assertEqual(len(found[0].split()), 1)
                c.logout()
                for b in BACKENDS:
                    inbox = self.w.spool(b, user)
                    if b == home:
                        self.assertIn(subject.encode(), inbox, (user, b))
                    else:
                        self.assertNotIn(subject.encode(), inbox, (user, b))
                    for other in USERS:
                        if other != user:
                            self.assertNotIn(subject.encode(), self.w.spool(b, other))

    def test_backend_logs_show_the_client_address(self):
        c, _ = self.login('alice')
        typ, data = c.xatom('ID', 'NIL')
        self.assertEqual(typ, 'OK')
        self.assertIn(b'"x-client-address" "%s"' % CLIENT_IP.encode(),
                      b' '.join(c.untagged_responses.get('ID', [])))
        c.logout()
        log = self.w.log('b1')
        # the PROXY header named the client; the session logs it
        self.assertIn('via proxy %s' % PROXY_IP, log)
        self.assertRegex(log, r'Login user=alice host=%s\b' % re.escape(CLIENT_IP))
        self.assertNotRegex(log, r'user=alice host=%s\b' % re.escape(PROXY_IP))

    def test_backends_run_from_xinetd(self):
        """Every session through the proxy is a server xinetd started on
        the accepted socket (inetd mode), which read nginx's PROXY header
        from its stdin."""
        c, _ = self.login('alice')
        c.noop()
        c.logout()
        p = self.w.pop('implicit')
        p.user('alice')
        p.pass_('alicepw')
        p.quit()
        with open(os.path.join(self.w.envs['b1'].dir, 'xinetd.log')) as f:
            xlog = f.read()
        log = self.w.log('b1')
        for prog in ('imapd', 'ipop3d'):
            pids = re.findall(r'START: cc-%s pid=(\d+) from=(?:::ffff:)?%s\b'
                              % (prog, re.escape(PROXY_IP)), xlog)
            self.assertTrue(pids, xlog)
            # the last of them logged alice's login with the client's address
            self.assertRegex(log, r'%s\[%s\]: .*user=alice host=%s\b'
                             % (prog, pids[-1], re.escape(CLIENT_IP)))

    def test_pop3_starttls_implicit_and_apop(self):
        subject = 'pop-%d' % time.monotonic_ns()
        c, _ = self.login('brian')
        c.append('INBOX', None, None, sample_message(1, subject=subject))
        c.logout()
        for mode in ('starttls', 'implicit'):
            p = self.w.pop(mode)
            p.user('brian')
            self.assertTrue(p.pass_('brianpw').startswith(b'+OK'))
            count, _ = p.stat()
            self.assertGreaterEqual(count, 1)
            text = b'\n'.join(p.retr(count)[1])
            self.assertIn(subject.encode(), text)
            p.quit()
        # APOP: nginx's own timestamp; mail-route checks the digest and
        # hands nginx the secret for its USER/PASS to the backend
        p = self.w.pop('starttls')
        self.assertTrue(p.apop('dora', 'dorapw').startswith(b'+OK'))
        p.stat()
        p.quit()
        self.assertRegex(self.w.log('b2'), r'user=dora host=%s\b' % re.escape(CLIENT_IP))

    def test_imap_cram_md5_through_the_proxy(self):
        c = self.w.imap('implicit')
        typ, _ = c.login_cram_md5('dora', 'dorapw')
        self.assertEqual(typ, 'OK')
        typ, _ = c.select('INBOX')
        self.assertEqual(typ, 'OK')
        c.logout()

    def run_client(self, argv, home):
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=120, env=dict(os.environ, HOME=home, FETCHMAILHOME=home),
                           preexec_fn=lambda: setns(self.w.ns('client')))
        return p.returncode, p.stdout.decode(errors='replace')

    def test_fetchmail_through_the_proxy(self):
        work = os.path.join(self.w.proxy_env.dir, 'fetchmail')
        out = os.path.join(work, 'out')
        os.makedirs(out)
        subject = 'fetchmail-%d' % time.monotonic_ns()
        c, _ = self.login('chris')
        c.append('INBOX', None, None, sample_message(1, subject=subject))
        c.logout()
        for proto, ssl_args in (('pop3', ['--sslproto', 'tls1.2+']),
                                ('imap', ['--ssl'])):
            rc_path = os.path.join(work, 'rc')
            with open(rc_path, 'w') as f:
                f.write('poll %s protocol %s auth password user "chris" password '
                        '"chrispw" is "chris" here\n' % (PROXY_IP, proto))
            os.chmod(rc_path, 0o600)
            for f in os.listdir(out):
                os.unlink(os.path.join(out, f))
            rc, log = self.run_client(
                ['fetchmail', '-f', rc_path, '--keep', '--all', '--invisible',
                 '--nosoftbounce', '-m', "sh -c 'cat > %s/msg.$$'" % out,
                 '--sslcertfile', self.w.cert, '--sslcertck',
                 '--pidfile', os.path.join(work, 'pid')] + ssl_args, work)
            self.assertIn(rc, (0, 1), log)
            got = b''
            for f in os.listdir(out):
                with open(os.path.join(out, f), 'rb') as fh:
                    got += fh.read()
            self.assertIn(subject.encode(), got, (proto, log))

    def test_mbsync_through_the_proxy(self):
        work = os.path.join(self.w.proxy_env.dir, 'mbsync')
        local = os.path.join(work, 'maildir')
        os.makedirs(local)
        subject = 'mbsync-%d' % time.monotonic_ns()
        c, _ = self.login('brian')
        c.append('INBOX', None, None, sample_message(1, subject=subject))
        c.logout()
        rc_path = os.path.join(work, 'rc')
        for ssltype in ('STARTTLS', 'IMAPS'):
            with open(rc_path, 'w') as f:
                f.write('IMAPAccount t\nHost %s\nUser brian\nPass brianpw\nSSLType %s\n'
                        'CertificateFile %s\nAuthMechs LOGIN\n\n'
                        'IMAPStore far\nAccount t\n\n'
                        'MaildirStore near\nPath %s/\nInbox %s/INBOX\n\n'
                        'Channel c\nFar :far:\nNear :near:\nPatterns INBOX\nCreate Near\n'
                        'Sync All\nExpunge Both\nSyncState *\n'
                        % (PROXY_IP, ssltype, self.w.cert, local, local))
            rc, log = self.run_client(['mbsync', '-c', rc_path, '-a'], work)
            self.assertEqual(rc, 0, log)
        files = []
        for sub in ('cur', 'new'):
            d = os.path.join(local, 'INBOX', sub)
            files += [os.path.join(d, f) for f in os.listdir(d)]
        mine = [f for f in files if subject.encode() in open(f, 'rb').read()]
        self.assertEqual(len(mine), 1)
        # flag it locally; the next sync takes the flag to brian's backend
        base = os.path.join(local, 'INBOX', 'cur', os.path.basename(mine[0]).split(':')[0])
        os.rename(mine[0], base + ':2,FS')
        rc, log = self.run_client(['mbsync', '-c', rc_path, '-a'], work)
        self.assertEqual(rc, 0, log)
        c, _ = self.login('brian')
        c.select('INBOX')
        typ, found = c.search(None, 'FLAGGED', 'SUBJECT', subject)
        self.assertEqual(len(found[0].split()), 1)
        c.logout()

    # ---- refusals ----
    def test_wrong_password_is_refused_at_the_proxy(self):
        before = {b: self.w.log(b) for b in BACKENDS}
        c = self.w.imap('starttls')
        t0 = time.monotonic()
        with self.assertRaises(imaplib.IMAP4.error) as cm:
            c.login('alice', 'wrong')
        self.assertIn('AUTHENTICATIONFAILED', str(cm.exception))
        self.assertLess(time.monotonic() - t0, 15)
        # the same connection may try again and succeed
        typ, _ = c.login('alice', 'alicepw')
        self.assertEqual(typ, 'OK')
        c.logout()
        p = self.w.pop('implicit')
        p.user('brian')
        with self.assertRaises(poplib.error_proto) as cm:
            p.pass_('wrong')
        self.assertIn(b'[AUTH]', cm.exception.args[0])
        p.close()
        # the backends never saw the wrong password
        for b in BACKENDS:
            new = self.w.log(b)[len(before[b]):]
            self.assertNotIn('failed', new.lower(), b)
        self.assertIn('login failed for "alice"', self.w.proxy_env.log())

    def test_plaintext_only_through_the_trusted_proxy(self):
        # directly from the client network: no plaintext without TLS
        # (the backend has no certificate: plaintext-logins no)
        with in_netns(self.w.ns('client')):
            c = imaplib.IMAP4(BACKENDS['b1'], 143, timeout=STEP_TIMEOUT)
        self.assertIn('LOGINDISABLED', c.capabilities)
        with self.assertRaises(imaplib.IMAP4.error) as cm:
            c.login('alice', 'alicepw')
        self.assertIn('PRIVACYREQUIRED', str(cm.exception))
        c.logout()
        # a PROXY header from an untrusted address is not believed: it
        # is just a bad command, and the log keeps the real peer
        with in_netns(self.w.ns('client')):
            s = socket.create_connection((BACKENDS['b1'], 143), timeout=STEP_TIMEOUT)
        f = s.makefile('rwb')
        self.assertTrue(f.readline().startswith(b'* OK'))
        f.write(b'PROXY TCP4 192.0.2.66 10.77.0.11 5555 143\r\nA1 LOGOUT\r\n')
        f.flush()
        rest = f.read()
        self.assertIn(b'BAD', rest)
        s.close()
        self.assertNotIn('192.0.2.66', self.w.log('b1'))
        # POP3 the same
        with in_netns(self.w.ns('client')):
            p = poplib.POP3(BACKENDS['b1'], 110, timeout=STEP_TIMEOUT)
        with self.assertRaises(poplib.error_proto):
            p.user('alice')
            p.pass_('alicepw')
        p.close()

    def test_down_backend_gives_a_clean_no(self):
        w = self.w
        keep, _ = self.login('alice')             # b1 session stays up
        keep.select('INBOX')
        # b3's imapd stopped: connection refused
        w.stop_backend('b3', 'imapd')
        # mail-route trusts a backend it saw up for 2 s (mail-route(8))
        time.sleep(2.5)
        try:
            c = w.imap('starttls')
            t0 = time.monotonic()
            with self.assertRaises(imaplib.IMAP4.error) as cm:
                c.login('chris', 'chrispw')
            self.assertIn('UNAVAILABLE', str(cm.exception))
            self.assertLess(time.monotonic() - t0, 10)
            # no Auth-Wait with that answer: nginx ends the connection
            self.assertEqual(c.readline(), b'')
            c.shutdown()
            self.assertEqual(keep.noop()[0], 'OK')
            other, _ = self.login('brian')          # b2 goes on
            other.logout()
        finally:
            w.start_backend('b3', 'imapd')
        # the whole host b3 gone (no answer at all): still a bounded NO
        ip('-n', w.ns('b3'), 'link', 'set', 'eth0', 'down')
        time.sleep(2.5)
        try:
            p = w.pop('implicit')
            p.user('chris')
            t0 = time.monotonic()
            with self.assertRaises(poplib.error_proto) as cm:
                p.pass_('chrispw')
            self.assertIn(b'unavailable', cm.exception.args[0])
            self.assertLess(time.monotonic() - t0, 15)
            p.close()
            self.assertEqual(keep.noop()[0], 'OK')
        finally:
            ip('-n', w.ns('b3'), 'link', 'set', 'eth0', 'up')
        keep.logout()
        c, _ = self.login('chris')                   # and back again
        c.logout()

    def test_auth_wait_grows_per_client_address(self):
        """mail-route's own answers to repeated failures from one address
        (talking HTTP to it directly inside the proxy namespace)."""
        def ask(password, attempt=1, client='192.0.2.50'):
            req = ('GET /auth HTTP/1.0\r\nHost: localhost\r\nAuth-Method: plain\r\n'
                   'Auth-User: alice\r\nAuth-Pass: %s\r\nAuth-Protocol: imap\r\n'
                   'Auth-Login-Attempt: %d\r\nClient-IP: %s\r\n\r\n'
                   % (password, attempt, client))
            with in_netns(self.w.ns('proxy')):
                s = socket.create_connection(('127.0.0.1', 9000), timeout=STEP_TIMEOUT)
            s.sendall(req.encode())
            out = b''
            while True:
                d = s.recv(4096)
                if not d:
                    break
                out += d
            s.close()
            return out.decode()
        waits = []
        for _ in range(4):
            r = ask('nope')
            self.assertIn('Auth-Status: [AUTHENTICATIONFAILED]', r)
            waits.append(int(re.search(r'Auth-Wait: (\d+)', r).group(1)))
        self.assertEqual(waits, [1, 2, 4, 8])
        # another address is not punished for it
        self.assertIn('Auth-Wait: 1\r\n', ask('nope', client='192.0.2.51'))
        # past login-failures-max on one connection: no Auth-Wait, so
        # nginx closes it
        self.assertNotIn('Auth-Wait', ask('nope', attempt=3, client='192.0.2.52'))
        # success clears the record
        r = ask('alicepw')
        self.assertIn('Auth-Status: OK\r\nAuth-Server: %s\r\nAuth-Port: 143\r\n'
                      % BACKENDS['b1'], r)
        self.assertIn('Auth-Wait: 1\r\n', ask('nope'))
        ask('alicepw')
        # hostile requests: a clean refusal, never a hang
        with in_netns(self.w.ns('proxy')):
            s = socket.create_connection(('127.0.0.1', 9000), timeout=STEP_TIMEOUT)
        s.sendall(b'GET /auth HTTP/1.0\r\nAuth-User: a\r\nAuth-User: b\r\n\r\n')
        self.assertTrue(s.recv(4096).startswith(b'HTTP/1.0 400'))
        s.close()
        with in_netns(self.w.ns('proxy')):
            s = socket.create_connection(('127.0.0.1', 9000), timeout=STEP_TIMEOUT)
        s.sendall(b'GET /auth HTTP/1.0\r\n' + b'X: ' + b'a' * 20000)
        self.assertTrue(s.recv(4096).startswith(b'HTTP/1.0 400'))
        s.close()

    # ---- referrals ----
    def test_login_referral_on_the_wrong_backend(self):
        # dora lives on b2; logging in to b1 directly (CRAM-MD5 needs no
        # TLS) is answered OK [REFERRAL] (RFC 2221): she may open other
        # users' mailboxes on b1, and every name of her own is referred
        # to b2 instead of being served from an empty mailbox here
        with in_netns(self.w.ns('client')):
            c = imaplib.IMAP4(BACKENDS['b1'], 143, timeout=STEP_TIMEOUT)
        self.assertIn('LOGIN-REFERRALS', c.capabilities)
        self.assertIn('MAILBOX-REFERRALS', c.capabilities)
        typ, data = c.login_cram_md5('dora', 'dorapw')
        self.assertEqual(typ, 'OK')
        self.assertIn(b'[REFERRAL imap://dora@%s/]' % BACKENDS['b2'].encode(), data[0])
        typ, data = c.select('INBOX')
        self.assertEqual(typ, 'NO')
        self.assertIn(b'[REFERRAL imap://dora;AUTH=*@%s/INBOX]' % BACKENDS['b2'].encode(),
                      data[0])
        typ, data = c.append('INBOX', None, None, sample_message(1, subject='wrong-host'))
        self.assertEqual(typ, 'NO')
        c.logout()
        self.assertFalse(os.path.exists(os.path.join(self.w.envs['b1'].spool, 'dora')))
        # on its own backend the same login is a plain OK
        with in_netns(self.w.ns('client')):
            c = imaplib.IMAP4(BACKENDS['b2'], 143, timeout=STEP_TIMEOUT)
        typ, data = c.login_cram_md5('dora', 'dorapw')
        self.assertEqual(typ, 'OK')
        self.assertNotIn(b'[REFERRAL', data[0])
        c.logout()

    def test_mailbox_referral_followed_to_the_owners_backend(self):
        """RFC 2193: dora (b2) names alice's mailbox through the proxy,
        is referred to b1, follows the URL there herself and opens it."""
        w = self.w
        subject = 'team-%d' % time.monotonic_ns()
        c, _ = self.login('alice')
        c.create('Team')
        self.assertEqual(c.append('Team', None, None,
                                  sample_message(1, subject=subject))[0], 'OK')
        c.logout()
        os.chmod(os.path.join(w.envs['b1'].dir, 'home', 'alice', 'Team'), 0o644)
        c, data = self.login('dora', 'implicit')
        self.assertIn(b'MAILBOX-REFERRALS', data[0])
        want = 'imap://dora;AUTH=*@%s/~alice/Team' % BACKENDS['b1']
        for typ, data in (c.select('~alice/Team'),
                          c.status('~alice/Team', '(MESSAGES)')):
            self.assertEqual(typ, 'NO')
            self.assertIn(('[REFERRAL %s]' % want).encode(), data[0])
        url = re.search(rb'\[REFERRAL (\S+)\]', data[0]).group(1).decode()
        c.logout()
        m = re.match(r'imap://([^;@]+);AUTH=\*@([^/:]+)(?::(\d+))?/(.+)$', url)
        user, host, port, mailbox = m.group(1), m.group(2), int(m.group(3) or 143), \
            urllib.parse.unquote(m.group(4))
        self.assertEqual((user, host, mailbox), ('dora', BACKENDS['b1'], '~alice/Team'))
        # nothing of alice's exists on b2
        self.assertFalse(os.path.exists(os.path.join(w.envs['b2'].dir, 'home', 'alice', 'Team')))
        with in_netns(w.ns('client')):
            r = imaplib.IMAP4(host, port, timeout=STEP_TIMEOUT)
        typ, data = r.login_cram_md5(user, 'dorapw')
        self.assertEqual(typ, 'OK')
        typ, data = r.select(mailbox, readonly=True)
        self.assertEqual(typ, 'OK', data)
        self.assertEqual(int(data[0]), 1)
        typ, data = r.fetch('1', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
        self.assertIn(subject.encode(), data[0][1])
        r.logout()

    # ---- moving a user ----
    def test_moved_user_keeps_uids_and_flags(self):
        w = self.w
        c, _ = self.login('mover')
        # one mailbox of every format: each keeps its UIDs its own way
        boxes = ('INBOX', 'Archive', 'Mbx', 'Maildir')
        c.create('Archive')
        c.create('#driver.mbx/Mbx')
        c.create('#driver.maildir/Maildir')
        for i in range(1, 4):
            for box in boxes:
                c.append(box, None, None, sample_message(i, subject='%s-%d' % (box, i)))
        for box in boxes[1:]:
            c.select(box)
            c.store('2', '+FLAGS', '(\\Seen $Kept)')
            c.store('1', '+FLAGS', '(\\Deleted)')
            c.expunge()
        c.select('INBOX')
        c.store('1', '+FLAGS', '(\\Seen)')
        c.store('2', '+FLAGS', '(\\Flagged $Work)')
        c.store('3', '+FLAGS', '(\\Deleted)')
        c.expunge()
        c.append('INBOX', '(\\Answered)', None, sample_message(9, subject='INBOX-9'))

        def state(conn):
            out = {}
            for box in boxes:
                typ, _ = conn.select(box)
                self.assertEqual(typ, 'OK')
                uv = conn.response('UIDVALIDITY')[1][0]
                typ, data = conn.uid('FETCH', '1:*', '(UID FLAGS)')
                items = sorted(re.sub(rb'^\d+ ', b'', d).replace(b' \\Recent', b'')
                               .replace(b'\\Recent', b'')
                               for d in data if d)
                out[box] = (uv, items)
            return out
        before = state(c)
        c.logout()
        self.assertIn(b'INBOX-9', w.spool('b1', 'mover'))
        self.assertEqual(len(before['Maildir'][1]), 2, before)
        for box in boxes[1:]:
            self.assertIn(b'$Kept', b' '.join(before[box][1]), box)
        self.assertIn(b'\\Flagged', b' '.join(before['INBOX'][1]))
        self.assertIn(b'\\Answered', b' '.join(before['INBOX'][1]))
        # the documented sequence (docs/scaling.md): lock the user out
        # through the map, copy the mailbox files as they are (each
        # format keeps UIDVALIDITY, UIDs and flags inside), switch the
        # map, then retire the old copy
        w.write_map({'mover': '127.0.0.1:1:1'})
        c = w.imap('starttls')
        with self.assertRaises(imaplib.IMAP4.error) as cm:
            c.login('mover', 'moverpw')
        self.assertIn('UNAVAILABLE', str(cm.exception))
        c.shutdown()
        src, dst = w.envs['b1'], w.envs['b2']
        shutil.copy2(os.path.join(src.spool, 'mover'), os.path.join(dst.spool, 'mover'))
        st = os.stat(os.path.join(src.spool, 'mover'))
        os.chown(os.path.join(dst.spool, 'mover'), st.st_uid, st.st_gid)
        shutil.copytree(os.path.join(src.dir, 'home', 'mover'),
                        os.path.join(dst.dir, 'home', 'mover'), dirs_exist_ok=True)
        for root, dirs, files in os.walk(os.path.join(dst.dir, 'home', 'mover')):
            for n in dirs + files:
                os.chown(os.path.join(root, n), st.st_uid, st.st_gid)
        w.write_map({'mover': 'b2'})
        os.rename(os.path.join(src.spool, 'mover'), os.path.join(src.spool, 'mover.moved'))
        c, _ = self.login('mover')
        after = state(c)
        c.logout()
        self.assertEqual(before, after)
        self.assertRegex(w.log('b2'), r'Login user=mover host=%s\b' % re.escape(CLIENT_IP))
        # the old backend now refers the user on
        self.assertIn(b'[REFERRAL imap://mover@%s/]' % BACKENDS['b2'].encode(),
                      self.direct_login_response('b1', 'mover'))

    def test_moved_user_by_transfer_into_other_formats(self):
        """docs/scaling.md section 4 with mailutil transfer -m keep instead
        of a file copy: from b1 (INBOX and Archive in mbox, an mbx) to b3
        (INBOX in mbx, the rest in maildir), UIDs, UIDVALIDITY, flags,
        keywords and dates kept."""
        w = self.w
        boxes = ('INBOX', 'Archive', 'Mbx')
        c, _ = self.login('mover2')
        c.create('Archive')
        c.create('#driver.mbx/Mbx')
        for i in range(1, 5):
            for box in boxes:
                c.append(box, '($T%d)' % i, '"0%d-Jan-2024 10:00:00 +0100"' % i,
                         sample_message(i, subject='%s-%d' % (box, i)))
        for box in boxes:
            c.select(box)
            c.store('2', '+FLAGS', '(\\Seen \\Flagged)')
            c.store('4', '+FLAGS', '(\\Deleted)')
            c.expunge()

        def state(conn):
            out = {}
            for box in boxes:
                typ, _ = conn.select(box)
                self.assertEqual(typ, 'OK')
                uv = conn.response('UIDVALIDITY')[1][0]
                nxt = conn.response('UIDNEXT')[1][0]
                typ, data = conn.uid('FETCH', '1:*', '(UID FLAGS INTERNALDATE)')
                items = sorted(re.sub(rb'\\Recent ?| (?=\))', b'', re.sub(rb'^\d+ ', b'', d))
                               for d in data if d)
                out[box] = (uv, nxt, items)
            return out
        before = state(c)
        c.logout()
        self.assertEqual(len(before['Mbx'][2]), 3, before)
        w.write_map({'mover2': '127.0.0.1:1:1'})
        src, dst = w.envs['b1'], w.envs['b3']
        # mailutil as mover2 on b3, the old host's files seen by their path
        uid = [l.split(':') for l in open(dst.passwd) if l.startswith('mover2:')][0]
        env = dst.environ(as_user=False)
        for k in ('RUID', 'EUID', 'SUID', 'RGID', 'EGID', 'SGID'):
            env['UID_WRAPPER_INITIAL_' + k] = uid[2] if k.endswith('UID') else uid[3]
        env.update(HOME=uid[5], USER='mover2', LOGNAME='mover2')
        for args in (['transfer', '-m', 'keep', os.path.join(src.spool, 'mover2'),
                      '#driver.mbx/INBOX'],
                     ['transfer', '-m', 'keep', os.path.join(src.dir, 'home', 'mover2') + '/',
                      '#driver.maildir/']):
            p = subprocess.run([binary('mailutil')] + args, env=env, cwd=dst.dir,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=60)
            self.assertEqual(p.returncode, 0, (args, p.stderr))
        home = os.path.join(dst.dir, 'home', 'mover2')
        self.assertTrue(os.path.isfile(os.path.join(home, 'INBOX')))
        self.assertTrue(os.path.isdir(os.path.join(home, 'Archive')))
        self.assertTrue(os.path.isdir(os.path.join(home, 'Mbx')))
        for root, dirs, files in os.walk(home):
            for n in dirs + files:
                os.chown(os.path.join(root, n), int(uid[2]), int(uid[3]))
        w.write_map({'mover2': 'b3'})
        os.rename(os.path.join(src.spool, 'mover2'), os.path.join(src.spool, 'mover2.moved'))
        c, _ = self.login('mover2')
        after = state(c)
        c.logout()
        self.maxDiff = None
        self.assertEqual(before, after)
        self.assertRegex(w.log('b3'), r'Login user=mover2 host=%s\b' % re.escape(CLIENT_IP))

    def direct_login_response(self, b, user):
        """LOGIN straight to backend b as if from the proxy (a PROXY
        header from the trusted address is only possible from the proxy
        namespace)."""
        with in_netns(self.w.ns('proxy')):
            s = socket.create_connection((BACKENDS[b], 143), timeout=STEP_TIMEOUT)
        s.sendall(('PROXY TCP4 %s %s 40000 143\r\n' % (CLIENT_IP, BACKENDS[b])).encode())
        f = s.makefile('rwb')
        f.readline()
        f.write(('A1 LOGIN %s %s\r\nA2 LOGOUT\r\n' % (user, USERS[user][0])).encode())
        f.flush()
        out = f.read()
        s.close()
        return out


class MailRouteInetdTest(unittest.TestCase):
    """mail-route as inetd runs it (one request on stdin/stdout), on
    127.0.0.1 only and without root: the answers nginx gets."""

    def setUp(self):
        self.env = MailEnv(user='alice', password='alicepw')
        self.addCleanup(self.env.close)
        with open(self.env.settings['cram-md5-database'], 'w') as f:
            f.write('bob\tcramsecret\n')
        os.chmod(self.env.settings['cram-md5-database'], 0o600)
        self.imap_port, _ = self.env.listen('imapd')
        self.pop_port, _ = self.env.listen('ipop3d')
        self.map = os.path.join(self.env.dir, 'route.map')
        with open(self.map, 'w') as f:
            f.write('alice localhost:%d:%d\n* 127.0.0.1:%d:%d\n'
                    % ((self.imap_port, self.pop_port) * 2))
        self.env.write_config(**{'route-map': self.map,
                                 'route-state-file': os.path.join(self.env.dir, 'state'),
                                 'login-failure-delay': '0'})

    def route(self, data, timeout=30):
        p = self.env.run('mail-route', input=data, as_user=False, timeout=timeout)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.decode()

    def req(self, user='alice', password='alicepw', method='plain', proto='imap',
            salt=None, ip='192.0.2.7'):
        r = ('GET /auth HTTP/1.0\r\nHost: localhost\r\nAuth-Method: %s\r\n'
             'Auth-User: %s\r\nAuth-Pass: %s\r\nAuth-Protocol: %s\r\n'
             'Auth-Login-Attempt: 1\r\nClient-IP: %s\r\n' % (method, user, password, proto, ip))
        if salt:
            r += 'Auth-Salt: %s\r\n' % salt
        return (r + '\r\n').encode()

    def test_ok_names_resolved_to_an_address(self):
        self.assertEqual(self.route(self.req()),
                         'HTTP/1.0 200 OK\r\nAuth-Status: OK\r\nAuth-Server: 127.0.0.1\r\n'
                         'Auth-Port: %d\r\n\r\n' % self.imap_port)
        self.assertIn('Auth-Port: %d\r\n' % self.pop_port, self.route(self.req(proto='pop3')))
        self.assertIn('routed to localhost (127.0.0.1 port %d)' % self.imap_port, self.env.log())

    def test_apop_and_cram_md5_hand_nginx_the_secret(self):
        salt = '<1896.697170952@proxy.test>'
        digest = hashlib.md5((salt + 'cramsecret').encode()).hexdigest()
        out = self.route(self.req(user='bob', method='apop', password=digest,
                                  proto='pop3', salt=salt))
        self.assertIn('Auth-Status: OK\r\n', out)
        self.assertIn('Auth-Pass: cramsecret\r\n', out)
        out = self.route(self.req(user='bob', method='cram-md5', salt=salt,
                                  password=cram_digest('cramsecret', salt.encode())))
        self.assertIn('Auth-Pass: cramsecret\r\n', out)
        out = self.route(self.req(user='bob', method='cram-md5', salt=salt,
                                  password='0' * 32))
        self.assertIn('Invalid login or password', out)
        self.assertNotIn('cramsecret', out)

    def test_failures_and_unroutable_users(self):
        out = self.route(self.req(password='bad'))
        self.assertIn('Auth-Status: [AUTHENTICATIONFAILED] Invalid login or password\r\n'
                      'Auth-Wait: 1\r\n', out)
        self.assertIn('Auth-Wait: 2\r\n', self.route(self.req(password='bad')))
        # POP3 wording
        self.assertIn('Auth-Status: [AUTH] Invalid', self.route(self.req(password='bad', proto='pop3')))
        # alice's backend is down: a clean answer, no address
        with open(self.map, 'w') as f:
            f.write('alice 127.0.0.1:1:1\n')
        out = self.route(self.req())
        self.assertIn('Auth-Status: [UNAVAILABLE]', out)
        self.assertNotIn('Auth-Server', out)
        # no route map at all
        self.env.write_config(**{'route-map': ''})
        self.assertIn('Temporary server problem', self.route(self.req()))

    def test_hostile_requests(self):
        bad = self.route(b'GET /auth HTTP/1.0\r\nAuth-User: a\r\nAuth-User: b\r\n\r\n')
        self.assertTrue(bad.startswith('HTTP/1.0 400 Bad Request\r\n'), bad)
        self.assertTrue(self.route(b'x' * 100000).startswith('HTTP/1.0 400'))
        self.assertTrue(self.route(bytes(range(256)) * 4).startswith('HTTP/1.0 400'))
        # cut short: no answer, no hang
        self.assertEqual(self.route(self.req()[:50]), '')
        self.assertIn('request cut short', self.env.log())
        # a request that never ends is dropped after 10 s
        p = subprocess.Popen([binary('mail-route')], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=self.env.environ(as_user=False))
        p.stdin.write(b'GET /auth HTTP/1.0\r\n')
        p.stdin.flush()
        t0 = time.monotonic()
        # stdin stays open: mail-route must give up by itself
        ready, _, _ = select.select([p.stdout], [], [], 30)
        self.assertTrue(ready)
        self.assertEqual(p.stdout.read(), b'')
        p.stdin.close()
        p.wait(timeout=10)
        p.stdout.close()
        p.stderr.close()
        self.assertLess(time.monotonic() - t0, 15)
        self.assertIn('request timed out', self.env.log())


if __name__ == '__main__':
    unittest.main()
