#!/bin/sh
# bench_parse.sh - "make bench-parse": Rebound's parser and Sisimai (Debian's
# libsisimai-perl) over the same messages, one core each, in one run.
# Uses ../shared/corpus/emails/bsd when present, else tests/fixtures.
set -eu
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
SECONDS_RUN=${BENCH_SECONDS:-5}
if [ -d ../shared/corpus/emails/bsd ]; then
	DIR=../shared/corpus/emails/bsd
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
