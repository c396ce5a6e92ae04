#!/bin/sh
# test_deb.sh DEB - "make test-deb": install the package into a fresh Debian 12
# chroot (debootstrap minbase, nothing else) and use it as an operator would:
# the version, both manual pages, the user, the conffile and the spool; the
# units checked with systemd-analyze verify; then rebound.service's ExecStart
# run as the unit runs it (User=, Group=, WorkingDirectory=, the capabilities)
# in a network namespace of its own, answering SMTP and spooling a bounce.
# TAP output; run as root (chroot, mounts).  The base system is built once
# and cached in ${REBOUND_DEB_CACHE:-/var/tmp/rebound-test-deb}.
set -u
deb=$(readlink -f "${1:?usage: test_deb.sh rebound_VERSION_ARCH.deb}")
[ "$(id -u)" = 0 ] || { echo "test_deb: run as root" >&2; exit 2; }
[ -f "$deb" ] || { echo "test_deb: no $deb" >&2; exit 2; }

n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }

cache=${REBOUND_DEB_CACHE:-/var/tmp/rebound-test-deb}
tarball=$cache/bookworm-minbase.tar
if [ ! -f "$tarball" ]; then
	echo "# building the base system (once): debootstrap --variant=minbase bookworm"
	mkdir -p "$cache"
	mirror=$( (sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources;
		awk '$1=="deb"{print $2}' /etc/apt/sources.list) 2>/dev/null | grep -v security | head -1)
	b=$(mktemp -d "$cache/build.XXXXXX")
	debootstrap --variant=minbase bookworm "$b" "${mirror:-http://deb.debian.org/debian}" >/dev/null ||
		{ rm -rf "$b"; echo "test_deb: debootstrap failed" >&2; exit 1; }
	tar -C "$b" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
	rm -rf "$b"
fi

r=$(mktemp -d /var/tmp/rebound-test-deb-root.XXXXXX)
# Processes whose root is the chroot: ended by id when the test ends.
inside() { for p in /proc/[0-9]*; do [ "$(readlink "$p/root" 2>/dev/null)" = "$r" ] && echo "${p#/proc/}"; done; }
cleanup() {
	for p in $(inside); do kill -TERM "$p" 2>/dev/null; done
	sleep 1
	for p in $(inside); do kill -KILL "$p" 2>/dev/null; done
	for m in dev/pts dev proc; do umount -l "$r/$m" 2>/dev/null; done
	rm -rf "$r"
}
trap cleanup EXIT
tar -C "$r" -xf "$tarball"
chmod 755 "$r"	# it is /, and the unit's user must enter it (tar restored mktemp's 0700)
mount -t proc proc "$r/proc"
mount --bind /dev "$r/dev"
mount -t devpts devpts "$r/dev/pts" 2>/dev/null
cp /etc/resolv.conf "$r/etc/resolv.conf"
cp "$deb" "$r/tmp/rebound.deb"
in_root() { chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

# 1. The package installs with its dependencies from the archive.
in_root apt-get update -qq >/dev/null 2>&1
check "the package installs into a fresh Debian 12" \
	sh -c "chroot '$r' env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/rebound.deb man-db systemd >'$r/tmp/apt.log' 2>&1" ||
	sed 's/^/# /' "$r/tmp/apt.log" | tail -20

version=$(dpkg-deb -f "$deb" Version)
out=$(in_root rebound --version 2>&1)
check "rebound --version prints rebound $version (got: $out)" [ "$out" = "rebound $version" ]

# 2. Manual pages: found by man, and clean.
check "man rebound describes serve" sh -c "chroot '$r' man rebound 2>/dev/null | grep -q 'serve'"
check "man rebound.conf lists the keys" \
	sh -c "chroot '$r' man rebound.conf 2>/dev/null | grep -q 'max_sessions_per_ip'"
w=$(in_root sh -c 'man --warnings rebound >/dev/null 2>/tmp/w8; man --warnings rebound.conf >/dev/null 2>/tmp/w5; cat /tmp/w8 /tmp/w5')
check "man --warnings reports nothing for either page" [ -z "$w" ]
[ -z "$w" ] || printf '%s\n' "$w" | sed 's/^/# /'

# 3. The user, the conffile, the spool.
pw=$(in_root getent passwd rebound)
uid=$(printf '%s' "$pw" | cut -d: -f3)
check "a system user rebound exists ($pw)" test "${uid:-1000}" -lt 1000
check "/etc/rebound/rebound.conf is a conffile" \
	sh -c "chroot '$r' dpkg-query -W -f='\${Conffiles}' rebound | grep -q '/etc/rebound/rebound.conf '"
perm=$(in_root stat -c '%a %U:%G' /etc/rebound/rebound.conf)
check "the config is 640 root:rebound (got $perm)" [ "$perm" = "640 root:rebound" ]
perm=$(in_root stat -c '%a %U:%G' /var/lib/rebound/spool)
check "the spool is 700 rebound:rebound (got $perm)" [ "$perm" = "700 rebound:rebound" ]
check "the rules and migrations are installed" \
	test -f "$r/usr/share/rebound/rules.conf" -a -f "$r/usr/share/rebound/sql/001_init.sql"

# 4. The units, as the chroot's systemd reads them.
for u in rebound.service rebound-lookupd.service; do
	v=$(in_root systemd-analyze verify "/lib/systemd/system/$u" 2>&1)
	check "systemd-analyze verify $u is clean" [ -z "$v" ]
	[ -z "$v" ] || printf '%s\n' "$v" | sed 's/^/# /'
done

# 5. rebound.service's ExecStart as the unit runs it.
unit=$r/lib/systemd/system/rebound.service
key() { sed -n "s/^$1=//p" "$unit" | head -1; }
user=$(key User)
group=$(key Group)
wd=$(key WorkingDirectory)
exec_start=$(key ExecStart)
caps=$(key AmbientCapabilities | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/ /,+/g')
check "the unit runs as rebound from / (User=$user WorkingDirectory=$wd)" \
	test "$user" = rebound -a "$wd" = /
out=$(chroot "$r" setpriv --reuid="$user" --regid="$group" --init-groups \
	sh -c "cd '$wd' && $exec_start -n" 2>&1)
rc=$?
check "serve -n accepts the installed configuration as the unit's user" [ $rc = 0 ]
[ $rc = 0 ] || printf '%s\n' "$out" | sed 's/^/# /' | tail -5
printf '%s\n' "$out" | grep -q "rules = /usr/share/rebound/rules.conf" &&
	ok "the default rules are the installed ones" || nok "the default rules are the installed ones"
out=$(chroot "$r" setpriv --reuid="$user" --regid="$group" --init-groups \
	sh -c "cd / && rebound config" 2>&1)
check "rebound config reads /etc/rebound/rebound.conf without -c" \
	sh -c 'printf "%s\n" "$1" | grep -q "^dir = /var/lib/rebound/spool$"' _ "$out"

# The daemon and its client share a network namespace of their own: the
# host's ports stay out of it.  The client is bash's /dev/tcp inside the chroot.
cat > "$r/tmp/smtp.sh" <<'EOF'
#!/bin/bash
# Wait for the port, then HELO, MAIL FROM:<>, RCPT, DATA; print the replies.
for i in $(seq 1 100); do
	{ exec 3<>/dev/tcp/127.0.0.1/2525; } 2>/dev/null && break
	sleep 0.1
done
[ -e /proc/self/fd/3 ] || { echo "no connection to 127.0.0.1:2525"; exit 1; }
say() { printf '%s\r\n' "$1" >&3; IFS= read -r -t 10 line <&3; echo "$line"; }
IFS= read -r -t 10 line <&3; echo "$line"
say "HELO test.example"
say "MAIL FROM:<>"
say "RCPT TO:<bounce@bounces.example.com>"
say "DATA"
printf 'From: MAILER-DAEMON@mx.example\r\nTo: bounce@bounces.example.com\r\nSubject: Undelivered\r\n\r\n550 5.1.1 <gone@example.org>: user unknown\r\n' >&3
say "."
say "QUIT"
EOF
chmod +x "$r/tmp/smtp.sh"
unshare --net sh -c "
	ip link set lo up
	chroot '$r' setpriv --reuid='$user' --regid='$group' --init-groups \
		--inh-caps=+$caps --ambient-caps=+$caps --bounding-set=-all,+$caps --no-new-privs \
		sh -c \"cd '$wd' && exec $exec_start\" >'$r/tmp/serve.log' 2>&1 &
	pid=\$!
	chroot '$r' /tmp/smtp.sh >'$r/tmp/smtp.out' 2>&1
	sleep 0.5
	kill -TERM \$pid
	wait \$pid
	echo \$? >'$r/tmp/serve.rc'
"
sed 's/^/# smtp: /' "$r/tmp/smtp.out"
check "the daemon greets with 220" grep -q '^220 ' "$r/tmp/smtp.out"
check "a bounce from the null sender is accepted and spooled (250 queued)" \
	grep -q '^250 2.0.0 .*queued' "$r/tmp/smtp.out"
# Numeric: the host's user names are not the chroot's.
owner=$(find "$r/var/lib/rebound/spool/queue" -type f -printf '%U\n' 2>/dev/null | sort -u)
check "the spooled file belongs to rebound (uid $uid; got: $owner)" [ "$owner" = "$uid" ]
check "SIGTERM stops it with status 0" [ "$(cat "$r/tmp/serve.rc" 2>/dev/null)" = 0 ]
[ "$(cat "$r/tmp/serve.rc" 2>/dev/null)" = 0 ] || sed 's/^/# serve: /' "$r/tmp/serve.log" | tail -20

echo "1..$n"
[ $fails = 0 ]
