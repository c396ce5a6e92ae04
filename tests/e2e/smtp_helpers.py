"""Helpers shared by the receiver's end-to-end tests (tests/e2e/test_smtp*.py)."""
import os, re, socket, ssl, time


class Raw:
    """A byte-exact SMTP client: what smtplib refuses to send, this sends."""

    def __init__(self, port, host="127.0.0.1", timeout=5, greet=True, source=None):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""
        if greet:
            self.greeting = self.reply()

    def send(self, data):
        self.sock.sendall(data)

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("connection closed; buffered %r" % self.buf)
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        """(code, text of all lines) of one possibly multi-line reply."""
        lines = []
        while True:
            l = self._line()
            lines.append(l)
            if len(l) < 4 or l[3:4] != b"-":
                break
        return int(lines[-1][:3]), b"\n".join(lines).decode("utf-8", "replace")

    def cmd(self, line):
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\r\n")
        return self.reply()

    def starttls(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
        return self.sock

    def closed_within(self, seconds):
        """True if the server closes the connection within seconds (data is kept)."""
        self.sock.settimeout(seconds)
        end = time.time() + seconds
        try:
            while time.time() < end:
                d = self.sock.recv(65536)
                if not d:
                    return True
                self.buf += d
        except ConnectionResetError:
            # Closed with our unread command still in its buffer (a 421 from a
            # timer while we were sending): the kernel resets instead of FIN.
            return True
        except socket.timeout:
            return False
        return False

    @classmethod
    def greeted(cls, test, port, ehlo=None):
        """A session whose 220 greeting test asserts, past EHLO ehlo if given."""
        r = cls(port)
        test.assertEqual(r.greeting[0], 220)
        if ehlo:
            r.cmd("EHLO " + ehlo)
        return r

    def envelope(self, helo, rcpt="a@bounces.example.com"):
        """EHLO helo, MAIL FROM:<>, RCPT TO:<rcpt>, replies unchecked: a
        transaction ready for DATA (or for more RCPTs)."""
        self.cmd("EHLO " + helo)
        self.cmd("MAIL FROM:<>")
        return self.cmd(f"RCPT TO:<{rcpt}>")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def spool_records(spool_dir):
    """{queue id: (record bytes, path of the file holding it)}.  queue/ holds
    one file per writer batch, named by its first queue id: a 64-octet
    batch header ("Rebound-Batch LEN SUM", LEN in hex) and LEN octets of
    records (envelope header, blank line, Size octets of message) end to
    end, stale octets after them; it also holds recycled free-N files and
    ID.tmp files being written: no entries."""
    q = os.path.join(spool_dir, "queue")
    out = {}
    if not os.path.isdir(q):
        return out
    for name in os.listdir(q):
        if not re.fullmatch(r"[0-9A-Za-z]{16}", name):
            continue
        path = os.path.join(q, name)
        with open(path, "rb") as f:
            raw = f.read()
        if raw.startswith(b"Rebound-Batch "):
            raw = raw[64:64 + int(raw[14:30], 16)]
        off = 0
        while off < len(raw):
            end = raw.index(b"\n\n", off)
            head = raw[off:end].decode()
            qid = re.search(r"^Queue-Id: (\w+)$", head, re.M).group(1)
            size = int(re.search(r"^Size: (\d+)$", head, re.M).group(1))
            out[qid] = (raw[off:end + 2 + size], path)
            off = end + 2 + size
    return out


def spool_entries(spool_dir):
    """Queue ids in the spool, sorted (arrival order)."""
    return sorted(spool_records(spool_dir))


def spool_bytes(spool_dir):
    """{queue id: record bytes}: to show that entries are left untouched."""
    return {q: r for q, (r, _) in spool_records(spool_dir).items()}


def read_spool(spool_dir, qid):
    """(envelope dict with 'Rcpt' as a list, message bytes) of one spool entry."""
    raw = spool_records(spool_dir)[qid][0]
    head, body = raw.split(b"\n\n", 1)
    env = {"Rcpt": []}
    for line in head.decode().split("\n"):
        k, v = line.split(": ", 1)
        v = v.encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
        if k == "Rcpt":
            env["Rcpt"].append(v)
        else:
            env[k] = v
    return env, body


def strip_received(body):
    """The message as the client sent it: drop our Received: header (folded lines)."""
    assert body.startswith(b"Received: "), body[:80]
    lines = body.split(b"\r\n")
    i = 1
    while lines[i].startswith(b"\t"):
        i += 1
    return b"\r\n".join(lines[i:])
