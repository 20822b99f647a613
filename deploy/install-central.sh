#!/usr/bin/env bash
# Hadir: install or upgrade the central (MQTT collector and HTTP API) on a Debian 12 (Bookworm)
# server.
#
# Run as root on the server, from a checkout of the Hadir repository:
#   sudo deploy/install-central.sh [options]
#
# Safe to run again: every step checks first and only changes what differs; a re-run upgrades
# the code, upgrades the database and restarts a running service. What it does:
#   * apt packages: python3, python3-venv, ca-certificates, sqlite3;
#   * the system user hadir-central;
#   * /opt/hadir/venv with "pip install <checkout>[central]", and /usr/local/bin/hadir-central;
#   * /etc/hadir/central.toml, a skeleton, when absent (root:hadir-central 0640), never
#     overwritten; the collector's broker password (/etc/hadir/central-mqtt-password) and the
#     API's operator token (/etc/hadir/central-admin-token), random, when absent (same mode);
#   * /var/lib/hadir-central (the SQLite database until PostgreSQL is configured);
#   * hadir-central.service, installed and enabled;
#   * at the end: "hadir-central db upgrade" and "keys init" (the template key, kept if present) as
#     hadir-central, then a restart if it was running.
#
# Options:
#   --dry-run        print what would be done; change nothing (no root needed)
#   --postgres       print the PostgreSQL steps (createuser, createdb) and the [database].url to
#                    put in central.toml; nothing is changed in PostgreSQL
#   --with-broker    this server is also the broker: mosquitto from Debian; hadir.acl from
#                    deploy/mosquitto/hadir.acl.head and hadir.passwd with the collector's line,
#                    when absent; deploy/mosquitto/hadir.conf into /etc/mosquitto/conf.d once the
#                    certificates exist in /etc/mosquitto/certs (docs/production.md), then a
#                    restart of mosquitto
#   -h, --help       this text
set -euo pipefail

PROG=install-central.sh
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
USER_NAME=hadir-central
VENV=/opt/hadir/venv
ETC=/etc/hadir
CONFIG=$ETC/central.toml
MQTT_SECRET=$ETC/central-mqtt-password
ADMIN_TOKEN=$ETC/central-admin-token
STATE=/var/lib/hadir-central
UNIT=/etc/systemd/system/hadir-central.service
COLLECTOR=hadir-collector # the collector's broker login; deploy/mosquitto/hadir.acl.head
MOSQ=/etc/mosquitto
APT_PACKAGES=(python3 python3-venv ca-certificates sqlite3)

DRY_RUN=0
POSTGRES=0
WITH_BROKER=0
WORK=""

# -- output and actions --------------------------------------------------------------------------

# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# A random secret in a root:hadir-central 0640 file, made once and then kept.
ensure_secret() {
  local dest=$1
  if [[ -s $dest ]]; then
    note "$dest: exists, kept"
    fix_perms "$dest" 0640 root "$USER_NAME"
  elif ((DRY_RUN)); then
    note "would generate $dest (random, root:$USER_NAME 0640)"
  else
    (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(32))' >"$dest")
    chown "root:$USER_NAME" "$dest"
    chmod 0640 "$dest"
    note "+ generated $dest (root:$USER_NAME 0640)"
  fi
}

systemd_running() { [[ -d /run/systemd/system ]]; }

# The collector's line for mosquitto's password file ($7$, PBKDF2-SHA512, as mosquitto_passwd).
collector_passwd_line() {
  "$VENV/bin/python" - "$COLLECTOR" "$MQTT_SECRET" <<'PY'
import sys
from central.devices import mosquitto_hash
user, secret = sys.argv[1:]
print(mosquitto_hash(user, open(secret).read().strip()))
PY
}

# Whether FILE has a line for the collector that matches its password.
collector_line_matches() {
  "$VENV/bin/python" - "$1" "$COLLECTOR" "$MQTT_SECRET" <<'PY'
import base64, hashlib, hmac, sys
path, user, secret = sys.argv[1:]
password = open(secret).read().strip().encode()
for line in open(path):
    name, _, stored = line.strip().partition(":")
    parts = stored.split("$")  # "", "7", iterations, salt, hash
    if name == user and len(parts) == 5 and parts[1] == "7":
        digest = hashlib.pbkdf2_hmac("sha512", password, base64.b64decode(parts[3]), int(parts[2]))
        sys.exit(0 if hmac.compare_digest(digest, base64.b64decode(parts[4])) else 1)
sys.exit(1)
PY
}

cleanup() { [[ -z $WORK ]] || rm -rf "$WORK"; }
trap cleanup EXIT

# -- arguments -----------------------------------------------------------------------------------

while [[ $# -gt 0 ]]; do
  case $1 in
    --dry-run) DRY_RUN=1 ;;
    --postgres) POSTGRES=1 ;;
    --with-broker) WITH_BROKER=1 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
  shift
done

if ((DRY_RUN)); then
  echo "$PROG: dry run: nothing is changed; 'would run' lines are what a real run does."
elif [[ $EUID -ne 0 ]]; then
  die "run as root (sudo $0 ...), or with --dry-run"
fi
[[ -f $SRC/pyproject.toml && -f $SRC/systemd/hadir-central.service && -d $SRC/deploy/mosquitto ]] ||
  die "$SRC is not a Hadir checkout (pyproject.toml, systemd/, deploy/mosquitto/)"

say "System"
codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null || true)
codename=${codename:-unknown}
note "source: $SRC"
note "os: $codename; $(uname -m)"
[[ $codename == bookworm ]] || warn "written for Debian 12 (bookworm); this is '$codename'"

# -- packages ------------------------------------------------------------------------------------

say "Debian packages"
wanted=("${APT_PACKAGES[@]}")
((WITH_BROKER == 0)) || wanted+=(mosquitto mosquitto-clients)
install_packages "${wanted[@]}"
check_python

# -- user and directories ------------------------------------------------------------------------

say "User and directories"
if getent passwd "$USER_NAME" >/dev/null; then
  note "user $USER_NAME exists"
else
  if getent group "$USER_NAME" >/dev/null; then group_opt=(--gid "$USER_NAME"); else group_opt=(--user-group); fi
  run useradd --system "${group_opt[@]}" --home-dir "$STATE" --no-create-home \
    --shell /usr/sbin/nologin --comment "Hadir central" "$USER_NAME"
fi
ensure_dir /opt/hadir 0755 root root
ensure_dir "$ETC" 0755 root root
ensure_dir "$STATE" 0750 "$USER_NAME" "$USER_NAME"

# -- the code ------------------------------------------------------------------------------------

say "Virtual environment $VENV"
if [[ -x $VENV/bin/python ]]; then
  note "exists ($("$VENV/bin/python" -V 2>&1))"
else
  run python3 -m venv "$VENV"
fi
# pip builds in the source tree; build from a copy so no root-owned build/ lands in the checkout.
WORK=$(mktemp -d)
tar -C "$SRC" --exclude=./.git --exclude=./.venv --exclude='*.egg-info' --exclude=./build \
  --exclude=__pycache__ --exclude=.mypy_cache --exclude=.ruff_cache --exclude=.pytest_cache \
  --exclude=.hypothesis -cf - . | tar -C "$WORK" -xf -
run "$VENV/bin/pip" install --disable-pip-version-check --quiet "${WORK}[central]"
if ((!DRY_RUN)); then
  revision=$(git -c safe.directory="$SRC" -C "$SRC" describe --always --dirty 2>/dev/null ||
    echo "not a git checkout")
  version=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("hadir"))')
  printf 'hadir %s from %s (%s) installed %s\n' "$version" "$SRC" "$revision" "$(date -Is)" \
    >/opt/hadir/installed-central
  note "hadir $version ($revision)"
fi
ensure_symlink "$VENV/bin/hadir-central" /usr/local/bin/hadir-central

# -- configuration -------------------------------------------------------------------------------

say "Configuration $CONFIG"
ensure_secret "$MQTT_SECRET"
ensure_secret "$ADMIN_TOKEN"
if [[ -e $CONFIG ]]; then
  note "$CONFIG exists: left as it is"
  fix_perms "$CONFIG" 0640 root "$USER_NAME"
else
  cat >"$WORK/central.toml" <<EOF
# Hadir central: $CONFIG (made by deploy/install-central.sh; never overwritten by it).
# Every key is listed in README.md ("The central"); HADIR_DATABASE_URL and HADIR_MQTT_PASSWORD
# in the environment override [database].url and the MQTT password. docs/production.md has
# the production values.

[database]
# SQLite for a pilot. Production: PostgreSQL (deploy/install-central.sh --postgres prints the
# steps), e.g. on this host with peer authentication over the local socket, no password:
#   url = "postgresql+psycopg://hadir-central@/hadir?host=/var/run/postgresql"
url = "sqlite:///$STATE/central.db"

[mqtt]
# The broker on this host, through the loopback listener of deploy/mosquitto/hadir.conf. For a
# broker elsewhere: host = "<its name, as in its certificate>", port = 8883, tls = true and
# ca_file = "$ETC/ca.crt".
host = "127.0.0.1"
port = 1883
tls = false
# The collector's broker login: in the broker's hadir.passwd and hadir.acl. A second collector
# process needs its own username (hadir-collector-2, with its own ACL block) and client_id,
# and the same share_group.
username = "$COLLECTOR"
password_file = "$MQTT_SECRET"
client_id = "$COLLECTOR"
share_group = "collectors"

[api]
# Behind a TLS reverse proxy (nginx, Caddy) on this host; never expose 8080 directly.
host = "127.0.0.1"
port = 8080
# Bearer token of the operator endpoints (device binding, the mobile-fallback switch).
admin_token_file = "$ADMIN_TOKEN"

[maintenance]
# Minutes every terminal of a site may be offline before mobile check-in opens there by itself.
fallback_after_min = 10
# Days after which the raw coordinates of location pings are blanked (UU 27/2022 minimisation;
# KUPANG-CONFIRM, docs/production.md "Retention").
ping_retention_days = 30

[templates]
# The central's template key (X25519, 0600): opens the fingerprint templates terminals upload.
# Create it once with 'hadir-central keys init'; back it up offline, apart from the database.
key_file = "/var/lib/hadir-central/template.key"
# Seconds before an unanswered template install or delete is sent again (doubling to 1 hour).
resend_after_s = 60

[log]
level = "INFO"
EOF
  put_file "$WORK/central.toml" "$CONFIG" 0640 root "$USER_NAME"
fi

# -- the broker on this host ---------------------------------------------------------------------

if ((WITH_BROKER)); then
  say "Broker: mosquitto on this host"
  if [[ -f $MOSQ/hadir.acl ]]; then
    note "$MOSQ/hadir.acl exists: kept (terminals are appended to it)"
    grep -qx "user $COLLECTOR" "$MOSQ/hadir.acl" ||
      warn "$MOSQ/hadir.acl has no 'user $COLLECTOR' block: copy it from deploy/mosquitto/hadir.acl.head"
    fix_perms "$MOSQ/hadir.acl" 0640 root mosquitto
  else
    run install -m 0640 -o root -g mosquitto "$SRC/deploy/mosquitto/hadir.acl.head" "$MOSQ/hadir.acl"
  fi
  if [[ -f $MOSQ/hadir.passwd ]]; then
    note "$MOSQ/hadir.passwd exists"
    fix_perms "$MOSQ/hadir.passwd" 0640 root mosquitto
  else
    run install -m 0640 -o root -g mosquitto /dev/null "$MOSQ/hadir.passwd"
  fi
  if ((DRY_RUN)); then
    note "would add a '$COLLECTOR:\$7\$...' line to $MOSQ/hadir.passwd unless one matches $MQTT_SECRET"
  elif collector_line_matches "$MOSQ/hadir.passwd"; then
    note "$MOSQ/hadir.passwd: the $COLLECTOR line matches $MQTT_SECRET"
  else
    if grep -q "^$COLLECTOR:" "$MOSQ/hadir.passwd"; then
      run sed -i "/^$COLLECTOR:/d" "$MOSQ/hadir.passwd" # its password was changed
    fi
    line=$(collector_passwd_line)
    printf '%s\n' "$line" >>"$MOSQ/hadir.passwd"
    note "+ $MOSQ/hadir.passwd: $COLLECTOR line written"
  fi
  ensure_dir "$MOSQ/certs" 0750 root mosquitto
  absent=()
  for f in ca.crt broker.crt broker.key; do [[ -f $MOSQ/certs/$f ]] || absent+=("$MOSQ/certs/$f"); done
  if ((${#absent[@]})); then
    warn "not enabling $MOSQ/conf.d/hadir.conf yet: missing ${absent[*]}." \
      "Make them as docs/production.md ('TLS certificates') says, then run this again."
  elif ! grep -Eq "^[[:space:]]*include_dir[[:space:]]+$MOSQ/conf.d/?[[:space:]]*$" "$MOSQ/mosquitto.conf" 2>/dev/null; then
    warn "$MOSQ/mosquitto.conf does not include $MOSQ/conf.d (Debian's does); add" \
      "'include_dir $MOSQ/conf.d' and remove any listener of its own, then run this again"
  else
    fix_perms "$MOSQ/certs/broker.key" 0640 root mosquitto
    conf_changed=0
    put_file "$SRC/deploy/mosquitto/hadir.conf" "$MOSQ/conf.d/hadir.conf" 0644 root root && conf_changed=1
    if systemd_running || ((DRY_RUN)); then
      if ((conf_changed)); then
        run systemctl restart mosquitto.service
      else
        run systemctl reload mosquitto.service # SIGHUP: passwd, ACL, certificate
      fi
      if ((!DRY_RUN)) && ! systemctl is-active --quiet mosquitto.service; then
        die "mosquitto is not running: see journalctl -u mosquitto and /var/log/mosquitto/mosquitto.log"
      fi
    else
      note "systemd is not running here: start mosquitto yourself (mosquitto -c $MOSQ/mosquitto.conf)"
    fi
  fi
elif ((!DRY_RUN)); then
  say "Broker (elsewhere)"
  note "On the broker host, replace any $COLLECTOR line in /etc/mosquitto/hadir.passwd with:"
  note "  $(collector_passwd_line)"
  note "keep the '$COLLECTOR' block of deploy/mosquitto/hadir.acl.head in its hadir.acl, then:"
  note "  systemctl reload mosquitto"
  note "Here, point [mqtt] of $CONFIG at it: host, port = 8883, tls = true, ca_file."
fi

# -- PostgreSQL ----------------------------------------------------------------------------------

if ((POSTGRES)); then
  say "PostgreSQL (nothing is changed by this script; run these yourself)"
  cat <<EOF
    On the database host (Debian 12: PostgreSQL 15), as root:
      apt-get install postgresql
      sudo -u postgres createuser --no-superuser --no-createdb --no-createrole $USER_NAME
      sudo -u postgres createdb --owner=$USER_NAME --encoding=UTF8 --locale=C.UTF-8 \\
          --template=template0 hadir

    Same host: peer authentication over the local socket (Debian's default "local all all
    peer" in pg_hba.conf), so no password exists anywhere. In $CONFIG:
      [database]
      url = "postgresql+psycopg://$USER_NAME@/hadir?host=/var/run/postgresql"

    Another host: a password and TLS instead:
      sudo -u postgres createuser --pwprompt --no-superuser --no-createdb --no-createrole hadir
      sudo -u postgres createdb --owner=hadir --encoding=UTF8 --locale=C.UTF-8 \\
          --template=template0 hadir
      pg_hba.conf:  hostssl  hadir  hadir  <central's address>/32  scram-sha-256
      url = "postgresql+psycopg://hadir:<password>@<db host>:5432/hadir?sslmode=verify-full&sslrootcert=$ETC/db-ca.crt"
    ($CONFIG is root:$USER_NAME 0640; or set HADIR_DATABASE_URL in a systemd drop-in instead.)

    Then run this script again: it upgrades the new database to the current schema. Sizing,
    backups and the restore drill: docs/production.md ("PostgreSQL").
EOF
fi

# -- systemd -------------------------------------------------------------------------------------

say "systemd unit $UNIT"
put_file "$SRC/systemd/hadir-central.service" "$UNIT" 0644 root root || true
if systemd_running || ((DRY_RUN)); then
  run systemctl daemon-reload
  run systemctl enable hadir-central.service
else
  note "systemd is not running here (an image build?): enabling for the next boot"
  run systemctl enable hadir-central.service
fi

# -- the database, last --------------------------------------------------------------------------

say "Database schema"
# umask 0027 as in the unit, so a new SQLite file is not world-readable.
(umask 0027 && run runuser -u "$USER_NAME" -- "$VENV/bin/hadir-central" --config "$CONFIG" db upgrade) ||
  die "db upgrade failed (above). Is [database].url in $CONFIG right and the database reachable?"
say "Template key"
# Idempotent: an existing key is kept. Its public half goes into every terminal's [sync].
(umask 0077 && run runuser -u "$USER_NAME" -- "$VENV/bin/hadir-central" --config "$CONFIG" keys init) ||
  die "keys init failed (above): is [templates].key_file in $CONFIG in a folder $USER_NAME may write?"
if systemd_running && systemctl is-active --quiet hadir-central.service; then
  run systemctl restart hadir-central.service # the new code
elif systemd_running || ((DRY_RUN)); then
  note "not started: systemctl start hadir-central (after the broker is set up)"
fi

say "Next"
note "Operator commands run as the service user, so SQLite files stay its own:"
note "  sudo -u $USER_NAME hadir-central --config $CONFIG device add <id> --site <site>"
note "  (it prints the terminal's [sync] central_key line; install-edge.sh --central-key takes it)"
note "Back up the template key offline, apart from the database: [templates].key_file"
note "Enrolling terminals, certificates, backups, retention, UU 27/2022: docs/production.md"
if ((DRY_RUN)); then echo; echo "$PROG: dry run finished; nothing was changed."; fi
