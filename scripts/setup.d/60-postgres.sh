#!/usr/bin/env bash
# PostgreSQL for the team-ledger tests (tests/outcomes/test_team_ledger.py): Debian's
# postgresql package (its server binaries in /usr/lib/postgresql/*/bin), and, when run as
# root (CI), an unprivileged user "ttapg" for the tests' throwaway clusters: initdb
# refuses to run as root, so the tests run it through runuser as that user.
#
# The package's own cluster service is not used or started: each test run makes a cluster
# in a temporary directory on a free loopback port and stops it at the end.
# Idempotent: a second run only prints the version.
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { printf '[60-postgres] %s\n' "$*"; }

SUDO=()
[ "$(id -u)" = 0 ] || SUDO=(sudo)

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "apt-get install postgresql"
  "${SUDO[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends \
    postgresql
fi
if [ "$(id -u)" = 0 ] && ! id ttapg >/dev/null 2>&1; then
  log "creating the unprivileged user ttapg (initdb refuses root)"
  useradd --system --no-create-home --shell /usr/sbin/nologin ttapg
fi
INITDB=$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
log "$("$INITDB" --version) at $INITDB"
