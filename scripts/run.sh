#!/bin/sh
# run.sh - "make run": a private PostgreSQL cluster under var/pg (initdb, unix
# socket only, no system service), the schema migrated, and Rebound in the
# foreground on 127.0.0.1:2525 with state under var/.  Ctrl-C stops both.
set -eu
cd "$(dirname "$0")/.."
PGBIN=/usr/lib/postgresql/15/bin
VAR="$(pwd)/var"
PGDIR="$VAR/pg"
PGDATA="$PGDIR/data"
CONF="$VAR/rebound.conf"

# PostgreSQL refuses to run as root: use the postgres user then.
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
psql_pg() {
	psql -X -q -t -A -h "$PGDIR" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"
}

mkdir -p "$VAR/spool" "$PGDIR"
if [ "$(id -u)" = 0 ]; then chown postgres: "$PGDIR"; fi
if [ ! -f "$PGDATA/PG_VERSION" ]; then
	echo "run: creating a PostgreSQL cluster in $PGDATA"
	as_pg "$PGBIN/initdb" -D "$PGDATA" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
	cat >> "$PGDATA/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$PGDIR'
synchronous_commit = on
CONF
fi
if ! as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
	as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -w -l "$PGDIR/log" start >/dev/null
fi
stop_pg() { as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -w -m fast stop >/dev/null 2>&1 || true; }
trap stop_pg EXIT
trap 'exit 130' INT TERM

[ "$(psql_pg -c "SELECT 1 FROM pg_roles WHERE rolname = 'rebound'")" = 1 ] ||
	psql_pg -c "CREATE ROLE rebound LOGIN"
[ "$(psql_pg -c "SELECT 1 FROM pg_database WHERE datname = 'rebound'")" = 1 ] ||
	psql_pg -c "CREATE DATABASE rebound OWNER rebound"

# A signing key, so that only signed return paths can suppress (README, Security).
if [ ! -f "$VAR/signing.key" ]; then
	(umask 077; printf 'hex:%s\n' "$(openssl rand -hex 32)" > "$VAR/signing.key")
fi
if [ -f "$CONF" ] && ! grep -q '^\[signing\]' "$CONF"; then
	printf '\n[signing]\nkey = file:%s\n' "$VAR/signing.key" >> "$CONF"
fi
if [ ! -f "$CONF" ]; then
	cat > "$CONF" <<CONF
# Written by "make run"; edit freely, it is kept between runs.
[smtp]
listen = 127.0.0.1:2525
hostname = localhost
domains = bounces.example.com
fbl_addresses = fbl@bounces.example.com

[spool]
dir = $VAR/spool

[store]
conninfo = host=$PGDIR dbname=rebound user=rebound
migrate_on_start = true

[signing]
key = file:$VAR/signing.key
CONF
fi

build/rebound migrate -c "$CONF"
SIGNED="$(build/rebound sign -c "$CONF" --domain bounces.example.com alice@example.org)"
cat <<MSG

Rebound: SMTP on 127.0.0.1:2525 (return-path domain bounces.example.com), config $CONF
  signed path:     $SIGNED (build/rebound sign -c $CONF ADDRESS makes others)
  send a bounce:   swaks --server 127.0.0.1:2525 --from '' --to '$SIGNED' --data FILE.eml
                   (only bounces for alice@example.org sent to it suppress; unsigned ones get 550)
  see the result:  psql -h $PGDIR -U rebound rebound -c 'SELECT tenant, address, class, reason, expires_at FROM suppressions'
Ctrl-C stops Rebound and the PostgreSQL cluster.

MSG
# As root (make run on a fresh VM) there is no [smtp] user to drop to.
root=""; [ "$(id -u)" = 0 ] && root="--allow-root"
build/rebound serve -c "$CONF" $root &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid; exit 0' INT TERM
wait $pid
