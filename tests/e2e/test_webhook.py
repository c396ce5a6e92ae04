#!/usr/bin/env python3
"""Webhooks against a local receiver that fails the first three tries of
every event (some of them by timing out), goes down for a while in the
middle while PostgreSQL restarts: every event is delivered, none lost,
duplicates only with the same event id and body, every signature valid.
A second daemon shows the dead-letter state (API, metrics) and its retry.

REBOUND_WEBHOOK_EVENTS (default 200) and REBOUND_WEBHOOK_OUTAGE (seconds,
default 10) scale it: "make bench-webhook" runs 1,000 events and 60 s.
Figures are printed as '#' lines."""
import hashlib, hmac, json, os, smtplib, threading, time, unittest, urllib.error, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import harness

SECRET = "whsec-test"
TOKEN = "wh-token"
N_EVENTS = int(os.environ.get("REBOUND_WEBHOOK_EVENTS", "200"))
OUTAGE = float(os.environ.get("REBOUND_WEBHOOK_OUTAGE", "10"))
PER_MSG = 10
TIMEOUT = 2

DSN_HEAD = """From: MAILER-DAEMON@mx.example.org
To: bounce@bounces.example.com
Subject: Undelivered Mail Returned to Sender
Message-ID: <wh-{tag}@mx.example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org
"""
DSN_RCPT = """
Final-Recipient: rfc822; {rcpt}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown
"""
DSN_TAIL = """
--B1
Content-Type: text/rfc822-headers

From: news@sender.example
Subject: news
X-Campaign-Id: hook-{tag}

--B1--
"""


def dsn(tag, rcpts):
    text = DSN_HEAD.format(tag=tag) + "".join(DSN_RCPT.format(rcpt=r) for r in rcpts) + DSN_TAIL.format(tag=tag)
    return text.replace("\n", "\r\n").encode()


class Receiver:
    """Fails the first `fails` tries of each event id (the second by
    sleeping past the deliverer's timeout for every tenth), then answers 200."""

    def __init__(self, port=None, fails=3):
        self.port = port or harness.free_port()
        self.fails = fails
        self.lock = threading.Lock()
        self.tries = {}
        self.bodies = {}          # event id -> set of bodies delivered (2xx)
        self.bad = []             # signature or header problems
        self.requests = 0
        self.server = None

    def handler(self):
        rec = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sig = dict(kv.split("=", 1) for kv in self.headers.get("X-Rebound-Signature", "").split(","))
                ok = "t" in sig and "v1" in sig and hmac.compare_digest(
                    hmac.new(SECRET.encode(), sig["t"].encode() + b"." + body, hashlib.sha256).hexdigest(),
                    sig["v1"]) and abs(time.time() - int(sig["t"])) < 300
                ev = json.loads(body)
                eid = int(self.headers.get("X-Rebound-Event-Id", "0"))
                with rec.lock:
                    rec.requests += 1
                    if not ok or eid != ev["id"]:
                        rec.bad.append((eid, self.headers.get("X-Rebound-Signature")))
                    n = rec.tries[eid] = rec.tries.get(eid, 0) + 1
                if n <= rec.fails:
                    if n == 2 and eid % 10 == 0:
                        time.sleep(TIMEOUT + 1)
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with rec.lock:
                    rec.bodies.setdefault(eid, set()).add(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return H

    def start(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class WebhookDelivery(unittest.TestCase):
    def test_every_event_delivered_through_failures_outage_and_pg_restart(self):
        pg = harness.Pg().start()
        rcv = Receiver().start()
        d = harness.Daemon({
            "store": {"conninfo": pg.conninfo, "retry_max_seconds": "1"},
            "http": {"token": TOKEN},
            "webhook": {"url": f"http://127.0.0.1:{rcv.port}/hook", "secret": SECRET,
                        "timeout": str(TIMEOUT), "retry_min_seconds": "1", "retry_max_seconds": "4",
                        "give_up_seconds": "86400"},
        })
        try:
            d.start()
            t0 = time.time()
            for m in range(N_EVENTS // PER_MSG):
                rcpts = [f"u{m}-{k}@example.org" for k in range(PER_MSG)]
                with smtplib.SMTP("127.0.0.1", d.port, timeout=30) as s:
                    s.sendmail("", ["bounce@bounces.example.com"], dsn(m, rcpts))
            ok, _ = pg.poll("SELECT count(*) FROM webhook_outbox", [[str(N_EVENTS)]], timeout=120)
            self.assertTrue(ok, d.log()[-3000:])
            # down in the middle, with PostgreSQL restarted meanwhile
            end = time.time() + 300
            while len(rcv.bodies) < N_EVENTS // 3 and time.time() < end:
                time.sleep(0.05)
            rcv.stop()
            down_at = time.time()
            pg.stop("fast")
            time.sleep(min(2.0, OUTAGE / 2))
            pg.start()
            time.sleep(max(0.0, OUTAGE - (time.time() - down_at)))
            rcv = self._restart(rcv)
            ok, got = pg.poll("SELECT count(*) FROM webhook_outbox WHERE state = 'delivered'",
                              [[str(N_EVENTS)]], timeout=300)
            elapsed = time.time() - t0
            self.assertTrue(ok, f"delivered {got} of {N_EVENTS}\n" + d.log()[-3000:])
            ids = {int(r[0]) for r in pg.psql("SELECT id FROM events")}
            self.assertEqual(len(ids), N_EVENTS)
            self.assertEqual(set(rcv.bodies), ids)                # none lost
            dup = sum(len(b) for b in rcv.bodies.values()) - len(ids)
            self.assertEqual([e for e, b in rcv.bodies.items() if len(b) != 1], [])  # same body
            self.assertEqual(rcv.bad, [])                           # signatures valid
            self.assertEqual(pg.psql("SELECT count(*) FROM webhook_outbox WHERE state <> 'delivered'"),
                             [["0"]])
            body = json.loads(next(iter(next(iter(rcv.bodies.values())))))
            for k in ("id", "type", "recipient", "class", "reason", "status", "diagnostic", "campaign",
                      "correlation", "message_id", "queue_id"):
                self.assertIn(k, body)
            self.assertEqual((body["type"], body["class"]), ("bounce", "hard"))
            self.assertTrue(body["campaign"].startswith("hook-"))
            metrics = urllib.request.urlopen(f"http://{d.conf['http']['listen']}/metrics", timeout=10).read().decode()
            delivered = [l for l in metrics.splitlines()
                         if l.startswith('rebound_webhook_deliveries_total{result="delivered"}')]
            self.assertTrue(delivered and float(delivered[0].split()[-1]) >= N_EVENTS, metrics[-2000:])
            attempts = int(pg.psql("SELECT sum(attempts) FROM webhook_outbox")[0][0])
            print(f"# webhook: {N_EVENTS} events, receiver failing 3 tries each and down {OUTAGE:.0f} s"
                  f" (PostgreSQL restarted meanwhile): all delivered in {elapsed:.1f} s,"
                  f" {rcv.requests} requests seen by the receiver, {attempts} attempts recorded,"
                  f" {dup} duplicate deliveries (same event id and body), 0 bad signatures;"
                  f" load {os.getloadavg()[0]:.2f}")
        finally:
            try:
                rcv.stop()
            except Exception:
                pass
            d.finish(pg)

    @staticmethod
    def _restart(old):
        new = Receiver(port=old.port, fails=old.fails)
        new.tries, new.bodies, new.bad, new.requests = old.tries, old.bodies, old.bad, old.requests
        return new.start()


class WebhookDeadLetter(unittest.TestCase):
    def test_dead_letter_visible_and_retried(self):
        pg = harness.Pg().start()
        port = harness.free_port()          # nothing listens here yet
        d = harness.Daemon({
            "store": {"conninfo": pg.conninfo},
            "http": {"token": TOKEN},
            "tenants": {"acme": "acme.example"},
            # the second endpoint is acme's only: a default-tenant event is not queued for it
            "webhook": {"url": f"http://127.0.0.1:{port}/hook;acme=http://127.0.0.1:{port}/acme",
                        "secret": SECRET, "timeout": "1",
                        "retry_min_seconds": "1", "retry_max_seconds": "1", "give_up_seconds": "2"},
        })
        rcv = None
        try:
            d.start()
            with smtplib.SMTP("127.0.0.1", d.port, timeout=30) as s:
                s.sendmail("", ["bounce@bounces.example.com"], dsn("dead", ["dead@example.org"]))
            ok, got = pg.poll("SELECT state FROM webhook_outbox", [["dead"]], timeout=60)
            self.assertTrue(ok, d.log()[-3000:])
            self.assertEqual(pg.psql("SELECT tenant, url FROM webhook_outbox"),
                             [["default", f"http://127.0.0.1:{port}/hook"]])
            base = f"http://{d.conf['http']['listen']}"
            j = json.loads(urllib.request.urlopen(base + "/v1/webhooks?state=dead", timeout=10).read())
            self.assertEqual(j["counts"]["dead"], 1)
            self.assertEqual(len(j["items"]), 1)
            self.assertIn("connect", j["items"][0]["last_error"])
            self.assertEqual(j["items"][0]["recipient"], "dead@example.org")
            self.assertIn("webhook event=dead", d.log())
            end = time.time() + 10
            while time.time() < end:
                m = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
                if 'rebound_webhook_outbox{state="dead"} 1' in m:
                    break
                time.sleep(0.2)
            self.assertIn('rebound_webhook_outbox{state="dead"} 1', m)
            # redriven by hand once the receiver is back
            rcv = Receiver(port=port, fails=0).start()
            req = urllib.request.Request(base + f"/v1/webhooks/{j['items'][0]['id']}/retry", method="POST",
                                         headers={"Authorization": "Bearer " + TOKEN})
            self.assertEqual(urllib.request.urlopen(req, timeout=10).status, 200)
            ok, got = pg.poll("SELECT state FROM webhook_outbox", [["delivered"]], timeout=30)
            self.assertTrue(ok, d.log()[-3000:])
            self.assertEqual(len(rcv.bodies), 1)
            req = urllib.request.Request(base + "/v1/webhooks/999/retry", method="POST")
            try:
                urllib.request.urlopen(req, timeout=10)
                self.fail("retry without a token")
            except urllib.error.HTTPError as e:
                self.assertEqual(e.code, 401)
        finally:
            if rcv:
                rcv.stop()
            d.finish(pg)


if __name__ == "__main__":
    harness.run()
