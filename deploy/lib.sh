#!/usr/bin/env bash
# Shared by install-edge.sh and install-central.sh: output, dry-run-aware actions and idempotent
# file, directory and group helpers. Sourced, not run; the caller sets PROG and DRY_RUN.
# shellcheck disable=SC2034

say() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 1
}
usage() { sed -n '2,/^set -euo pipefail$/{/^set -euo/d;s/^# \{0,1\}//;p;}' "${BASH_SOURCE[-1]}"; }

quoted() {
  local out=() arg
  for arg in "$@"; do
    if [[ $arg =~ ^[][A-Za-z0-9_./:=@%+,-]+$ ]]; then out+=("$arg"); else out+=("$(printf '%q' "$arg")"); fi
  done
  printf '%s' "${out[*]}"
}

# Print a command; run it unless --dry-run.
run() {
  if ((DRY_RUN)); then
    printf '    would run: %s\n' "$(quoted "$@")"
  else
    printf '    + %s\n' "$(quoted "$@")"
    "$@"
  fi
}

# Set owner, group and mode of an existing path when they differ.
fix_perms() {
  local path=$1 mode=$2 owner=$3 group=$4 now
  now=$(stat -c '%a %U %G' "$path")
  if [[ $now != "${mode#0} $owner $group" ]]; then
    run chown "$owner:$group" "$path"
    run chmod "$mode" "$path"
  fi
}

# Install a file when it is missing or differs (status 0); otherwise fix owner and mode (status 1).
put_file() {
  local src=$1 dest=$2 mode=$3 owner=$4 group=$5
  if [[ -f $dest ]] && cmp -s "$src" "$dest"; then
    note "$dest: unchanged"
    fix_perms "$dest" "$mode" "$owner" "$group"
    return 1
  fi
  run install -D -m "$mode" -o "$owner" -g "$group" "$src" "$dest"
}

ensure_dir() {
  local path=$1 mode=$2 owner=$3 group=$4
  if [[ -d $path ]]; then
    note "$path: exists"
    fix_perms "$path" "$mode" "$owner" "$group"
  else
    run install -d -m "$mode" -o "$owner" -g "$group" "$path"
  fi
}

ensure_group() {
  if getent group "$1" >/dev/null; then
    note "group $1 exists"
  else
    run groupadd --system "$1"
  fi
}

in_group() { id -nG "$1" 2>/dev/null | tr ' ' '\n' | grep -qx "$2"; }

ensure_symlink() {
  local target=$1 link=$2
  if [[ $(readlink "$link" 2>/dev/null) == "$target" ]]; then
    note "$link -> $target"
  else
    run ln -sfn "$target" "$link"
  fi
}

# Install the Debian packages named as arguments that are missing (apt-get update only then).
install_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  else
    note "installed: $*"
  fi
}

# Hadir runs on Python 3.11 or newer.
check_python() {
  if command -v python3 >/dev/null; then
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
      die "Hadir needs Python 3.11 or newer; python3 is $(python3 -V 2>&1)"
  fi
}
