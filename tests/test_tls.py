"""TLS at the C level: c-client/auth/tls.c driven through the test program
$(B)/tests/test-tls in --serve mode (a tiny line server on stdin/stdout,
see c-client/auth/test-tls.c) over a socketpair.

The client side is Python's ssl module on memory BIOs, so the raw TLS
records can be inspected: outgoing records are at most tls-max-record
bytes (FAQ 6.7, 7.43), plaintext pipelined after STARTTLS is never
executed (injection defence), TLS < 1.2 and non-forward-secret ciphers
are refused, a missing certificate means STARTTLS is refused with one
log line (FAQ 7.28).

Environment: CC_TESTS (directory of the unit-test programs; default
<repo>/build/tests, or next to CC_BIN).
"""

import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'lib'))
import cctest  # noqa: E402

TESTS = os.environ.get('CC_TESTS') or os.path.join(os.path.dirname(cctest.BIN), 'tests')
SERVER = os.path.join(TESTS, 'test-tls')
TIMEOUT = 20
RECORD_OVERHEAD = 256      # AEAD tag, explicit nonce, content type, padding


class TlsClient:
    """TLS over a raw socket through memory BIOs, recording every record
    header the server sends as (content type, length)."""

    def __init__(self, sock, ctx):
        self.sock = sock
        self.inc = ssl.MemoryBIO()
        self.out = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_side=False)
        self.raw = b''
        self.records = []
        self.plain = b''

    def _flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def _recv(self):
        r, _, _ = select.select([self.sock], [], [], TIMEOUT)
        if not r:
            raise TimeoutError('no data from server')
        data = self.sock.recv(65536)
        if not data:
            raise EOFError('server closed')
        self.raw += data
        while len(self.raw) >= 5:
            length = int.from_bytes(self.raw[3:5], 'big')
            if len(self.raw) < 5 + length:
                break
            self.records.append((self.raw[0], length))
            self.raw = self.raw[5 + length:]
        self.inc.write(data)

    def handshake(self):
        while True:
            try:
                self.obj.do_handshake()
                self._flush()
                return
            except ssl.SSLWantReadError:
                self._flush()
                self._recv()

    def send(self, data):
        self.obj.write(data)
        self._flush()

    def _more(self):
        try:
            self.plain += self.obj.read(65536)
        except ssl.SSLWantReadError:
            self._flush()
            self._recv()

    def readline(self):
        deadline = time.monotonic() + TIMEOUT
        while b'\n' not in self.plain:
            if time.monotonic() > deadline:
                raise TimeoutError('no line')
            self._more()
        i = self.plain.index(b'\n') + 1
        line, self.plain = self.plain[:i], self.plain[i:]
        return line


def read_plain_line(sock):
    """One line read byte by byte, so nothing after it is consumed."""
    line = b''
    while not line.endswith(b'\n'):
        r, _, _ = select.select([sock], [], [], TIMEOUT)
        if not r:
            raise TimeoutError('no line; got %r' % line)
        c = sock.recv(1)
        if not c:
            raise EOFError('closed after %r' % line)
        line += c
    return line


def client_context(maximum=None, minimum=None, ciphers=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if minimum is not None or maximum is not None:
        ctx.set_ciphers('ALL:@SECLEVEL=0')
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    return ctx


@unittest.skipUnless(os.path.exists(SERVER), 'test-tls not built in %s' % TESTS)
class TlsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='cctest-tls-')
        self.cert, self.key = cctest.make_cert(self.dir)
        self.logfile = os.path.join(self.dir, 'log')
        self.procs = []
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, settings=None, implicit=False):
        conf = {'imapd-tls-cert': self.cert, 'imapd-tls-key': self.key}
        conf.update(settings or {})
        path = os.path.join(self.dir, 'c-client.cf')
        with open(path, 'w') as f:
            for k, v in conf.items():
                f.write('%s %s\n' % (k, v))
        ours, theirs = socket.socketpair()
        env = dict(os.environ, CCLIENT_CONFIG=path, CCLIENT_LOG_FILE=self.logfile)
        args = [SERVER, '--serve'] + (['--implicit'] if implicit else [])
        p = subprocess.Popen(args, stdin=theirs, stdout=theirs, env=env)
        theirs.close()
        self.procs.append(p)
        self.socks.append(ours)
        if not implicit:
            self.assertTrue(read_plain_line(ours).startswith(b'* OK'))
        return ours

    def starttls(self, sock, ctx=None, extra=b''):
        sock.sendall(b'a STARTTLS\r\n' + extra)
        self.assertTrue(read_plain_line(sock).startswith(b'a OK'))
        c = TlsClient(sock, ctx or client_context())
        c.handshake()
        return c

    def log(self):
        try:
            with open(self.logfile) as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def test_starttls_then_commands(self):
        c = self.starttls(self.start())
        c.send(b'b TLS?\r\n')
        self.assertEqual(c.readline(), b'yes\r\n')
        c.send(b'c ECHO hello\r\n')
        self.assertEqual(c.readline(), b'hello\r\n')
        self.assertIsNone(c.obj.compression())
        self.assertEqual(c.obj.version(), 'TLSv1.3')

    def test_injected_plaintext_discarded(self):
        # a man in the middle appends a command to the plaintext STARTTLS
        c = self.starttls(self.start(), extra=b'x ECHO injected\r\n')
        c.send(b'y ECHO after\r\n')
        self.assertEqual(c.readline(), b'after\r\n')
        c.send(b'z ECHO again\r\n')
        self.assertEqual(c.readline(), b'again\r\n')

    def big_records(self, settings, n=200000):
        c = self.starttls(self.start(settings))
        c.send(b'b BIG %d\r\n' % n)
        line = c.readline()
        self.assertEqual(len(line), n + 2)
        return [length for (ctype, length) in c.records if ctype == 23]

    def test_records_at_most_8k(self):
        lengths = self.big_records({})
        self.assertGreater(len(lengths), 200000 // 8192)
        self.assertLessEqual(max(lengths), 8192 + RECORD_OVERHEAD)
        self.assertGreater(max(lengths), 8192 - RECORD_OVERHEAD)

    def test_records_configured_limit(self):
        lengths = self.big_records({'tls-max-record': '2048'}, 50000)
        self.assertLessEqual(max(lengths), 2048 + RECORD_OVERHEAD)
        self.assertGreater(len(lengths), 50000 // 2048)

    def test_tls12_allowed(self):
        c = self.starttls(self.start(), client_context(maximum=ssl.TLSVersion.TLSv1_2))
        self.assertEqual(c.obj.version(), 'TLSv1.2')
        c.send(b'b ECHO ok\r\n')
        self.assertEqual(c.readline(), b'ok\r\n')

    def test_tls11_refused(self):
        sock = self.start()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', DeprecationWarning)
                ctx = client_context(minimum=ssl.TLSVersion.TLSv1,
                                     maximum=ssl.TLSVersion.TLSv1_1)
        except (ValueError, ssl.SSLError):
            self.skipTest('local OpenSSL cannot even offer TLS 1.1')
        with self.assertRaises((ssl.SSLError, EOFError, ConnectionError)):
            self.starttls(sock, ctx)

    def test_no_forward_secrecy_refused(self):
        sock = self.start()
        ctx = client_context(maximum=ssl.TLSVersion.TLSv1_2, ciphers='AES128-GCM-SHA256')
        with self.assertRaises((ssl.SSLError, EOFError, ConnectionError)):
            self.starttls(sock, ctx)

    def test_missing_certificate(self):
        sock = self.start({'imapd-tls-cert': os.path.join(self.dir, 'none.pem'),
                           'imapd-tls-key': os.path.join(self.dir, 'none.key')})
        sock.sendall(b'a STARTTLS\r\n')
        self.assertTrue(read_plain_line(sock).startswith(b'a NO'))
        sock.sendall(b'b TLS?\r\n')
        self.assertEqual(read_plain_line(sock), b'no\r\n')
        log = self.log()
        self.assertIn('FAQ 7.28', log)
        self.assertEqual(log.count('unavailable'), 1, log)

    def test_missing_certificate_listener_logs_once(self):
        # imapd -l loads the certificate before accepting: three
        # connections, one log line (not one per connection)
        env = cctest.MailEnv()
        self.addCleanup(env.close)
        port, _ = env.listen('imapd')
        for _ in range(3):
            s = socket.create_connection(('127.0.0.1', port), timeout=cctest.TIMEOUT)
            self.assertTrue(s.recv(1000).startswith(b'* OK'))
            s.sendall(b'a CAPABILITY\r\nb LOGOUT\r\n')
            data = b''
            while b'b OK' not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            self.assertNotIn(b'STARTTLS', data)
            s.close()
        log = env.log()
        self.assertEqual(log.count('unavailable'), 1, log)

    def test_key_inside_certificate_file(self):
        # UW kept key and certificate in one PEM file
        both = os.path.join(self.dir, 'both.pem')
        with open(both, 'w') as out:
            for p in (self.key, self.cert):
                with open(p) as f:
                    out.write(f.read())
        c = self.starttls(self.start({'imapd-tls-cert': both,
                                      'imapd-tls-key': os.path.join(self.dir, 'absent')}))
        c.send(b'b ECHO ok\r\n')
        self.assertEqual(c.readline(), b'ok\r\n')

    def test_implicit_tls(self):
        sock = self.start(implicit=True)
        c = TlsClient(sock, client_context())
        c.handshake()
        self.assertTrue(c.readline().startswith(b'* OK'))
        c.send(b'a TLS?\r\n')
        self.assertEqual(c.readline(), b'yes\r\n')

    def test_garbage_instead_of_handshake(self):
        sock = self.start()
        sock.sendall(b'a STARTTLS\r\n')
        self.assertTrue(read_plain_line(sock).startswith(b'a OK'))
        sock.sendall(b'this is not a TLS ClientHello\r\n' * 10)
        # the server gives up on the connection; it does not crash or hang
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            r, _, _ = select.select([sock], [], [], 1)
            try:
                if r and not sock.recv(4096):
                    break
            except ConnectionError:
                break
        self.assertEqual(self.procs[0].wait(timeout=TIMEOUT), 0)
        self.assertIn('handshake failed', self.log())


if __name__ == '__main__':
    unittest.main()
