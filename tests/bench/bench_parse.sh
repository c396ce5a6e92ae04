#!/bin/sh
# bench_parse.sh - "make bench-parse": Rebound's parser and Sisimai (Debian's
# libsisimai-perl) over the same messages, one core each, in one run.
# Uses the shared corpus's bsd/ when present, else tests/fixtures.
set -eu
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
SECONDS_RUN=${BENCH_SECONDS:-5}
# The shared corpus sits beside the checkout (../shared), or beside the
# directory of worktrees (../../shared); BENCH_CORPUS names it otherwise.
CORPUS_ROOT=${BENCH_CORPUS:-}
for c in ../shared/corpus/emails ../../shared/corpus/emails; do
	[ -z "$CORPUS_ROOT" ] && [ -d "$c/bsd" ] && CORPUS_ROOT=$c
done
if [ -n "$CORPUS_ROOT" ] && [ -d "$CORPUS_ROOT/bsd" ]; then
	DIR=$CORPUS_ROOT/bsd
else
	DIR=tests/fixtures/parsers
fi
set -- $(find "$DIR" -name '*.eml' | sort)
echo "bench-parse: $# messages from $DIR, ${SECONDS_RUN}s each"
R=$(taskset -c 0 "$B/tests/bench_parse" "$SECONDS_RUN" conf/rules.conf "$@" 2>/dev/null ||
    "$B/tests/bench_parse" "$SECONDS_RUN" conf/rules.conf "$@")
echo "$R"
S=$(perl -MSisimai -MTime::HiRes=time -e '
	my ($secs, @f) = @ARGV; my @m;
	for my $f (@f) { local $/; open my $h, "<", $f or next; push @m, scalar <$h>; }
	my ($n, $t0) = (0, time);
	do { for my $d (@m) { my $v = Sisimai->make(\$d); $n++; } } while (time - $t0 < $secs);
	my $el = time - $t0;
	printf "sisimai %s %d messages in %.2f s: %.0f messages/s\n", $Sisimai::VERSION, $n, $el, $n / $el;
' "$SECONDS_RUN" "$@" 2>/dev/null) || S="sisimai: not available"
echo "$S"
r=$(echo "$R" | sed -n 's/.*: \([0-9]*\) messages\/s/\1/p')
s=$(echo "$S" | sed -n 's/.*: \([0-9]*\) messages\/s/\1/p')
if [ -n "$r" ] && [ -n "$s" ] && [ "$s" -gt 0 ]; then
	echo "ratio rebound/sisimai: $(echo "$r $s" | awk '{ printf "%.1f", $1 / $2 }')x"
fi

# As users run them: the corpus files (bsd, crlf, cr; the list given
# BENCH_CLI_REPEAT times, default 3, about 2,000 messages) read from disk,
# process start-up included, best of 3 rounds each: "rebound parse --json"
# through xargs (the parser worker pool, as the daemon parses), and Sisimai
# in one perl process; and "--no-fork" (in-process, one core, no isolation),
# which shows what the pool costs or gains.
CORPUS=""
for d in bsd crlf cr; do
	[ -n "$CORPUS_ROOT" ] && [ -d "$CORPUS_ROOT/$d" ] && CORPUS="$CORPUS $CORPUS_ROOT/$d"
done
if [ -n "$CORPUS" ]; then
	LIST=$(mktemp)
	trap 'rm -f "$LIST"' EXIT
	i=0
	while [ "$i" -lt "${BENCH_CLI_REPEAT:-3}" ]; do
		find $CORPUS -type f | sort >> "$LIST"
		i=$((i + 1))
	done
	N=$(wc -l < "$LIST")
	now() { date +%s.%N; }
	# the smaller of the time since $1 and $2 (empty: none yet)
	best() { awk -v t0="$1" -v t1="$(now)" -v b="$2" 'BEGIN { a = t1 - t0; print (b == "" || a < b) ? a : b }'; }
	rt=""; st=""; nt=""
	for round in 1 2 3; do
		t0=$(now)
		xargs "$B/rebound" parse --json < "$LIST" > /dev/null 2>&1
		rt=$(best "$t0" "$rt")
		t0=$(now)
		xargs "$B/rebound" parse --json --no-fork < "$LIST" > /dev/null 2>&1
		nt=$(best "$t0" "$nt")
		t0=$(now)
		xargs perl -MSisimai -e '
			for my $f (@ARGV) { local $/; open my $h, "<", $f or next; my $d = <$h>; Sisimai->make(\$d); }
		' < "$LIST" > /dev/null 2>&1 || { st=""; break; }
		st=$(best "$t0" "$st")
	done
	awk -v n="$N" -v r="$rt" -v s="$st" -v f="$nt" -v load="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN {
		printf "as users run it: %d files, rebound parse --json %.0f messages/s (%.3fs)", n, n / r, r
		if (s != "")
			printf ", sisimai %.0f messages/s (%.3fs), ratio %.1fx", n / s, s, s / r
		printf "   load=%s\n", load
		printf "  in-process (--no-fork): %.0f messages/s (%.3fs)\n", n / f, f
	}'
fi
