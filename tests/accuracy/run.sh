#!/bin/sh
# Parser accuracy per source of tests/corpus (train and validation, as
# tests/corpus/SPLIT assigns them), the totals of each side, and the shared
# corpus (../shared/corpus, when present).  Figures come from corpus-score:
# recipient / reason / hard over expected records, extra records, and false
# positives (records printed for a message that is no bounce).
#   BUILD=build tests/accuracy/run.sh
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
# ../shared beside the checkout (a worktree one level deeper: ../../shared)
SHARED=${SHARED:-../shared}
[ -d "$SHARED" ] || [ ! -d ../../shared ] || SHARED=../../shared
SCORE=${CORPUS_SCORE:-$SHARED/tools/corpus-score}
CMD="$BUILD/rebound parse --json --no-fork"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for side in train validation; do
	: > "$tmp/$side.jsonl"
	for src in $(awk -v s="$side" '$1 == s { print $2 }' tests/corpus/SPLIT); do
		if [ ! -f "tests/corpus/$src/expected.jsonl" ]; then
			printf '%-10s %-15s not collected yet (tests/accuracy/collect.py)\n' "$side" "$src"
			continue
		fi
		cat "tests/corpus/$src/expected.jsonl" >> "$tmp/$side.jsonl"
		printf '%-10s %-15s ' "$side" "$src"
		$SCORE --corpus tests/corpus --expected "tests/corpus/$src/expected.jsonl" -- $CMD | tail -1
	done
	printf '%-10s %-15s ' "$side" "TOTAL"
	$SCORE --corpus tests/corpus --expected "$tmp/$side.jsonl" -- $CMD | tail -1
done
if [ -d "$SHARED/corpus" ]; then
	printf '%-10s %-15s ' shared corpus
	$SCORE --corpus "$SHARED/corpus" -- $CMD | tail -1
fi
