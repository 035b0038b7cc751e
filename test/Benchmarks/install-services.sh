#!/usr/bin/env bash
# Installs (only installs, never starts) the Debian packages whose servers the load tool compares against:
#   redis-server    (Microsoft.Orleans.Persistence.Redis)
#   postgresql-15   (Microsoft.Orleans.Persistence.AdoNet + Npgsql)
#   etcd-server     (a 3-member etcd cluster driven through dotnet-etcd)
# The load tool starts its own private instances of them on free loopback ports with data under its work directory,
# so this never touches the services .ci/services.sh runs on 6379/5432. The tool runs this script itself when a
# binary is missing. Idempotent and quiet: with everything installed it only checks and exits 0.
# Needs root (or passwordless sudo) and apt-get; without them it exits 1 naming what to install.
set -euo pipefail

say() { echo "install-services: $*"; }
die() { echo "install-services: $*" >&2; exit 1; }

# A package is needed when the binary the tool runs is absent (the paths are the ones Debian's packages install).
missing=()
[ -x /usr/bin/redis-server ] || missing+=(redis-server)
[ -x /usr/lib/postgresql/15/bin/postgres ] && [ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15)
[ -x /usr/bin/etcd ] || missing+=(etcd-server)
[ ${#missing[@]} -eq 0 ] && exit 0

command -v apt-get >/dev/null || die "apt-get not found; install ${missing[*]} yourself"
if [ "$(id -u)" -eq 0 ]; then
  as_root() { "$@"; }
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root() { sudo -n "$@"; }
else
  die "need root (or passwordless sudo) to install ${missing[*]}: run $0 as root"
fi
say "installing ${missing[*]}"
# apt's chatter goes to a log that is shown only when a step fails.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
apt() { as_root env DEBIAN_FRONTEND=noninteractive apt-get "$@" >"$log" 2>&1 || { cat "$log" >&2; die "apt-get $1 failed"; }; }
apt update -qq
apt install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${missing[@]}"

# Debian's packages try to start their own services; in a container without systemd that fails harmlessly, and the
# tool never uses those instances anyway.
for bin in /usr/bin/redis-server /usr/lib/postgresql/15/bin/postgres /usr/bin/etcd; do
  [ -x "$bin" ] || die "$bin still missing after apt-get install"
done
say "installed ${missing[*]}"
