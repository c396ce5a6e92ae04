#!/bin/bash
# test_install.sh - what an operator meets before the first message: --help
# and --version, the man pages (every command and option in rebound(8), every
# key in rebound.conf(5), man --warnings clean), serve -n naming unusable
# paths as FILE:LINE, paths relative to the config file, the systemd units
# (systemd-analyze verify) and "make install" into a DESTDIR.
cd "$(dirname "$0")/../.." || exit 1
B=${REBOUND_BUILD:-build}
R=$(readlink -f "$B/rebound")
. tests/e2e/tap.sh
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

# --version: the release the package is built as.
deb_version=$(sed -n '1s/^rebound (\([^)]*\)).*/\1/p' debian/changelog)
check "rebound --version is debian/changelog's version ($deb_version)" \
	[ "$($R --version)" = "rebound $deb_version" ]

# Every subcommand: GOption --help, exit 0; each option it lists is in rebound(8).
cmds=$($R --help | sed -n 's/^  \([a-z-]*\) .*/\1/p' | grep -v '^parse-worker$')
[ "$(printf '%s\n' "$cmds" | wc -l)" -ge 15 ] && ok "rebound --help lists the subcommands" ||
	nok "rebound --help lists the subcommands ($cmds)"
missing=""
for c in $cmds; do
	if ! $R "$c" --help >"$t/help" 2>&1 || ! grep -q "^  rebound $c " "$t/help"; then
		missing="$missing $c(--help)"
		continue
	fi
	grep -q "^\.B $c\b\|^\.B $c \\\\f" doc/rebound.8 || missing="$missing $c"
	for o in $(grep -o -- '--[a-z][a-z-]*' "$t/help" | sort -u); do
		[ "$o" = --help ] && continue
		grep -q -- "$(printf '%s' "$o" | sed 's/-/\\\\-/g')" doc/rebound.8 || missing="$missing $c:$o"
	done
done
check "every subcommand has --help (exit 0) and rebound(8) describes it and its options${missing:+ (missing:$missing)}" \
	[ -z "$missing" ]
$R serve --bogus >/dev/null 2>"$t/err"
rc=$?
[ $rc = 2 ] && grep -q 'Unknown option --bogus' "$t/err" &&
	ok "an unknown option is a usage error (2) naming it" || nok "unknown option: exit $rc"

# The man pages: built, clean, complete.
check "make built both man pages" test -s "$B/man/rebound.8" -a -s "$B/man/rebound.conf.5"
$R config --man > "$t/rebound.conf.5"
check "rebound.conf(5) in the build is what config --man writes" cmp -s "$t/rebound.conf.5" "$B/man/rebound.conf.5"
w=$(man --warnings -l "$B/man/rebound.8" 2>&1 >/dev/null; man --warnings -l "$B/man/rebound.conf.5" 2>&1 >/dev/null)
check "man --warnings is clean for both pages${w:+: $w}" [ -z "$w" ]
MANWIDTH=200 man -l "$B/man/rebound.conf.5" 2>/dev/null > "$t/conf5.txt"
missing=""
section=""
while read -r line; do
	case "$line" in
	\[*\]) section=$line ;;
	\#*) ;;
	*=*) k=${line%% =*}
	     awk -v s="$section" -v k="$k" '{ l = $0; sub(/^ +/, "", l) }
	         /^   \[/ { in_s = (l == s); next } in_s && $1 == k { found = 1 }
	         END { exit !found }' "$t/conf5.txt" || missing="$missing $section$k" ;;
	esac
done < <($R config -c conf/rebound.conf)
check "rebound.conf(5) lists every key under its section${missing:+ (missing:$missing)}" [ -z "$missing" ]

# Paths: relative to the config file; unusable ones reported as FILE:LINE.
mkdir -p "$t/etc"
cp conf/rules.conf "$t/etc/my-rules.conf"
printf '[parser]\nrules = my-rules.conf\n[spool]\ndir = spool\n' > "$t/etc/r.conf"
out=$(cd / && "$R" serve -n -c "$t/etc/r.conf" 2>&1)
rc=$?
[ $rc = 0 ] && printf '%s\n' "$out" | grep -q "^rules = $t/etc/my-rules.conf$" &&
	printf '%s\n' "$out" | grep -q "^dir = $t/etc/spool$" &&
	ok "serve -n from / takes relative paths from the config's directory" ||
	nok "serve -n from / (exit $rc): $out"
printf '[log]\nlevel = info\n[parser]\nrules = nope.conf\n' > "$t/etc/r.conf"
# expect_error DESCRIPTION REGEX: serve -n on $t/etc/r.conf exits 1 with REGEX on stderr.
expect_error() {
	"$R" serve -n -c "$t/etc/r.conf" >/dev/null 2>"$t/err"
	rc=$?
	if [ $rc = 1 ] && grep -q -- "$2" "$t/err"; then ok "$1"; else nok "$1 (exit $rc: $(cat "$t/err"))"; fi
}
expect_error "serve -n: a missing rules file is FILE:LINE, exit 1" \
	"^rebound: $t/etc/r.conf:4: parser.rules: $t/etc/nope.conf: "
printf '[smtp]\nhostname = x\ntls_cert = c.pem\ntls_key = k.pem\n' > "$t/etc/r.conf"
printf '[spool]\ndir = %s\n' "$t/spool" >> "$t/etc/r.conf"
expect_error "serve -n: a missing certificate is FILE:LINE" \
	"^rebound: $t/etc/r.conf:3: smtp.tls_cert: $t/etc/c.pem: "
: > "$t/file"
printf '[spool]\ndir = %s/file/spool\n' "$t" > "$t/etc/r.conf"
expect_error "serve -n: a spool that cannot be made is FILE:LINE" \
	"^rebound: $t/etc/r.conf:2: spool.dir: $t/file: not a directory"
printf '[parser]\nrules = bad-rules.conf\n[spool]\ndir = %s\n' "$t/spool" > "$t/etc/r.conf"
printf 'class userunknown hard\nthis is not a rule\n' > "$t/etc/bad-rules.conf"
expect_error "serve -n: a rules file with an error is its FILE:LINE" "$t/etc/bad-rules.conf:2: "
printf '[spool]\ndir = %s\n[store]\nconninfo = host=%s dbname=x connect_timeout=2\n' "$t/spool" "$t" > "$t/etc/r.conf"
$R serve -n -c "$t/etc/r.conf" >/dev/null 2>&1
rc1=$?
$R serve -n --connect -c "$t/etc/r.conf" >/dev/null 2>"$t/err"
rc2=$?
if [ $rc1 = 0 ] && [ $rc2 = 1 ] && grep -q "^rebound: $t/etc/r.conf: store.conninfo: " "$t/err"; then
	ok "serve -n --connect fails when PostgreSQL does not answer (-n alone passes)"
else
	nok "serve -n --connect: -n $rc1, --connect $rc2: $(cat "$t/err")"
fi

# The units, as systemd reads them (ExecStart pointed at this build, the man
# pages of Documentation= found in this build).
mkdir -p "$t/man/man5" "$t/man/man8" "$t/units"
cp "$B/man/rebound.8" "$t/man/man8/"
cp "$B/man/rebound.conf.5" "$t/man/man5/"
for u in rebound.service rebound-lookupd.service; do
	sed "s|/usr/sbin/rebound|$R|" "conf/$u" > "$t/units/$u"
	v=$(MANPATH="$t/man" systemd-analyze verify "$t/units/$u" 2>&1)
	check "systemd-analyze verify $u is clean${v:+: $v}" [ -z "$v" ]
done
grep -q '^NoNewPrivileges=yes' conf/rebound.service && grep -q '^ProtectSystem=strict' conf/rebound.service &&
	grep -q '^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$' conf/rebound.service &&
	grep -q '^User=rebound' conf/rebound.service && grep -q '^WorkingDirectory=/$' conf/rebound.service &&
	ok "rebound.service is hardened and runs as rebound from /" || nok "rebound.service hardening"

# make install into a DESTDIR: the FHS layout, and the installed binary finds
# the installed rules and migrations from /.
san=; [ "$(basename "$B")" = san ] && san="SANITIZE=1"
if make -s --no-print-directory install DESTDIR="$t/root" PREFIX=/usr $san >"$t/install.log" 2>&1; then
	ok "make install DESTDIR=... PREFIX=/usr succeeds"
else
	nok "make install: $(tail -5 "$t/install.log")"
fi
missing=""
for f in usr/sbin/rebound usr/lib/rebound/rebound-all etc/rebound/rebound.conf usr/share/rebound/rules.conf \
	usr/share/rebound/sql/001_init.sql usr/share/rebound/postfix/main.cf \
	usr/share/man/man8/rebound.8 usr/share/man/man5/rebound.conf.5 \
	lib/systemd/system/rebound.service lib/systemd/system/rebound-lookupd.service; do
	[ -f "$t/root/$f" ] || missing="$missing $f"
done
check "make install puts every file in its FHS place${missing:+ (missing:$missing)}" [ -z "$missing" ]
printf '[spool]\ndir = %s\n' "$t/spool" > "$t/root/etc/rebound/rebound.conf.test"
out=$(cd / && "$t/root/usr/sbin/rebound" serve -n -c "$t/root/etc/rebound/rebound.conf.test" 2>&1)
check "the installed binary uses the installed rules.conf" \
	sh -c "printf '%s\n' \"\$1\" | grep -q '^rules = $t/root/usr/share/rebound/rules.conf$'" _ "$out"
check "the installed rebound parses with the installed rules.conf" \
	sh -c "cd / && '$t/root/usr/sbin/rebound' parse --json -c '$t/root/etc/rebound/rebound.conf.test' \
	    '$PWD/tests/fixtures/parsers/dsn-two-rcpts.eml' 2>&1 | grep -q '\"reason\":\"userunknown\"'"
echo "# kept" >> "$t/root/etc/rebound/rebound.conf"
make -s --no-print-directory install DESTDIR="$t/root" PREFIX=/usr $san >"$t/install.log" 2>&1
check "make install again keeps an existing rebound.conf" grep -q '^# kept$' "$t/root/etc/rebound/rebound.conf"

echo "1..$n"
