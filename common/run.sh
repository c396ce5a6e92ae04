#!/bin/sh
# run.sh - "make run": start Rebound in the foreground on 127.0.0.1:2525
# with state under var/.
set -eu
mkdir -p var/spool
[ -f var/rebound.conf ] || sed -e 's|^dir = .*|dir = var/spool|' conf/rebound.conf > var/rebound.conf
exec build/rebound serve -c var/rebound.conf
