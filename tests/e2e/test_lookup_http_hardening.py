#!/usr/bin/env python3
"""Issue 14, the HTTP API's Low findings, one regression each: reads need
[http] read_token when it is set, Host must be in [http] hosts, conflicting
Content-Length headers are refused, invalid UTF-8 / control characters /
over-long text get 400 (never 500 with PostgreSQL's text), values are
logged escaped, and a token of the wrong length is refused like any other."""
import json, os, socket, sys, unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from lookup_env import LookupEnv, TOKEN

READ = "r3ad-only-token"


class HttpHardeningTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = LookupEnv({"http": {"read_token": READ, "hosts": "localhost;127.0.0.1"}})
        cls.env.suppress_sql("gone@example.com", "hard", "user_unknown")
        cls.env.start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.env.stop()
        cls.env.destroy()
        assert rc == 0, rc

    def raw(self, request):
        """Send bytes, return (status code, whole response)."""
        s = socket.create_connection(("127.0.0.1", self.env.http_port), timeout=10)
        s.sendall(request)
        out = b""
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
                if b"\r\n\r\n" in out:
                    head, _, body = out.partition(b"\r\n\r\n")
                    n = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                    if n and len(body) >= int(n[0].split(b":")[1]):
                        break
        except socket.timeout:
            pass
        s.close()
        return int(out.split(b" ", 2)[1]), out

    def test_reads_need_the_read_token(self):
        for path in ("/v1/events", "/v1/complaints", "/v1/suppressions", "/metrics",
                     "/v1/suppressions/gone@example.com"):
            code, hdrs, body = self.env.http("GET", path)
            self.assertEqual(code, 401, path)
            self.assertIn("error", json.loads(body))
            self.assertEqual(self.env.http("GET", path, token=READ)[0], 200, path)
            self.assertEqual(self.env.http("GET", path, token=TOKEN)[0], 200, path)
        # The read token does not write.
        code, _, _ = self.env.http("POST", "/v1/suppressions",
                                   {"address": "x@example.com", "reason": "r"}, token=READ)
        self.assertEqual(code, 401)
        # Health checks stay open.
        self.assertIn(self.env.http("GET", "/healthz")[0], (200, 503))

    def test_wrong_tokens_of_any_length_refused(self):
        for tok in ("", "x", READ[:-1], READ + "x", "y" * len(READ), READ.upper()):
            self.assertEqual(self.env.http("GET", "/v1/events", token=tok or None)[0], 401, tok)

    def test_host_allow_list(self):
        port = self.env.http_port
        req = "GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
        for host in ("127.0.0.1:%d" % port, "localhost:%d" % port, "LOCALHOST"):
            self.assertIn(self.raw((req % host).encode())[0], (200, 503), host)
        for host in ("evil.example", "evil.example:%d" % port, "localhost.evil.example",
                     "localhost:x"):
            code, out = self.raw((req % host).encode())
            self.assertEqual(code, 403, host)
            self.assertIn(b"[http] hosts", out)
        code, _ = self.raw(b"GET /healthz HTTP/1.0\r\n\r\n")		# no Host at all
        self.assertEqual(code, 403)

    def test_conflicting_content_length_refused(self):
        body = b'{"address": "cl@example.com", "reason": "r"}'
        code, out = self.raw(b"POST /v1/suppressions HTTP/1.1\r\nHost: localhost\r\n"
                             b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
                             b"Content-Length: %d\r\nContent-Length: 5\r\n\r\n" % len(body) + body)
        self.assertEqual(code, 400)
        self.assertIn(b"Content-Length", out)
        self.assertEqual(self.env.http("GET", "/v1/suppressions/cl@example.com", token=READ)[0], 404)

    def post(self, raw):
        return self.env.http("POST", "/v1/suppressions", raw=raw, token=TOKEN)

    def test_bad_text_is_400_not_500(self):
        cases = [
            b'{"address": "u1@example.com", "reason": "bad \xff\xfe utf8"}',
            b'{"address": "u2@example.com", "reason": "lone \\ud800 surrogate"}',
            b'{"address": "u3@example.com", "reason": "nul \\u0000 inside"}',
            b'{"address": "u4@example.com", "reason": "two\\nlines"}',
            json.dumps({"address": "u5@example.com", "reason": "r" * 201}).encode(),
            json.dumps({"address": "u6@example.com", "reason": "r", "note": "n" * 9000}).encode(),
        ]
        for raw in cases:
            code, _, body = self.post(raw)
            self.assertEqual(code, 400, (raw[:60], body))
            j = json.loads(body)
            self.assertNotIn("ERROR", j["error"])		# no PostgreSQL text
            self.assertNotIn("database", j["error"])
        code, _, body = self.post(json.dumps({"address": "u7@example.com",
                                              "reason": "r" * 9000}).encode())
        self.assertEqual(code, 400, body)
        for i in range(1, 8):
            self.assertEqual(self.env.http("GET", "/v1/suppressions/u%d@example.com" % i,
                                           token=READ)[0], 404)
        # A long but permitted reason is stored.
        code, _, body = self.post(json.dumps({"address": "ok@example.com",
                                              "reason": "r" * 200}).encode())
        self.assertIn(code, (200, 201), body + self.env.log()[-1500:])

    def test_values_logged_escaped(self):
        code, _, _ = self.env.http("DELETE", "/v1/suppressions/gone@example.com%0Aforged=1",
                                   token=TOKEN)
        self.assertIn(code, (400, 404))
        code, _, _ = self.env.http("POST", "/v1/suppressions",
                                   {"address": "gone2@example.com", "reason": "r"}, token=TOKEN)
        self.assertIn(code, (200, 201))
        for line in self.env.log().splitlines():
            self.assertFalse(line.startswith("forged=1"), line)
        self.assertIn('event=suppressed tenant=default address="gone2@example.com"',
                      self.env.log())


if __name__ == "__main__":
    harness.run()
