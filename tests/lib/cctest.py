"""cctest - helpers for end-to-end tests of imapd, ipop3d and the tools.

Tests never touch the system's users: every binary runs under the cwrap
wrappers (nss_wrapper for a private passwd/group, uid_wrapper so setuid()
works and the process can believe it is root or a user, pam_wrapper for a
private PAM service directory). Files are really created by whoever runs
the tests (root in CI), inside a temporary directory.

Usage:
    import sys, os; sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
    from cctest import MailEnv

    env = MailEnv()                      # user alice/secret, uid 1000
    env.write_inbox(b"From a@b Sun Mar 15 12:34:56 2020\\n...")
    s = env.imap()                       # imapd over a pipe, PREAUTH as alice
    untagged, tagged = s.cmd('SELECT INBOX')
    assert tagged.startswith(b'OK')
    s = env.imap(login=True)             # started as (fake) root: must LOGIN
    s.cmd('LOGIN alice secret')
    p = env.pop()                        # ipop3d over a pipe, started as root
    port, proc = env.listen('imapd')     # built-in listener on 127.0.0.1
    env.close()                          # kills processes, removes the dir

Environment:
    CC_BIN     directory of the built binaries (default <repo>/build/bin)
    CC_TIMEOUT seconds any single read may wait (default 20)
"""

import crypt
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.abspath(os.environ.get('CC_BIN', os.path.join(REPO, 'build', 'bin')))
# mailboxes and transcripts written by UW imapd/ipop3d (their README.md)
UW_DATA = os.path.join(REPO, 'tests', 'data', 'uw')
TIMEOUT = float(os.environ.get('CC_TIMEOUT', '20'))

LIBDIR = '/usr/lib/x86_64-linux-gnu'
for _d in ('/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'):
    if os.path.exists(os.path.join(_d, 'libuid_wrapper.so')):
        LIBDIR = _d
        break
UID_WRAPPER = os.path.join(LIBDIR, 'libuid_wrapper.so')
NSS_WRAPPER = os.path.join(LIBDIR, 'libnss_wrapper.so')
PAM_WRAPPER = os.path.join(LIBDIR, 'libpam_wrapper.so')
PAM_MATRIX = os.path.join(LIBDIR, 'pam_wrapper', 'pam_matrix.so')


def binary(name):
    """Path of a built program; raises if it was not built."""
    p = os.path.join(BIN, name)
    if not os.path.exists(p):
        raise FileNotFoundError('%s not built (CC_BIN=%s)' % (name, BIN))
    return p


def have_binary(name):
    return os.path.exists(os.path.join(BIN, name))


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_cert(directory, name='server'):
    """Self-signed certificate + key (PEM) for tests; returns (cert, key)."""
    cert = os.path.join(directory, name + '.crt')
    key = os.path.join(directory, name + '.key')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
                    '-keyout', key, '-out', cert, '-days', '2', '-subj',
                    '/CN=localhost', '-addext',
                    'subjectAltName=DNS:localhost,IP:127.0.0.1'], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    os.chmod(key, 0o600)
    return cert, key


class Session:
    """A line-oriented client over a child's pipes or a socket.

    Every read is bounded by TIMEOUT; a hung server fails the test instead
    of hanging the suite."""

    def __init__(self, proc=None, sock=None, timeout=TIMEOUT):
        self.proc = proc
        self.sock = sock
        self.timeout = timeout
        self.buf = b''
        self.tagn = 0
        if proc is not None:
            self.rfd = proc.stdout.fileno()
        else:
            self.rfd = sock.fileno()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        if self.proc is not None:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        else:
            self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError('server did not answer in %.0fs; got %r' % (self.timeout, self.buf[-300:]))
        r, _, _ = select.select([self.rfd], [], [], left)
        if not r:
            raise TimeoutError('server did not answer in %.0fs; got %r' % (self.timeout, self.buf[-300:]))
        chunk = os.read(self.rfd, 65536)
        if not chunk:
            raise EOFError('server closed the connection; pending %r' % self.buf[-300:])
        self.buf += chunk

    def readline(self):
        """One line including its CRLF."""
        deadline = time.monotonic() + self.timeout
        while b'\n' not in self.buf:
            self._fill(deadline)
        i = self.buf.index(b'\n') + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def read_exact(self, n):
        deadline = time.monotonic() + self.timeout
        while len(self.buf) < n:
            self._fill(deadline)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response_line(self):
        """An IMAP response line with any literals inline (CRLF stripped at
        the end only)."""
        out = b''
        while True:
            line = self.readline()
            out += line
            stripped = line.rstrip(b'\r\n')
            if stripped.endswith(b'}') and b'{' in stripped:
                num = stripped[stripped.rindex(b'{') + 1:-1]
                if num.isdigit():
                    out += self.read_exact(int(num))
                    continue
            return out.rstrip(b'\r\n')

    def expect_eof(self):
        """True if the server closes the connection within the timeout."""
        try:
            while True:
                deadline = time.monotonic() + self.timeout
                self._fill(deadline)
        except EOFError:
            return True
        except TimeoutError:
            return False

    def close(self):
        try:
            if self.proc is not None:
                try:
                    self.proc.stdin.close()
                except OSError:
                    pass
                try:
                    self.proc.wait(timeout=self.timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                for f in (self.proc.stdout, self.proc.stderr):
                    if f is not None:
                        f.close()
            if self.sock is not None:
                self.sock.close()
        except OSError:
            pass


class ImapSession(Session):
    def greeting(self):
        return self.read_response_line()

    def next_tag(self):
        self.tagn += 1
        return 'a%03d' % self.tagn

    def cmd(self, text, tag=None):
        """Send 'TAG text' and collect responses until the tagged one.
        Returns (list of untagged/continuation lines, tagged status line
        without the tag, e.g. b'OK SELECT completed')."""
        tag = tag or self.next_tag()
        self.send('%s %s\r\n' % (tag, text) if isinstance(text, str)
                  else tag.encode() + b' ' + text + b'\r\n')
        return self.collect(tag)

    def collect(self, tag):
        untagged = []
        btag = tag.encode() + b' '
        while True:
            line = self.read_response_line()
            if line.startswith(btag):
                return untagged, line[len(btag):]
            untagged.append(line)

    def append(self, mailbox, message, flags='', date=None):
        """APPEND with a synchronizing literal; returns (untagged, tagged)."""
        tag = self.next_tag()
        parts = [tag, 'APPEND', mailbox]
        if flags:
            parts.append('(%s)' % flags)
        if date:
            parts.append('"%s"' % date)
        self.send(' '.join(parts) + ' {%d}\r\n' % len(message))
        line = self.readline()
        if not line.startswith(b'+'):
            return [], line.rstrip(b'\r\n')[len(tag) + 1:]
        self.send(message + b'\r\n')
        return self.collect(tag)


class PopSession(Session):
    def greeting(self):
        return self.readline().rstrip(b'\r\n')

    def cmd(self, text):
        """Send a command, return the status line (without CRLF)."""
        self.send(text + '\r\n')
        return self.readline().rstrip(b'\r\n')

    def multiline(self):
        """Read a multi-line body up to '.', returned with dot-unstuffing
        undone, as a list of lines without CRLF."""
        lines = []
        while True:
            line = self.readline().rstrip(b'\r\n')
            if line == b'.':
                return lines
            if line.startswith(b'.'):
                line = line[1:]
            lines.append(line)


class MailEnv:
    """A temporary mail world: a home directory, a spool, a config file, a
    private passwd/group for nss_wrapper and a virtual-user password file."""

    def __init__(self, user='alice', password='secret', uid=1000, gid=1000,
                 config=None, tls=False):
        self.dir = tempfile.mkdtemp(prefix='cctest-')
        self.user = user
        self.password = password
        self.uid = uid
        self.gid = gid
        self.procs = []
        self.home = os.path.join(self.dir, 'home', user)
        self.spool = os.path.join(self.dir, 'spool')
        self.inbox = os.path.join(self.spool, user)
        self.logfile = os.path.join(self.dir, 'log')
        for d in (self.home, self.spool, os.path.join(self.dir, 'locks'),
                  os.path.join(self.dir, 'home', 'bob'), os.path.join(self.dir, 'pam')):
            os.makedirs(d, exist_ok=True)
        os.chmod(self.spool, 0o1777)
        os.chmod(os.path.join(self.dir, 'locks'), 0o1777)
        self.passwd = os.path.join(self.dir, 'passwd')
        self.group = os.path.join(self.dir, 'group')
        bobhome = os.path.join(self.dir, 'home', 'bob')
        with open(self.passwd, 'w') as f:
            f.write('root:x:0:0:root:/root:/bin/sh\n')
            f.write('%s:x:%d:%d:Test User:%s:/bin/sh\n' % (user, uid, gid, self.home))
            f.write('bob:x:%d:%d:Bob:%s:/bin/sh\n' % (uid + 1, gid + 1, bobhome))
            f.write('nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n')
        with open(self.group, 'w') as f:
            f.write('root:x:0:\nmail:x:8:\n%s:x:%d:\nbob:x:%d:\nnogroup:x:65534:\n'
                    % (user, gid, gid + 1))
        # virtual users: user:crypt-hash:uid:gid:home:maildir
        self.userfile = os.path.join(self.dir, 'users')
        with open(self.userfile, 'w') as f:
            for (u, pw, i, g, h) in ((user, password, uid, gid, self.home),
                                     ('bob', 'bobpass', uid + 1, gid + 1, bobhome)):
                f.write('%s:%s:%d:%d:%s:\n' % (u, crypt.crypt(pw, crypt.mksalt(crypt.METHOD_SHA512)), i, g, h))
        # pam_wrapper service files using pam_matrix (user:password:service)
        self.pam_dir = os.path.join(self.dir, 'pam')
        # pam_matrix's account check reads only a user's first line, so
        # each service gets its own passdb file
        for svc in ('imap', 'pop'):
            passdb = os.path.join(self.dir, 'pam_matrix.' + svc)
            with open(passdb, 'w') as f:
                f.write('%s:%s:%s\n' % (user, password, svc))
                f.write('bob:bobpass:%s\n' % svc)
            with open(os.path.join(self.pam_dir, svc), 'w') as f:
                for kind in ('auth', 'account', 'password', 'session'):
                    f.write('%s required %s passdb=%s\n' % (kind, PAM_MATRIX, passdb))
        self.config_path = os.path.join(self.dir, 'c-client.cf')
        self.settings = {
            'spool-directory': self.spool,
            'lock-directory': os.path.join(self.dir, 'locks'),
            'auth-backends': 'passwd-file',
            'passwd-file': self.userfile,
            'cram-md5-database': os.path.join(self.dir, 'cram-md5.pwd'),
            'alert-file': os.path.join(self.dir, 'imapd.alert'),
            'anonymous-file': os.path.join(self.dir, 'anonymous.newsgroups'),
            'imapd-tls-cert': os.path.join(self.dir, 'nocert.pem'),
            'imapd-tls-key': os.path.join(self.dir, 'nokey.pem'),
            'ipop3d-tls-cert': os.path.join(self.dir, 'nocert.pem'),
            'ipop3d-tls-key': os.path.join(self.dir, 'nokey.pem'),
            'login-failure-delay': '0',
            'login-penalty-delay': '0',
            'login-penalty-file': os.path.join(self.dir, 'login-penalty'),
            'mlock-program': os.path.join(self.dir, 'no-mlock'),
        }
        if tls:
            cert, key = make_cert(self.dir)
            for svc in ('imapd', 'ipop3d'):
                self.settings[svc + '-tls-cert'] = cert
                self.settings[svc + '-tls-key'] = key
            self.cert = cert
        if config:
            self.settings.update(config)
        self.write_config()

    # ---- configuration and files ----
    def write_config(self, **extra):
        self.settings.update({k.replace('_', '-'): v for k, v in extra.items()})
        with open(self.config_path, 'w') as f:
            f.write('# written by tests/lib/cctest.py\n')
            for k, v in self.settings.items():
                f.write('%s %s\n' % (k, v))

    def write_inbox(self, data):
        with open(self.inbox, 'wb') as f:
            f.write(data)

    def read_inbox(self):
        with open(self.inbox, 'rb') as f:
            return f.read()

    def path(self, *names):
        return os.path.join(self.home, *names)

    def stderr_of_listeners(self):
        """what every listener (and its sessions) wrote to stderr"""
        out = ''
        for p in self.procs:
            path = getattr(p, 'errpath', None)
            if path and os.path.exists(path):
                with open(path, errors='replace') as f:
                    out += f.read()
        return out

    def log(self):
        try:
            with open(self.logfile, errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    # ---- running programs ----
    def environ(self, as_user=True, pam=False, extra=None):
        """Environment for a child: wrappers, config, logging.
        as_user: the process starts as the test user (imapd then greets
        PREAUTH); otherwise as (fake) root, like inetd starts it."""
        env = dict(os.environ)
        preload = [UID_WRAPPER, NSS_WRAPPER]
        if pam:
            preload.append(PAM_WRAPPER)
            env['PAM_WRAPPER'] = '1'
            env['PAM_WRAPPER_SERVICE_DIR'] = self.pam_dir
        env['LD_PRELOAD'] = ':'.join(preload)
        env['NSS_WRAPPER_PASSWD'] = self.passwd
        env['NSS_WRAPPER_GROUP'] = self.group
        env['UID_WRAPPER'] = '1'
        # without these, sanitizer builds die at start under the wrappers
        env['UID_WRAPPER_DISABLE_DEEPBIND'] = '1'
        env['NSS_WRAPPER_DISABLE_DEEPBIND'] = '1'
        env['PAM_WRAPPER_DISABLE_DEEPBIND'] = '1'
        uid, gid = (self.uid, self.gid) if as_user else (0, 0)
        for k in ('RUID', 'EUID', 'SUID'):
            env['UID_WRAPPER_INITIAL_' + k] = str(uid)
        for k in ('RGID', 'EGID', 'SGID'):
            env['UID_WRAPPER_INITIAL_' + k] = str(gid)
        env['CCLIENT_CONFIG'] = self.config_path
        env['CCLIENT_LOG_FILE'] = self.logfile
        env['HOME'] = self.home if as_user else '/root'
        env['USER'] = self.user if as_user else 'root'
        env['LOGNAME'] = env['USER']
        # the sanitizer runtime must tolerate the wrappers preloaded first
        env['ASAN_OPTIONS'] = 'verify_asan_link_order=0:detect_leaks=0:abort_on_error=1'
        env['UBSAN_OPTIONS'] = 'print_stacktrace=1:halt_on_error=1'
        env.pop('LISTEN_FDS', None)
        if extra:
            env.update(extra)
        return env

    def spawn(self, prog, args=(), as_user=True, pam=False, extra_env=None,
              stdin=subprocess.PIPE, cwd=None):
        proc = subprocess.Popen([binary(prog)] + list(args), stdin=stdin,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=self.environ(as_user, pam, extra_env),
                                cwd=cwd or self.dir)
        self.procs.append(proc)
        return proc

    def run(self, prog, args=(), input=b'', as_user=True, pam=False,
            extra_env=None, timeout=None):
        """Run a tool to completion; returns CompletedProcess."""
        return subprocess.run([binary(prog)] + list(args), input=input,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=self.environ(as_user, pam, extra_env),
                              cwd=self.dir, timeout=timeout or TIMEOUT * 3)

    def imap(self, login=False, args=(), pam=False, extra_env=None, greet=True):
        """imapd over a pipe. login=False: started as the user (PREAUTH).
        login=True: started as root, LOGIN/AUTHENTICATE required. The
        greeting is read and kept in .greeting_line."""
        proc = self.spawn('imapd', args, as_user=not login, pam=pam, extra_env=extra_env)
        s = ImapSession(proc=proc)
        if greet:
            s.greeting_line = s.greeting()
        return s

    def pop(self, args=(), pam=False, extra_env=None, greet=True):
        """ipop3d over a pipe, started as root (inetd style)."""
        proc = self.spawn('ipop3d', args, as_user=False, pam=pam, extra_env=extra_env)
        s = PopSession(proc=proc)
        if greet:
            s.greeting_line = s.greeting()
        return s

    def listen(self, prog, args=(), as_user=False, pam=False, extra_env=None):
        """Start prog -l 127.0.0.1:PORT; wait until it listens. Returns
        (port, proc)."""
        port = free_port()
        # stderr to a file: a pipe nobody reads could block the server,
        # and a sanitizer report must survive for the failing test
        errpath = os.path.join(self.dir, '%s-%d.stderr' % (prog, port))
        with open(errpath, 'wb') as err:
            proc = subprocess.Popen([binary(prog), '-l', '127.0.0.1:%d' % port] + list(args),
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err,
                                    env=self.environ(as_user, pam, extra_env), cwd=self.dir)
        proc.errpath = errpath
        self.procs.append(proc)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                socket.create_connection(('127.0.0.1', port), timeout=1).close()
                return port, proc
            except OSError:
                if proc.poll() is not None:
                    with open(errpath, 'rb') as f:
                        raise RuntimeError('%s exited: %r' % (prog, f.read()[-2000:]))
                time.sleep(0.05)
        raise TimeoutError('%s did not listen on %d' % (prog, port))

    def connect(self, port, cls=ImapSession):
        sock = socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT)
        return cls(sock=sock)

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM)
                    p.wait(timeout=5)
                except (subprocess.TimeoutExpired, OSError):
                    p.kill()
                    p.wait()
            for f in (p.stdin, p.stdout, p.stderr):
                if f is not None:
                    try:
                        f.close()
                    except OSError:
                        pass
        self.procs = []
        if os.environ.get('CC_KEEP_TMP') != '1':
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def sample_message(i=1, subject=None, body=None, sender='sender@example.org'):
    """A small RFC 5322 message (CRLF) for appends."""
    subject = subject if subject is not None else 'Test message %d' % i
    body = body if body is not None else 'Body of message %d.\r\n' % i
    return ('From: Sender <%s>\r\nTo: alice@example.org\r\nSubject: %s\r\n'
            'Date: Sun, 15 Mar 2020 12:34:%02d +0100\r\nMessage-ID: <m%d@example.org>\r\n'
            '\r\n%s' % (sender, subject, i % 60, i, body)).encode()


def mbox_of(messages):
    """A traditional mbox (LF) of CRLF messages, as an MTA would write it."""
    out = []
    for i, m in enumerate(messages):
        text = m.replace(b'\r\n', b'\n')
        out.append(b'From sender@example.org Sun Mar 15 12:34:%02d 2020\n' % (i % 60))
        lines = text.split(b'\n')
        out.append(b'\n'.join(b'>' + l if l.startswith(b'From ') else l for l in lines))
        if not text.endswith(b'\n'):
            out.append(b'\n')
        out.append(b'\n')
    return b''.join(out)


def tmux(*args, check=True):
    return subprocess.run(['tmux'] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, check=check, timeout=30)


class TmuxClient:
    """A terminal program (mutt, alpine) in a detached tmux session: type
    with keys(), read the screen with screen()/wait_for()."""

    def __init__(self, name, cmd, env):
        self.name = name
        envs = []
        for k, v in env.items():
            envs += ['-e', '%s=%s' % (k, v)]
        tmux('new-session', '-d', '-s', name, '-x', '132', '-y', '40', *envs, cmd)

    def screen(self):
        """the pane's text; '' once the program has exited"""
        r = tmux('capture-pane', '-p', '-t', self.name, check=False)
        return r.stdout.decode(errors='replace') if r.returncode == 0 else ''

    def wait_for(self, text, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.screen()
            if text.lower() in s.lower():
                return s
            time.sleep(0.2)
        raise AssertionError('%r not on screen:\n%s' % (text, self.screen()))

    def gone(self, timeout=15):
        """wait until the program has exited"""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if tmux('has-session', '-t', self.name, check=False).returncode != 0:
                return True
            time.sleep(0.2)
        return False

    def keys(self, *keys):
        tmux('send-keys', '-t', self.name, *keys)

    def type(self, text):
        """type text literally (';' and key names are not special)"""
        tmux('send-keys', '-t', self.name, '-l', text)

    def close(self):
        tmux('kill-session', '-t', self.name, check=False)
