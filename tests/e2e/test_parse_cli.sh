#!/bin/sh
# test_parse_cli.sh - "rebound parse" end to end: JSON keys, file names kept
# as given, unreadable files named on stderr while the rest are parsed,
# hostile messages reported as unparseable or parsed, never a crash.
cd "$(dirname "$0")/../.." || exit 1
B=${REBOUND_BUILD:-build}/rebound
# The test build: the same binary plus the test hooks (tests/support/).
T=${REBOUND_BUILD:-build}/rebound-test
F=tests/fixtures/parsers
. tests/e2e/tap.sh
out=$($B parse --json $F/dsn-two-rcpts.eml /nonexistent/x.eml $F/not-bounce.eml 2>/tmp/rb-parse-err.$$)
rc=$?
[ "$rc" -ne 0 ] && ok "exit status says a file was unreadable" || nok "exit status"
grep -q "/nonexistent/x.eml" /tmp/rb-parse-err.$$ && ok "unreadable file named on stderr" || nok "stderr"
[ "$(printf '%s\n' "$out" | grep -c .)" -eq 2 ] && ok "two records, nothing for the non-bounce" || nok "record count"
printf '%s\n' "$out" | python3 -c '
import json, sys
need = ["file","kind","recipient","class","reason","status","replycode","action","diagnostic","feedback_type","rule"]
for l in sys.stdin:
    o = json.loads(l)
    assert all(k in o for k in need), o
    assert o["file"] == "tests/fixtures/parsers/dsn-two-rcpts.eml", o["file"]
' && ok "JSON keys and file as given" || nok "JSON keys"
# A bounce without a recipient: records only on stdout (nothing a consumer
# could take for a recipient), the outcome on stderr; --outcomes adds an
# object with recipient null.
out=$($B parse --json $F/verp-no-rcpt.eml $F/dsn-two-rcpts.eml 2>/tmp/rb-parse-err.$$)
[ "$(printf '%s\n' "$out" | grep -c .)" -eq 2 ] && ! printf '%s\n' "$out" | grep -q '"recipient":null' &&
   grep -q "verp-no-rcpt.eml: bounce: no recipient found" /tmp/rb-parse-err.$$ &&
   ok "a message without records: nothing on stdout, its outcome on stderr" || nok "no-record message"
out=$($B parse --json --outcomes $F/verp-no-rcpt.eml 2>/dev/null)
printf '%s\n' "$out" | python3 -c '
import json, sys
(o,) = [json.loads(l) for l in sys.stdin if l.strip()]
assert (o["recipient"], o["outcome"], o["kind"]) == (None, "no recipient found", "bounce"), o
' && ok "--outcomes: one object with the outcome, recipient null" || nok "--outcomes"
# The producer the rules detect is reported ("mta"), and its table decides.
out=$($B parse --json $F/mcafee-unknown.eml $F/dsn-after-data.eml)
printf '%s\n' "$out" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
assert [(r["mta"], r["reason"], r["class"]) for r in rows] == [
    ("mcafee", "userunknown", "hard"), (None, "filtered", "soft")], rows
' && ok "mta detected and its rules applied" || nok "mta"
out=$($B parse --json - < $F/arf-abuse.eml)
printf '%s' "$out" | grep -q '"feedback_type":"abuse"' && ok "stdin" || nok "stdin"
cat $F/exim-text.eml > /tmp/rb-mbox.$$
printf '\n' >> /tmp/rb-mbox.$$
printf 'From MAILER-DAEMON Mon Nov  2 10:00:00 2026\n' | cat - $F/qmail-text.eml >> /tmp/rb-mbox.$$
out=$(printf 'From MAILER-DAEMON Mon Nov  2 10:00:00 2026\n' | cat - /tmp/rb-mbox.$$ | $B parse --json --mbox /dev/stdin)
[ "$(printf '%s\n' "$out" | grep -c '"recipient"')" -eq 2 ] && ok "mbox" || nok "mbox"
# the shared hostile inputs beside the checkout (../shared), when present
for h in $F/hostile/*.eml ../shared/hostile/*.eml; do
	[ -f "$h" ] || continue
	$B parse --json "$h" >/dev/null 2>&1
	[ $? -le 1 ] && ok "survives $(basename "$h")" || nok "survives $(basename "$h")"
done
# A worker that dies (test hook; the real GMime abort on an un-neutralised
# hostile header) is replaced and the message retried up to [parser]
# max_attempts (3), then it is one JSON line (--outcomes) of kind none with the outcome
# the daemon would quarantine it with, and the next file is still parsed.
out=$(REBOUND_TEST_HOOKS=1 $T parse --json --outcomes tests/fixtures/workers/hook-abort.eml $F/arf-abuse.eml 2>/dev/null)
printf '%s\n' "$out" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
assert len(rows) == 2, rows
assert rows[0]["kind"] == "none", rows[0]
assert rows[0]["outcome"] == "quarantined: crash signal=6 (SIGABRT) after 3 attempts", rows[0]
assert rows[1]["kind"] == "arf" and rows[1]["outcome"] == "ok", rows[1]
' && ok "crash: retried, kind none with outcome, next file parsed" || nok "crash line"
# Files go to the workers as open descriptors: the ones queued behind a
# worker that died are sent again, with their descriptors, to its
# replacement, and read whole from the start there.
set -- $(ls $F/*.eml | head -12)
want=$($T parse --json "$@" 2>/dev/null)
got=$(REBOUND_TEST_HOOKS=1 $T parse --json tests/fixtures/workers/hook-abort.eml "$@" \
    tests/fixtures/workers/hook-abort.eml "$@" 2>/dev/null)
[ -n "$want" ] && [ "$got" = "$(printf '%s\n%s' "$want" "$want")" ] &&
    ok "files behind a crashed worker: re-sent, parsed whole, in order" ||
    nok "files behind a crashed worker"
printf '[parser]\nmax_attempts = 1\n' > /tmp/rb-parse-conf.$$
# GMime's abort follows an over-read, so now and then it parses the file
# instead ("parser failed"): the crash must show within a few tries.
res=1
for try in 1 2 3 4 5 6 7 8; do
	out=$(REBOUND_TEST_HOOKS=1 REBOUND_TEST_GMIME_FIRST=1 $T parse --json --outcomes -c /tmp/rb-parse-conf.$$ tests/fixtures/hostile/ew-iso2022cnext-subject.eml $F/dsn-two-rcpts.eml 2>/dev/null)
	printf '%s\n' "$out" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
assert [r["kind"] for r in rows[1:]] == ["dsn", "dsn"], rows
if not rows[0]["outcome"].startswith("quarantined: crash"):
    sys.exit(3)	# parsed this time: try again
assert rows[0]["kind"] == "none", rows[0]
'
	res=$?
	[ $res -ne 3 ] && break
done
[ $res -eq 0 ] && ok "real GMime abort reported, next file parsed" || nok "real GMime abort"
out=$($T parse --json --outcomes tests/fixtures/workers/hook-abort.eml 2>/dev/null)
printf '%s' "$out" | grep -q '"outcome":"quarantined' && nok "hook ignored without REBOUND_TEST_HOOKS" || ok "hook ignored without REBOUND_TEST_HOOKS"
# build/rebound has no hooks at all: no environment changes how it parses.
out=$(REBOUND_TEST_HOOKS=1 REBOUND_TEST_GMIME_FIRST=1 $B parse --json --outcomes tests/fixtures/workers/hook-abort.eml 2>/dev/null)
printf '%s' "$out" | grep -q '"outcome":"quarantined' && nok "build/rebound has no test hooks" || ok "build/rebound has no test hooks"
# Through the pool, many more messages than the workers hold in flight, an
# mbox and a maildir come out exactly as parsed in-process, in input order.
mkdir -p /tmp/rb-maildir.$$/cur /tmp/rb-maildir.$$/new
cp $F/exim-text.eml /tmp/rb-maildir.$$/cur/1
cp $F/arf-abuse.eml /tmp/rb-maildir.$$/new/2
set -- $(for i in 1 2 3 4 5 6 7 8; do ls $F/*.eml; done)
if [ $# -gt 256 ] &&
   $B parse --json "$@" --mbox /tmp/rb-mbox.$$ --maildir /tmp/rb-maildir.$$ > /tmp/rb-pool.$$ 2>/dev/null &&
   $B parse --json --no-fork "$@" --mbox /tmp/rb-mbox.$$ --maildir /tmp/rb-maildir.$$ > /tmp/rb-inproc.$$ 2>/dev/null &&
   [ -s /tmp/rb-pool.$$ ] && cmp -s /tmp/rb-pool.$$ /tmp/rb-inproc.$$; then
	ok "pool output = in-process output over $# files, an mbox and a maildir"
else
	nok "pool output = in-process output"
fi
rm -rf /tmp/rb-maildir.$$ /tmp/rb-pool.$$ /tmp/rb-inproc.$$ /tmp/rb-parse-conf.$$
# A maildir's messages come sorted by name, every run.
mkdir -p /tmp/rb-maildir.$$/cur /tmp/rb-maildir.$$/new
for m in c a e b d; do cp $F/dsn-two-rcpts.eml /tmp/rb-maildir.$$/cur/$m; done
order=$($B parse --maildir /tmp/rb-maildir.$$ 2>/dev/null | cut -f1 | uniq | sed 's|.*/||' | tr -d '\n')
[ "$order" = "abcde" ] && ok "maildir in name order" || nok "maildir in name order: $order"
rm -rf /tmp/rb-maildir.$$
# A message that kills its worker amid many others, several batches of
# answers into the run, with one attempt each (a retry would hide a crash
# charged to the wrong message): that message alone is reported; every
# other is printed as parsed in-process, in order.
printf '[parser]\nmax_attempts = 1\n' > /tmp/rb-parse-conf.$$
set -- $(ls $F/*.eml | head -37) tests/fixtures/workers/hook-abort.eml $(ls $F/*.eml | tail -30)
if [ $# -eq 68 ] &&
   { REBOUND_TEST_HOOKS=1 $T parse --json --outcomes -c /tmp/rb-parse-conf.$$ "$@" \
	> /tmp/rb-pool.$$ 2>/dev/null; [ $? -le 1 ]; } &&
   $B parse --json --outcomes --no-fork $(ls $F/*.eml | head -37) $(ls $F/*.eml | tail -30) \
	> /tmp/rb-inproc.$$ 2>/dev/null &&
   [ "$(grep -c hook-abort /tmp/rb-pool.$$)" -eq 1 ] &&
   grep hook-abort /tmp/rb-pool.$$ | grep -q '"outcome":"quarantined: crash signal=6 (SIGABRT) after 1 attempt"' &&
   grep -v hook-abort /tmp/rb-pool.$$ | cmp -s - /tmp/rb-inproc.$$; then
	ok "a crash amid $# files is charged to its own file only"
else
	nok "a crash amid $# files is charged to its own file only"
fi
rm -f /tmp/rb-pool.$$ /tmp/rb-inproc.$$ /tmp/rb-parse-conf.$$
# Rules the workers cannot load: one error, exit 1, nothing parsed, even
# with an unreadable file before it (the workers start before files are read).
out=$($B parse --json --rules /nonexistent/rules.conf /nonexistent/x.eml $F/dsn-two-rcpts.eml 2>/tmp/rb-parse-err.$$)
rc=$?
[ $rc -eq 1 ] && [ -z "$out" ] && ! grep -q "x.eml" /tmp/rb-parse-err.$$ &&
    [ "$(grep -c '^rebound: parser worker: /nonexistent/rules.conf' /tmp/rb-parse-err.$$)" -eq 1 ] &&
    ok "bad rules: one error, exit 1, no output" || nok "bad rules: rc=$rc $(cat /tmp/rb-parse-err.$$)"
nm "$B" "$B-all" 2>/dev/null | grep -qi test_hook && nok "no test_hook symbol in build/rebound{,-all}" ||
    ok "no test_hook symbol in build/rebound{,-all}"
# The front binary parses without the store's libraries, and hands the
# other subcommands to rebound-all beside it (or says where it looked).
readelf -d "$B" | grep -q 'NEEDED.*libpq' && nok "rebound parse does not load libpq" ||
    ok "rebound parse does not load libpq"
mkdir -p /tmp/rb-front.$$
cp "$B" /tmp/rb-front.$$/rebound
out=$(/tmp/rb-front.$$/rebound serve -n 2>&1); rc=$?
[ $rc -eq 2 ] && printf '%s\n' "$out" | grep -q '^rebound: cannot run "serve": /tmp/rb-front.'$$'/{rebound-all,../lib/rebound/rebound-all}: No such file' &&
    ok "without rebound-all: exit 2, says where it looked" || nok "without rebound-all: rc=$rc $out"
rm -rf /tmp/rb-front.$$
rm -f /tmp/rb-parse-err.$$ /tmp/rb-mbox.$$
echo "1..$n"
