# tap.sh - TAP for the shell checks (tests/e2e/test_*.sh source it after
# changing to the top of the tree): ok and nok print the next numbered
# result line, check DESCRIPTION COMMAND... runs COMMAND and prints ok or
# not ok for it.  The script ends with: echo "1..$n".
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
