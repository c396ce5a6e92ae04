#!/bin/sh
# deps.sh build|test|bench|deb - install the Debian 12 packages Rebound needs.
# As root: installs what is missing and says what.  Otherwise: prints the
# exact apt-get line and fails, so "make run" / "make check" stop early.
set -eu

BUILD_PKGS="build-essential pkg-config libglib2.0-dev libgmime-3.0-dev libevent-dev libssl-dev libpq-dev libjson-glib-dev libopendkim-dev libseccomp-dev"
RUN_PKGS="postgresql-15 openssl"
# python3-dkim signs the tests' reports; man-db and systemd: the man pages
# and the units are checked (man --warnings, systemd-analyze verify).
TEST_PKGS="python3 python3-dkim swaks curl postfix clang libclang-rt-14-dev valgrind man-db systemd"
BENCH_PKGS="wrk libsisimai-perl"
# make deb / make test-deb: Debian's packaging tools and a chroot builder.
DEB_PKGS="debhelper dpkg-dev fakeroot lintian debootstrap man-db systemd"

case "${1:-build}" in
build) want="$BUILD_PKGS $RUN_PKGS" ;;
test) want="$BUILD_PKGS $RUN_PKGS $TEST_PKGS" ;;
bench) want="$BUILD_PKGS $RUN_PKGS $TEST_PKGS $BENCH_PKGS" ;;
deb) want="$BUILD_PKGS $DEB_PKGS" ;;
*) echo "usage: $0 build|test|bench|deb" >&2; exit 2 ;;
esac

# PostgreSQL runs as its own user, which must be able to reach the tools
# and data below "/": a root directory without search permission for
# others (seen in chroots made with mktemp -d) makes every initdb fail with
# "Permission denied".  A real system's "/" is 0755; make this one so.
if [ "$(id -u)" = 0 ] && [ "$(( 0$(stat -c %a /) & 1 ))" = 0 ]; then
	echo "rebound: / is mode $(stat -c %a /): setting 0755 so that the postgres user can reach its files" >&2
	chmod 0755 /
fi

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "rebound: missing Debian packages. Install them with:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "rebound: installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
# postfix is wanted for its tools (postmap, smtp-source, smtp-sink) only:
# keep its MTA from starting and taking port 25 during the install.
prc=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	prc=1
fi
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
[ -n "$prc" ] && rm -f /usr/sbin/policy-rc.d
if command -v postfix >/dev/null 2>&1 && pgrep -x master >/dev/null 2>&1; then
	postfix stop >/dev/null 2>&1 || true
fi
exit 0
