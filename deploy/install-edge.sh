#!/usr/bin/env bash
# Hadir: install or upgrade the edge daemon on a Raspberry Pi terminal (Raspberry Pi OS Bookworm).
#
# Run as root on the Pi, from a checkout of the Hadir repository:
#   sudo deploy/install-edge.sh [options]
#
# Safe to run again: every step checks first and only changes what differs; a re-run upgrades
# the code in the virtual environment and restarts a running daemon. What it does:
#   * apt packages: python3, python3-venv, ca-certificates;
#   * groups hadir-admin (technicians: may use the daemon's control socket) and gpio, and the
#     system user hadir in dialout and gpio;
#   * /opt/hadir/venv with "pip install <checkout>[edge]" (plus lgpio on ARM);
#   * /etc/hadir/edge.toml from config.example.toml when absent (root:hadir 0640), never
#     overwritten; /var/lib/hadir (hadir:hadir 0750);
#   * the udev rule (/dev/r307) and hadir-edge.service, installed, reloaded and enabled;
#   * the UART: only reports what is missing, unless --enable-uart is given.
#
# Options:
#   --dry-run               print what would be done; change nothing (no root needed)
#   --enable-uart           edit the boot configuration for the R307 on GPIO14/15: enable_uart=1
#                           and dtoverlay=disable-bt (Pi 5: dtparam=uart0=on) in config.txt, the
#                           serial console out of cmdline.txt; backups are kept; reboot after
#   --device-id ID          [device].id for a new edge.toml (a-z, 0-9, "-"; 1-63 characters)
#   --broker HOST           [mqtt].host for a new edge.toml
#   --ca-file FILE          install FILE as /etc/hadir/ca.crt (the CA the broker's certificate
#                           is signed with); a new edge.toml points [mqtt].ca_file at it
#   --mqtt-password-file FILE
#                           install FILE (the password `hadir-central device add` printed, on one
#                           line) as /etc/hadir/mqtt-password, hadir:hadir 0600; a new edge.toml
#                           points [mqtt].password_file at it
#   --central-key KEY       [sync].central_key for a new edge.toml (the 44-character line that
#                           `hadir-central keys show` or `device add` printed)
#   --technician USER       add USER to hadir-admin (repeatable; never add them to hadir)
#   -h, --help              this text
#
# --device-id, --broker, --ca-file, --mqtt-password-file and --central-key change only a *new*
# edge.toml (which also gives the admin socket to group hadir-admin); an
# existing one is left alone (edit it by hand, then: hadir-edge check-config --config ...).
set -euo pipefail

PROG=install-edge.sh
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=/opt/hadir/venv
ETC=/etc/hadir
CONFIG=$ETC/edge.toml
STATE=/var/lib/hadir
UNIT=/etc/systemd/system/hadir-edge.service
RULE=/etc/udev/rules.d/99-hadir-r307.rules
APT_PACKAGES=(python3 python3-venv ca-certificates)

DRY_RUN=0
ENABLE_UART=0
DEVICE_ID=""
BROKER=""
CA_FILE=""
PASSWORD_FILE=""
CENTRAL_KEY=""
TECHNICIANS=()
REBOOT_NEEDED=0
WORK=""

# -- output and actions --------------------------------------------------------------------------

# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Append lines to a file (after a backup of it), or say so under --dry-run.
append_lines() {
  local file=$1
  shift
  if ((DRY_RUN)); then
    note "would append to $file:"
    printf '        %s\n' "$@"
    return
  fi
  printf '    + append to %s:\n' "$file"
  printf '        %s\n' "$@"
  printf '%s\n' "$@" >>"$file"
}

backup() {
  local file=$1 copy
  copy="$file.hadir-$(date +%Y%m%d-%H%M%S)"
  run cp -p "$file" "$copy"
}

# Whether FILE has LINE as a setting of its own (not commented out).
has_line() { grep -Eq "^[[:space:]]*$2[[:space:]]*$" "$1"; }

systemd_running() { [[ -d /run/systemd/system ]]; }
udev_running() { [[ -S /run/udev/control ]]; }

cleanup() { [[ -z $WORK ]] || rm -rf "$WORK"; }
trap cleanup EXIT

# -- arguments -----------------------------------------------------------------------------------

need_value() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value (see --help)"; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --dry-run) DRY_RUN=1 ;;
    --enable-uart) ENABLE_UART=1 ;;
    --device-id) need_value "$@"; DEVICE_ID=$2; shift ;;
    --broker) need_value "$@"; BROKER=$2; shift ;;
    --ca-file) need_value "$@"; CA_FILE=$2; shift ;;
    --mqtt-password-file) need_value "$@"; PASSWORD_FILE=$2; shift ;;
    --central-key) need_value "$@"; CENTRAL_KEY=$2; shift ;;
    --technician) need_value "$@"; TECHNICIANS+=("$2"); shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
  shift
done

if [[ -n $DEVICE_ID && ! $DEVICE_ID =~ ^[a-z0-9][a-z0-9-]{0,62}$ ]]; then
  die "--device-id $DEVICE_ID: 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit"
fi
if [[ -n $CENTRAL_KEY && ! $CENTRAL_KEY =~ ^[A-Za-z0-9+/]{43}=$ ]]; then
  die "--central-key: the 44 characters of base64 that 'hadir-central keys show' prints"
fi
if [[ -n $BROKER && ! $BROKER =~ ^[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?$ ]]; then
  die "--broker $BROKER: a host name or an address"
fi
if [[ -n $CA_FILE ]]; then
  [[ -r $CA_FILE ]] || die "--ca-file $CA_FILE: cannot read it"
  grep -q -- '-----BEGIN CERTIFICATE-----' "$CA_FILE" || die "--ca-file $CA_FILE: not a PEM certificate"
fi
if [[ -n $PASSWORD_FILE ]]; then
  [[ -r $PASSWORD_FILE ]] || die "--mqtt-password-file $PASSWORD_FILE: cannot read it"
  [[ $(grep -c '' "$PASSWORD_FILE") -eq 1 && -n $(head -n 1 "$PASSWORD_FILE") ]] ||
    die "--mqtt-password-file $PASSWORD_FILE: must hold the password on one line"
fi
for user in "${TECHNICIANS[@]}"; do
  getent passwd "$user" >/dev/null || die "--technician $user: no such user"
done

# -- checks --------------------------------------------------------------------------------------

if ((DRY_RUN)); then
  echo "$PROG: dry run: nothing is changed; 'would run' lines are what a real run does."
elif [[ $EUID -ne 0 ]]; then
  die "run as root (sudo $0 ...), or with --dry-run"
fi
[[ -f $SRC/pyproject.toml && -f $SRC/config.example.toml && -d $SRC/systemd ]] ||
  die "$SRC is not a Hadir checkout (pyproject.toml, config.example.toml, systemd/)"

say "System"
codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null || true)
codename=${codename:-unknown}
model=""
[[ ! -r /proc/device-tree/model ]] || model=$(tr -d '\0' </proc/device-tree/model)
note "source: $SRC"
note "os: $codename; board: ${model:-not a Raspberry Pi}; $(uname -m)"
[[ $codename == bookworm ]] || warn "written for Raspberry Pi OS Bookworm; this is '$codename'"
[[ -n $model ]] || warn "no Raspberry Pi detected: GPIO and the UART will not work here"

# -- packages ------------------------------------------------------------------------------------

say "Debian packages"
install_packages "${APT_PACKAGES[@]}"
check_python

# -- users and groups ----------------------------------------------------------------------------

say "Users and groups"
ensure_group hadir-admin
if ! getent group gpio >/dev/null; then
  warn "no gpio group: not Raspberry Pi OS? It is created, but /dev/gpiochip* must also be given" \
    "to it by a udev rule (SUBSYSTEM==\"gpio\", KERNEL==\"gpiochip*\", GROUP=\"gpio\", MODE=\"0660\")"
fi
ensure_group gpio
if getent passwd hadir >/dev/null; then
  note "user hadir exists"
else
  if getent group hadir >/dev/null; then group_opt=(--gid hadir); else group_opt=(--user-group); fi
  run useradd --system "${group_opt[@]}" --home-dir "$STATE" --no-create-home \
    --shell /usr/sbin/nologin --comment "Hadir edge daemon" hadir
fi
for group in dialout gpio; do
  if in_group hadir "$group"; then note "hadir is in $group"; else run usermod -a -G "$group" hadir; fi
done
for user in "${TECHNICIANS[@]}"; do
  if in_group "$user" hadir-admin; then
    note "$user is in hadir-admin"
  else
    run usermod -a -G hadir-admin "$user"
    note "$user gets the group at the next login"
  fi
  if in_group "$user" hadir; then
    warn "$user is in group hadir: that group can read the store in $STATE; remove with: gpasswd -d $user hadir"
  fi
done

say "Directories"
ensure_dir /opt/hadir 0755 root root
ensure_dir "$ETC" 0755 root root
ensure_dir "$STATE" 0750 hadir hadir

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
run "$VENV/bin/pip" install --disable-pip-version-check --quiet "${WORK}[edge]"
# gpiozero's default pin factory is lgpio; its PyPI wheels (aarch64, armv7l) carry the C library.
# On Raspberry Pi OS, /etc/pip.conf also points pip at piwheels for 32-bit builds.
case $(uname -m) in
  aarch64 | armv7l) run "$VENV/bin/pip" install --disable-pip-version-check --quiet 'lgpio>=0.2.2,<0.3' ;;
  *) note "not an ARM board: lgpio skipped (use [feedback] pin_factory = \"mock\" for a demo)" ;;
esac
if ((!DRY_RUN)); then
  revision=$(git -c safe.directory="$SRC" -C "$SRC" describe --always --dirty 2>/dev/null ||
    echo "not a git checkout")
  version=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("hadir"))')
  printf 'hadir %s from %s (%s) installed %s\n' "$version" "$SRC" "$revision" "$(date -Is)" \
    >/opt/hadir/installed-edge
  note "hadir $version ($revision)"
fi
ensure_symlink "$VENV/bin/hadir-edge" /usr/local/bin/hadir-edge
ensure_symlink "$VENV/bin/hadir-sensor" /usr/local/bin/hadir-sensor

# -- configuration -------------------------------------------------------------------------------

say "Configuration $CONFIG"
if [[ -n $CA_FILE ]]; then
  put_file "$CA_FILE" "$ETC/ca.crt" 0644 root root || true
fi
if [[ -n $PASSWORD_FILE ]]; then
  put_file "$PASSWORD_FILE" "$ETC/mqtt-password" 0600 hadir hadir || true
fi
if [[ -e $CONFIG ]]; then
  note "$CONFIG exists: left as it is"
  fix_perms "$CONFIG" 0640 root hadir
  [[ -z $DEVICE_ID ]] || warn "--device-id not applied: $CONFIG exists; edit [device].id by hand"
  [[ -z $BROKER ]] || warn "--broker not applied: $CONFIG exists; edit [mqtt].host by hand"
  [[ -z $CA_FILE ]] || note "check that [mqtt].ca_file in $CONFIG is $ETC/ca.crt"
  [[ -z $PASSWORD_FILE ]] || note "check that [mqtt].password_file in $CONFIG is $ETC/mqtt-password"
else
  new="$WORK/edge.toml"
  cp "$SRC/config.example.toml" "$new"
  [[ -z $DEVICE_ID ]] || sed -i "s|^id = \".*\"$|id = \"$DEVICE_ID\"|" "$new"
  [[ -z $BROKER ]] || sed -i "s|^host = \".*\"$|host = \"$BROKER\"|" "$new"
  [[ -z $CA_FILE ]] || sed -i "s|^# ca_file = \"$ETC/ca.crt\"$|ca_file = \"$ETC/ca.crt\"|" "$new"
  [[ -z $PASSWORD_FILE ]] ||
    sed -i "s|^# password_file = \"$ETC/mqtt-password\"$|password_file = \"$ETC/mqtt-password\"|" "$new"
  [[ -z $CENTRAL_KEY ]] ||
    sed -i "s|^# central_key = \".*\"$|central_key = \"$CENTRAL_KEY\"|" "$new"
  # Technicians enroll through the daemon's socket: give it to their group.
  sed -i 's|^# group = "hadir-admin"$|group = "hadir-admin"|' "$new"
  put_file "$new" "$CONFIG" 0640 root hadir
  diff -u "$SRC/config.example.toml" "$new" | sed -n 's/^\([-+][^-+].*\)/    \1/p' || true
  [[ -n $DEVICE_ID ]] || warn "[device].id is still the example's; set it in $CONFIG"
  [[ -n $BROKER ]] || warn "[mqtt].host is still 'localhost'; set the broker's name in $CONFIG"
  [[ -n $CENTRAL_KEY ]] ||
    warn "[sync].central_key is not set: enrollment stays off until it is ('hadir-central keys show')"
fi
if ((!DRY_RUN)); then
  if runuser -u hadir -- "$VENV/bin/hadir-edge" check-config --config "$CONFIG"; then
    note "check-config: OK"
  else
    warn "check-config found problems in $CONFIG (above); the daemon will not start until fixed"
  fi
fi

# -- udev and systemd ----------------------------------------------------------------------------

say "udev rule $RULE"
put_file "$SRC/systemd/99-hadir-r307.rules" "$RULE" 0644 root root || true
if udev_running || ((DRY_RUN)); then
  run udevadm control --reload
  run udevadm trigger --subsystem-match=tty --action=change
else
  note "udev is not running here: the rule applies from the next boot"
fi

say "systemd unit $UNIT"
put_file "$SRC/systemd/hadir-edge.service" "$UNIT" 0644 root root || true
if systemd_running || ((DRY_RUN)); then
  run systemctl daemon-reload
  run systemctl enable hadir-edge.service
  if systemctl is-active --quiet hadir-edge.service 2>/dev/null; then
    run systemctl restart hadir-edge.service # new code or unit
  else
    note "not started: start it once edge.toml is right: systemctl start hadir-edge"
  fi
else
  note "systemd is not running here (an image build?): enabling for the next boot"
  run systemctl enable hadir-edge.service
fi

# -- the UART ------------------------------------------------------------------------------------

say "UART for the R307 (hardware.md, 'Enabling the UART')"
boot_cfg=""
for f in /boot/firmware/config.txt /boot/config.txt; do
  if [[ -f $f ]] && ! grep -q 'DO NOT EDIT THIS FILE' "$f"; then boot_cfg=$f && break; fi
done
if [[ -z $boot_cfg ]]; then
  note "no /boot/firmware/config.txt: not Raspberry Pi OS; nothing to check"
  ((ENABLE_UART == 0)) || warn "--enable-uart ignored: no boot configuration found"
else
  cmdline="$(dirname "$boot_cfg")/cmdline.txt"
  wanted=(enable_uart=1 dtoverlay=disable-bt)
  [[ $model != *"Raspberry Pi 5"* ]] || wanted=(enable_uart=1 dtparam=uart0=on)
  absent=()
  for line in "${wanted[@]}"; do has_line "$boot_cfg" "$line" || absent+=("$line"); done
  console=0
  if [[ -f $cmdline ]] && grep -Eq '(^| )console=(serial0|ttyAMA0|ttyS0),[0-9]+' "$cmdline"; then
    console=1
  fi
  if ((ENABLE_UART)); then
    if ((${#absent[@]})); then
      backup "$boot_cfg"
      append_lines "$boot_cfg" "" "[all]" \
        "# Hadir (deploy/install-edge.sh --enable-uart): the PL011 UART on GPIO14/15 for the R307" \
        "${absent[@]}"
      REBOOT_NEEDED=1
    else
      note "$boot_cfg has ${wanted[*]}"
    fi
    if ((console)); then
      backup "$cmdline"
      run sed -i -E 's/(^| )console=(serial0|ttyAMA0|ttyS0),[0-9]+//g' "$cmdline"
      REBOOT_NEEDED=1
    else
      note "no serial console in $cmdline"
    fi
    if [[ $model != *"Raspberry Pi 5"* ]] && systemctl is-enabled --quiet hciuart.service 2>/dev/null; then
      run systemctl disable hciuart.service # Bluetooth no longer has the PL011
    fi
    [[ $model != *"Raspberry Pi 5"* ]] ||
      warn "Pi 5 (unverified with Hadir): point [sensor] port at /dev/ttyAMA0 or /dev/r307, not /dev/serial0"
  else
    if ((${#absent[@]})); then
      note "$boot_cfg lacks: ${absent[*]}"
    else
      note "$boot_cfg has ${wanted[*]}"
    fi
    if ((console)); then note "$cmdline still has a serial console (the module would get a login prompt)"; fi
    if ((${#absent[@]} || console)); then
      note "fix: run again with --enable-uart, or raspi-config as hardware.md says; then reboot"
    fi
    serial0=$(readlink -e /dev/serial0 2>/dev/null || true)
    note "/dev/serial0 -> ${serial0:-absent} (want /dev/ttyAMA0); /dev/r307 -> $(readlink -e /dev/r307 2>/dev/null || echo absent)"
  fi
fi

# -- what is left to do --------------------------------------------------------------------------

say "Next"
note "1. On the central: hadir-central --config /etc/hadir/central.toml device add <id> --site <site>;"
note "   put its passwd and ACL lines on the broker (docs/production.md, 'Enrolling a terminal')."
note "2. Here: [device].id, [mqtt].host, ca_file and password_file in $CONFIG;"
note "   check with: sudo -u hadir hadir-edge check-config --config $CONFIG"
note "3. Bench check with the daemon stopped: hadir-sensor info /dev/r307"
note "4. systemctl start hadir-edge; journalctl -u hadir-edge -f"
note "5. NTP: timedatectl show -p NTPSynchronized (punches taken before sync are flagged)"
if ((REBOOT_NEEDED)); then
  say "Reboot needed: the UART settings take effect at the next boot (sudo reboot)"
fi
if ((DRY_RUN)); then echo; echo "$PROG: dry run finished; nothing was changed."; fi
