#!/usr/bin/env bash
# Installs (if missing) and starts the services the deployment tests (test/OpenReplica.Deploy.Tests) run against:
#   redis-server   on 127.0.0.1:6379   (Orleans Redis clustering)
#   PostgreSQL 15  on 127.0.0.1:5432   database "orleans", user "orleans", password "orleans", with Orleans' ADO.NET
#                                      clustering schema (samples/Deploy/sql/PostgreSQL-{Main,Clustering}.sql)
#   chromium       (Debian's package) for the checker's HTML report test (test/OpenReplica.Checker.Tests, HtmlReportTests)
#   iptables       for the gateway-refusal test (test/OpenReplica.Deploy.Tests, GatewayRefusalTests) and the chaos
#                  tool's partitions (test/Chaos, ShortChaosProfileTests)
#   libfaketime    for the chaos tool's clock nemeses; the tool also keeps Orleans membership in the Redis below, so
#                  any silo can be faulted
# Idempotent and quiet: a second run only checks that both answer. Needs root (or passwordless sudo) and apt-get to
# install; without them it exits 1 and the tests skip with a message naming this script.
# Overrides: OPENREPLICA_REDIS_PORT, OPENREPLICA_PG_PORT, OPENREPLICA_PG_VERSION (15).
set -euo pipefail
cd "$(dirname "$0")/.."

redis_port=${OPENREPLICA_REDIS_PORT:-6379}
pg_port=${OPENREPLICA_PG_PORT:-5432}
pg_version=${OPENREPLICA_PG_VERSION:-15}
db=orleans user=orleans password=orleans

say() { echo "services: $*"; }
die() { echo "services: $*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
  as_root() { "$@"; }
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root() { sudo -n "$@"; }
else
  as_root() { die "need root (or passwordless sudo) to run: $*"; }
fi

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found; install $* yourself"
  if [ "$apt_updated" -eq 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >/dev/null \
    || die "apt-get install $* failed"
}

# ---- chromium (headless browser for the checker's HTML report test) ----
# Not fatal: without it only HtmlReportTests skip, so Redis and PostgreSQL below must still start.
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  say "installing chromium"
  (apt_install chromium) || say "chromium could not be installed; HtmlReportTests will skip"
fi
command -v chromium >/dev/null && say "chromium $(chromium --version 2>/dev/null | awk '{print $2}')"

# ---- libfaketime (the chaos tool's clock-jump and clock-skew nemeses, test/Chaos) ----
# Not fatal: without it the chaos tool skips those two nemeses and says so.
if ! ls /usr/lib/*/faketime/libfaketimeMT.so.1 >/dev/null 2>&1; then
  say "installing libfaketime"
  (apt_install libfaketime) || say "libfaketime could not be installed; the chaos tool's clock nemeses will skip"
fi

# ---- iptables (the gateway-refusal test resets loopback connections to gateway ports; the chaos tool's partitions) ----
if ! command -v iptables >/dev/null; then
  say "installing iptables"
  (apt_install iptables) || say "iptables could not be installed; GatewayRefusalTests and the chaos partitions will skip"
fi

# ---- Redis ----
redis_ping() { [ "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" = "PONG" ]; }
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { say "installing redis-server"; apt_install redis-server; }
if ! redis_ping; then
  # No systemd in containers: run it ourselves, memory only (the tests use fresh cluster ids).
  as_root redis-server --bind 127.0.0.1 --port "$redis_port" --daemonize yes --save '' --appendonly no \
    --logfile /tmp/openreplica-redis-"$redis_port".log >/dev/null
  for _ in $(seq 50); do redis_ping && break; sleep 0.2; done
  redis_ping || die "redis-server did not answer on 127.0.0.1:$redis_port (see /tmp/openreplica-redis-$redis_port.log)"
fi
say "redis $(redis-cli -h 127.0.0.1 -p "$redis_port" info server | awk -F: '/^redis_version/{print $2}' | tr -d '\r') on 127.0.0.1:$redis_port"

# ---- PostgreSQL ----
pg_bin=/usr/lib/postgresql/$pg_version/bin
[ -x "$pg_bin/postgres" ] && command -v pg_ctlcluster >/dev/null || { say "installing postgresql-$pg_version"; apt_install "postgresql-$pg_version" postgresql-client-"$pg_version"; }
pg_ready() { "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port"; }
if ! pg_ready; then
  cluster=$(pg_lsclusters -h 2>/dev/null | awk -v v="$pg_version" -v p="$pg_port" '$1==v && $3==p {print $2; exit}')
  if [ -z "$cluster" ]; then
    cluster=openreplica
    as_root pg_createcluster -q -p "$pg_port" "$pg_version" "$cluster" >/dev/null
  fi
  as_root pg_ctlcluster "$pg_version" "$cluster" start || die "could not start PostgreSQL $pg_version/$cluster (see /var/log/postgresql/)"
  for _ in $(seq 75); do pg_ready && break; sleep 0.2; done
  pg_ready || die "PostgreSQL did not answer on 127.0.0.1:$pg_port"
fi

psql_admin() { as_root su postgres -c "psql -X -q -v ON_ERROR_STOP=1 -p $pg_port -d ${2:-postgres} -tAc \"$1\""; }
[ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname='$user'")" = 1 ] \
  || psql_admin "CREATE ROLE $user LOGIN CREATEDB PASSWORD '$password'"
[ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname='$db'")" = 1 ] \
  || psql_admin "CREATE DATABASE $db OWNER $user"

export PGPASSWORD=$password PGOPTIONS="-c client_min_messages=warning"
psql_orleans() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U "$user" -d "$db" "$@"; }
if [ "$(psql_orleans -tAc "SELECT to_regclass('orleansmembershiptable') IS NOT NULL")" != t ]; then
  say "loading Orleans' PostgreSQL clustering schema"
  psql_orleans -1 -f samples/Deploy/sql/PostgreSQL-Main.sql -f samples/Deploy/sql/PostgreSQL-Clustering.sql >/dev/null
fi
say "postgres $(psql_orleans -tAc 'SHOW server_version' | cut -d' ' -f1) on 127.0.0.1:$pg_port, database $db (user $user)"
