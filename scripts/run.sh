#!/bin/sh
# run.sh - "make run": a private PostgreSQL cluster (initdb, unix socket only,
# no system service), the schema migrated, and Rebound in the foreground on
# 127.0.0.1:2525 with its state under var/.  Ctrl-C (or "make stop", which is
# "run.sh stop") stops both.
#
# It refuses, before starting anything, when another "make run" of this tree
# is running, when its cluster is already up, or when one of its ports is
# taken; and it stops only the PostgreSQL it started itself.
set -eu
cd "$(dirname "$0")/.."
PGBIN=/usr/lib/postgresql/15/bin
TOP="$(pwd)"
VAR="$TOP/var"
CONF="$VAR/rebound.conf"
RUNPID="$VAR/run.pid"
PORTS="2525 2526 2527 8025"

# PostgreSQL refuses to run as root, so as root it runs as postgres, which
# cannot always enter the tree (a clone in /root, mode 0700): its cluster
# then lives in a directory of its own under /var/tmp, one per tree.
if [ "$(id -u)" = 0 ]; then
	PGDIR="/var/tmp/rebound-run-$(printf '%s' "$TOP" | sha1sum | cut -c1-12)/pg"
else
	PGDIR="$VAR/pg"
fi
PGDATA="$PGDIR/data"

as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
psql_pg() {
	psql -X -q -t -A -h "$PGDIR" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"
}
pg_running() { as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# "run.sh stop": end the "make run" of this tree; its exit handler stops the
# daemon and the cluster.  What a killed run left behind goes too (the
# daemon by its pid file, the cluster in this tree's data directory).
if [ "${1:-}" = stop ]; then
	pid=$(cat "$RUNPID" 2>/dev/null || true)
	if alive "$pid"; then
		echo "stop: ending make run (pid $pid)"
		kill -TERM "$pid"
		i=0
		while alive "$pid" && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
	fi
	spid=$(cat "$VAR/serve.pid" 2>/dev/null || true)
	if alive "$spid" && [ "$(readlink "/proc/$spid/exe" 2>/dev/null)" = "$TOP/build/rebound" ]; then
		echo "stop: ending rebound serve (pid $spid)"
		kill -TERM "$spid"
	fi
	if [ -f "$PGDATA/PG_VERSION" ] && pg_running; then
		echo "stop: stopping the PostgreSQL cluster in $PGDATA"
		as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -w -m fast stop >/dev/null
	fi
	rm -f "$RUNPID" "$VAR/serve.pid"
	exit 0
fi

# Ports in the kernel's tables of listening sockets (state 0A), IPv4 and IPv6.
port_taken() {
	hex=$(printf '%04X' "$1")
	awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}

mkdir -p "$VAR/spool"
pid=$(cat "$RUNPID" 2>/dev/null || true)
if alive "$pid"; then
	echo "run: make run is already running for this tree (pid $pid); \"make stop\" ends it" >&2
	exit 1
fi
if [ -f "$PGDATA/PG_VERSION" ] && pg_running; then
	echo "run: the PostgreSQL cluster in $PGDATA is already running, not started by this" \
		"make run; \"make stop\" stops it" >&2
	exit 1
fi
for p in $PORTS; do
	if port_taken "$p"; then
		echo "run: port $p is in use (Rebound needs 127.0.0.1:2525 for SMTP, 2526, 2527 and" \
			"8025 for lookups); stop what listens there first" >&2
		exit 1
	fi
done
echo $$ > "$RUNPID"

mkdir -p "$PGDIR"
if [ "$(id -u)" = 0 ]; then chown postgres: "$PGDIR" && chmod 0700 "$PGDIR"; fi
if [ ! -f "$PGDATA/PG_VERSION" ]; then
	echo "run: creating a PostgreSQL cluster in $PGDATA"
	as_pg "$PGBIN/initdb" -D "$PGDATA" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
	cat >> "$PGDATA/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$PGDIR'
synchronous_commit = on
CONF
fi
started_pg=""
cleanup() {
	if [ -n "$started_pg" ]; then
		as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -w -m fast stop >/dev/null 2>&1 || true
	fi
	rm -f "$RUNPID" "$VAR/serve.pid"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -w -l "$PGDIR/log" start >/dev/null
started_pg=1

[ "$(psql_pg -c "SELECT 1 FROM pg_roles WHERE rolname = 'rebound'")" = 1 ] ||
	psql_pg -c "CREATE ROLE rebound LOGIN"
[ "$(psql_pg -c "SELECT 1 FROM pg_database WHERE datname = 'rebound'")" = 1 ] ||
	psql_pg -c "CREATE DATABASE rebound OWNER rebound"

CONNINFO="host=$PGDIR dbname=rebound user=rebound"
# A signing key, so that only signed return paths can suppress (README, Security).
if [ ! -f "$VAR/signing.key" ]; then
	(umask 077; printf 'hex:%s\n' "$(openssl rand -hex 32)" > "$VAR/signing.key")
fi
if [ -f "$CONF" ] && ! grep -q '^\[signing\]' "$CONF"; then
	printf '\n[signing]\nkey = file:%s\n' "$VAR/signing.key" >> "$CONF"
fi
if [ ! -f "$CONF" ]; then
	cat > "$CONF" <<CONF
# Written by "make run"; edit freely, it is kept between runs (but the
# [store] conninfo line follows the cluster's place).
[smtp]
listen = 127.0.0.1:2525
hostname = localhost
domains = bounces.example.com
fbl_addresses = fbl@bounces.example.com

[spool]
dir = spool

[store]
conninfo = $CONNINFO
migrate_on_start = true

[signing]
key = file:$VAR/signing.key
CONF
fi
# The cluster's socket directory depends on who runs make run.
sed -i "s|^conninfo = host=[^ ]* dbname=rebound user=rebound\$|conninfo = $CONNINFO|" "$CONF"

build/rebound migrate -c "$CONF"
SIGNED="$(build/rebound sign -c "$CONF" --domain bounces.example.com alice@example.org)"
cat <<MSG

Rebound: SMTP on 127.0.0.1:2525 (return-path domain bounces.example.com), config $CONF
  signed path:     $SIGNED (build/rebound sign -c $CONF ADDRESS makes others)
  send a bounce:   swaks --server 127.0.0.1:2525 --from '<>' --to '$SIGNED' --data FILE.eml
                   (only bounces for alice@example.org sent to it suppress; unsigned ones get 550)
  see the result:  psql -h $PGDIR -U rebound rebound -c 'SELECT tenant, address, class, reason, expires_at FROM suppressions'
  ask as Postfix:  postmap -c conf/postfix -q ADDRESS socketmap:inet:127.0.0.1:2526:suppressed
Ctrl-C (or "make stop" from another terminal) stops Rebound and the PostgreSQL cluster.

MSG
# As root (make run on a fresh VM) there is no [smtp] user to drop to.
root=""; [ "$(id -u)" = 0 ] && root="--allow-root"
build/rebound serve -c "$CONF" $root &
pid=$!
echo $pid > "$VAR/serve.pid"
trap 'kill -TERM $pid 2>/dev/null; wait $pid; exit 0' INT TERM
wait $pid
