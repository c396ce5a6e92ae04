#!/bin/sh
# test_parse_cli.sh - "rebound parse" end to end: JSON keys, file names kept
# as given, unreadable files named on stderr while the rest are parsed,
# hostile messages reported as unparseable or parsed, never a crash.
cd "$(dirname "$0")/../.." || exit 1
B=${REBOUND_BUILD:-build}/rebound
F=tests/fixtures/parsers
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; }
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
out=$($B parse --json - < $F/arf-abuse.eml)
printf '%s' "$out" | grep -q '"feedback_type":"abuse"' && ok "stdin" || nok "stdin"
cat $F/exim-text.eml > /tmp/rb-mbox.$$
printf '\n' >> /tmp/rb-mbox.$$
printf 'From MAILER-DAEMON Mon Nov  2 10:00:00 2026\n' | cat - $F/qmail-text.eml >> /tmp/rb-mbox.$$
out=$(printf 'From MAILER-DAEMON Mon Nov  2 10:00:00 2026\n' | cat - /tmp/rb-mbox.$$ | $B parse --json --mbox /dev/stdin)
[ "$(printf '%s\n' "$out" | grep -c '"recipient"')" -eq 2 ] && ok "mbox" || nok "mbox"
for h in $F/hostile/*.eml /work/shared/hostile/*.eml; do
	[ -f "$h" ] || continue
	$B parse --json "$h" >/dev/null 2>&1
	[ $? -le 1 ] && ok "survives $(basename "$h")" || nok "survives $(basename "$h")"
done
rm -f /tmp/rb-parse-err.$$ /tmp/rb-mbox.$$
echo "1..$n"
