#!/usr/bin/env bash
# tests/nspawn/rootfs.sh: the cached Debian rootfs (bookworm, booting systemd)
# that the nspawn integration tests start containers from.
#
# Usage: rootfs.sh [CACHE_DIR [BINARY...]]
#   CACHE_DIR  the rootfs directory; "" or absent: /var/cache/vigil-tests/bookworm-systemd
#   BINARY     host executables that will run inside the container: the Debian
#              packages that own their shared libraries (ldd, then dpkg -S) are
#              installed into the rootfs when missing, so a build that links a
#              new library does not need a rebuild of the cache.
#
# On success prints the rootfs path on stdout and exits 0. Progress goes to
# stderr, and so does the reason of a failure:
#   1  the build or the package installation failed (debootstrap's or apt's log tail follows)
#   2  usage
#   3  this host cannot do it: not root, debootstrap or systemd-nspawn missing and not installable
#   4  the Debian mirror is unreachable
#
# The first build takes about 2 minutes and 250 MB. It is made in a sibling
# temporary directory and renamed into place at the end, so an interrupted
# build never leaves a half rootfs that counts as cached; the stamp file inside
# the rootfs records the recipe it was built with, and a different recipe
# (RECIPE below) rebuilds it. A lock (flock on CACHE_DIR.lock) keeps two runs
# from building or installing at the same time.
#
# Host packages it needs (installed here when missing): debootstrap, systemd-container.
set -euo pipefail
# A failure inside $(...) must stop the script too (die in a helper).
shopt -s inherit_errexit

SUITE=bookworm
INCLUDE=systemd,systemd-sysv,dbus
# Always present, whatever the binaries link: the C++ runtime, and curl for
# checks run inside the container.
EXTRA_PACKAGES=(libstdc++6 curl)
# Change when the way the rootfs is made changes: cached rootfs with another
# recipe are rebuilt.
RECIPE="1 suite=$SUITE variant=minbase include=$INCLUDE extra=${EXTRA_PACKAGES[*]}"
STAMP_NAME=.vigil-rootfs-stamp
LOCK_WAIT_SECONDS=900

say() { echo "rootfs.sh: $*" >&2; }
die() {
  local code=$1
  shift
  say "$*"
  exit "$code"
}

if [ $# -ge 1 ] && { [ "$1" = "-h" ] || [ "$1" = "--help" ]; }; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 0
fi

CACHE_DIR=${1:-/var/cache/vigil-tests/bookworm-systemd}
[ $# -ge 1 ] && shift
BINARIES=("$@")
case "$CACHE_DIR" in
  /*) ;;
  *) die 2 "CACHE_DIR must be an absolute path, got '$CACHE_DIR'" ;;
esac
CACHE_DIR=${CACHE_DIR%/}

[ "$(id -u)" -eq 0 ] || die 3 "must run as root (debootstrap, chroot and systemd-nspawn need it); running as uid $(id -u)"

# --- host tools ------------------------------------------------------------

ensure_host_tools() {
  local missing=()
  command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
  command -v systemd-nspawn >/dev/null 2>&1 || missing+=(systemd-container)
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || die 3 "missing ${missing[*]} and no apt-get to install them"
  say "installing host packages: ${missing[*]}"
  local log
  log=$(mktemp)
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
    tail -n 15 "$log" >&2
    rm -f "$log"
    die 3 "cannot install ${missing[*]} with apt-get (see above)"
  fi
  rm -f "$log"
}
ensure_host_tools
export PATH="$PATH:/usr/sbin:/sbin"

# --- the mirror this machine's apt uses ---------------------------------------

# Prints "URI FILE" for the first enabled deb source of $SUITE itself (not
# -updates or -security): deb822 *.sources first, then one-line *.list files.
find_mirror() {
  local f line
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    line=$(awk -v suite="$SUITE" '
      function field(text) { sub(/^[^:]*:[ \t]*/, "", text); return text }
      function flush() {
        if (!found && enabled != "no" && (" " types " ") ~ / deb / && (" " suites " ") ~ (" " suite " ") && uris != "") {
          split(uris, u, /[ \t]+/)
          print u[1]
          found = 1
        }
        types = suites = uris = enabled = ""
      }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]*#/ { next }
      tolower($1) == "types:" { types = field($0) }
      tolower($1) == "suites:" { suites = field($0) }
      tolower($1) == "uris:" { uris = field($0) }
      tolower($1) == "enabled:" { enabled = tolower(field($0)) }
      END { flush() }' "$f")
    if [ -n "$line" ]; then
      echo "$line $f"
      return 0
    fi
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] URI SUITE COMPONENT...
    line=$(sed -e 's/\[[^]]*\]//' "$f" | awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2; exit }')
    if [ -n "$line" ]; then
      echo "$line $f"
      return 0
    fi
  done
  return 1
}

MIRROR=${VIGIL_ROOTFS_MIRROR:-}
MIRROR_FILE=""
if [ -z "$MIRROR" ]; then
  if found=$(find_mirror); then
    MIRROR=${found%% *}
    MIRROR_FILE=${found#* }
  else
    die 3 "no enabled apt source for '$SUITE' in /etc/apt/sources.list or /etc/apt/sources.list.d (set VIGIL_ROOTFS_MIRROR=URL)"
  fi
fi
MIRROR=${MIRROR%/}

mirror_reachable() {
  local url="$MIRROR/dists/$SUITE/Release"
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -m 15 -o /dev/null "$url" 2>&1
  else
    wget -q -T 15 -t 1 -O /dev/null "$url" 2>&1
  fi
}

# --- packages holding the binaries' libraries -------------------------------

# The shared libraries (absolute paths, one a line) that the BINARIES load.
binary_libraries() {
  local bin out
  for bin in "${BINARIES[@]}"; do
    [ -n "$bin" ] || continue
    [ -f "$bin" ] || die 1 "binary '$bin' does not exist"
    if ! out=$(ldd "$bin" 2>&1); then
      # Static executables and scripts have no libraries to provide.
      say "note: $bin has no dynamic libraries ($out)"
      continue
    fi
    if grep -q '=> not found' <<<"$out"; then
      die 1 "$bin links libraries missing on this host too: $(grep '=> not found' <<<"$out" | awk '{print $1}' | tr '\n' ' ')"
    fi
    # "\tlibfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)" and
    # "\t/lib64/ld-linux-x86-64.so.2 (0x...)"; linux-vdso has no file.
    awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out"
  done | sort -u
}

# Prints the packages (one a line, sorted, unique) that must be installed for
# the BINARIES to run; fails naming a library that no package owns. With
# merged /usr a library seen at /lib/... may be registered as /usr/lib/... or
# the other way round, so each library is looked up under every spelling, in
# one dpkg -S call (each call reads the whole file database: 0.2 s).
required_packages() {
  local libs=() lib real candidates=() owners listed
  listed=$(binary_libraries)
  [ -n "$listed" ] && mapfile -t libs <<<"$listed"
  for lib in "${libs[@]}"; do
    real=$(readlink -f "$lib")
    candidates+=("$lib" "$real" "${lib#/usr}" "/usr$lib" "${real#/usr}" "/usr$real")
  done
  # "libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6", "pkg-a, pkg-b: /path": PATH<TAB>first package without arch.
  owners=""
  if [ ${#candidates[@]} -gt 0 ]; then
    owners=$(dpkg -S "${candidates[@]}" 2>/dev/null | awk '
      /^diversion / { next }
      { i = index($0, ": /"); if (i == 0) next
        pkg = substr($0, 1, i - 1); sub(/,.*/, "", pkg); sub(/:.*/, "", pkg)
        print substr($0, i + 2) "\t" pkg }') || true
  fi
  {
    printf '%s\n' "${EXTRA_PACKAGES[@]}"
    for lib in "${libs[@]}"; do
      real=$(readlink -f "$lib")
      local c pkg=""
      for c in "$lib" "$real" "${lib#/usr}" "/usr$lib" "${real#/usr}" "/usr$real"; do
        pkg=$(awk -F '\t' -v p="$c" '$1 == p { print $2; exit }' <<<"$owners")
        [ -n "$pkg" ] && break
      done
      [ -n "$pkg" ] || die 1 "no Debian package owns $lib (needed by ${BINARIES[*]}): it cannot be installed into the rootfs"
      echo "$pkg"
    done
  } | sort -u
}

# The required packages that the rootfs at $1 does not have installed.
missing_in_rootfs() {
  local root=$1 pkgs
  mapfile -t pkgs <<<"$REQUIRED"
  local installed pkg
  # Packages it does not know at all are absent from the output.
  installed=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Package} ${db:Status-Abbrev}\n' "${pkgs[@]}" 2>/dev/null |
    awk '$2 == "ii" { print $1 }') || true
  for pkg in "${pkgs[@]}"; do
    [ -n "$pkg" ] || continue
    grep -qxF "$pkg" <<<"$installed" || echo "$pkg"
  done
}

# apt-get inside the rootfs (a chroot is enough: no service is started, since
# systemd is not running there).
apt_in() {
  local root=$1
  shift
  chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get -q -o Dpkg::Use-Pty=0 "$@"
}

# Installs the missing packages into the rootfs at $1. Uses the package lists
# already there, and refreshes them once if that fails (stale lists of an old cache).
install_missing() {
  local root=$1 log=$2
  local missing
  missing=$(missing_in_rootfs "$root" | tr '\n' ' ')
  missing=${missing% }
  [ -n "$missing" ] || return 0
  say "installing into $root: $missing"
  # shellcheck disable=SC2086  # a list of package names
  if ! { compgen -G "$root/var/lib/apt/lists/*_Packages" >/dev/null &&
    apt_in "$root" install -y --no-install-recommends $missing >>"$log" 2>&1; }; then
    # shellcheck disable=SC2086
    if ! apt_in "$root" update >>"$log" 2>&1 ||
      ! apt_in "$root" install -y --no-install-recommends $missing >>"$log" 2>&1; then
      tail -n 20 "$log" >&2
      die 1 "apt-get install of '$missing' inside $root failed (log above)"
    fi
  fi
  apt_in "$root" clean >>"$log" 2>&1 || true
  echo "added: $missing ($(date -u +%FT%TZ))" >>"$root/$STAMP_NAME"
}

REQUIRED=$(required_packages)

# --- lock, then build once ----------------------------------------------------

mkdir -p "$(dirname "$CACHE_DIR")"
exec 9>"$CACHE_DIR.lock"
if ! flock -n 9; then
  say "waiting for another run that holds $CACHE_DIR.lock"
  flock -w "$LOCK_WAIT_SECONDS" 9 || die 1 "$CACHE_DIR.lock still held after $LOCK_WAIT_SECONDS s"
fi

cached_ok() {
  [ -f "$CACHE_DIR/$STAMP_NAME" ] && [ "$(head -n 1 "$CACHE_DIR/$STAMP_NAME")" = "recipe: $RECIPE" ]
}

# Removes a tree that debootstrap may have left /proc or /sys mounted in (an
# interrupted run): unmount those first, so rm never descends into them.
remove_tree() {
  local tree=$1 m
  awk -v w="$tree" 'index($2, w "/") == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system "$tree"
}

WORK=""
LOG=""
cleanup() {
  local rc=$?
  [ -n "$WORK" ] && [ -d "$WORK" ] && remove_tree "$WORK"
  [ -n "$LOG" ] && rm -f "$LOG"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

LOG=$(mktemp -t vigil-rootfs-log.XXXXXX)

if ! cached_ok; then
  if [ -e "$CACHE_DIR" ]; then
    say "$CACHE_DIR was built with another recipe (or not finished): rebuilding"
  fi
  say "checking the mirror $MIRROR${MIRROR_FILE:+ (from $MIRROR_FILE)}"
  if ! why=$(mirror_reachable); then
    die 4 "cannot reach the Debian mirror $MIRROR/dists/$SUITE/Release: ${why:-no answer}"
  fi
  # Leftovers of runs that were killed (no trap runs on SIGKILL); whoever
  # made them no longer holds the lock.
  for stale in "${CACHE_DIR}".tmp.* "${CACHE_DIR}".old.*; do
    [ -d "$stale" ] || continue
    say "removing $stale, left by an interrupted run"
    remove_tree "$stale"
  done
  WORK=$(mktemp -d "${CACHE_DIR}.tmp.XXXXXX")
  chmod 755 "$WORK"
  started=$(date +%s)
  say "debootstrap $SUITE from $MIRROR into $WORK (about 70 s)"
  if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$WORK" "$MIRROR" >>"$LOG" 2>&1; then
    tail -n 20 "$LOG" >&2
    [ -f "$WORK/debootstrap/debootstrap.log" ] && tail -n 20 "$WORK/debootstrap/debootstrap.log" >&2
    die 1 "debootstrap failed (log above)"
  fi
  say "debootstrap done in $(($(date +%s) - started)) s"

  # The container gets the same apt sources as the host (the suite, its
  # updates and security), so the libraries installed inside are the versions
  # the binaries were linked against on the host.
  if [ -n "$MIRROR_FILE" ] && [ "${MIRROR_FILE##*.}" = "sources" ]; then
    cp "$MIRROR_FILE" "$WORK/etc/apt/sources.list.d/"
    : >"$WORK/etc/apt/sources.list"
  elif [ -n "$MIRROR_FILE" ]; then
    grep -E "^deb[[:space:]].*[[:space:]]$SUITE(-updates|-security|/updates)?[[:space:]]" "$MIRROR_FILE" \
      >"$WORK/etc/apt/sources.list" || true
  fi
  say "apt-get update inside"
  if ! apt_in "$WORK" update >>"$LOG" 2>&1; then
    tail -n 20 "$LOG" >&2
    die 1 "apt-get update inside the new rootfs failed (log above)"
  fi
  printf 'recipe: %s\nmirror: %s\ndebootstrap: %s\nbuilt: %s\n' "$RECIPE" "$MIRROR" \
    "$(dpkg-query -W -f='${Version}' debootstrap 2>/dev/null || echo unknown)" "$(date -u +%FT%TZ)" \
    >"$WORK/$STAMP_NAME"
  install_missing "$WORK" "$LOG"

  # Swap in: the old tree (another recipe) goes aside first, so the cache path
  # is at every moment either absent, the old complete tree, or the new one.
  if [ -e "$CACHE_DIR" ]; then
    old=$(mktemp -d "${CACHE_DIR}.old.XXXXXX")
    mv "$CACHE_DIR" "$old/"
    mv "$WORK" "$CACHE_DIR"
    WORK=""
    remove_tree "$old"
  else
    mv "$WORK" "$CACHE_DIR"
    WORK=""
  fi
  say "built $CACHE_DIR in $(($(date +%s) - started)) s ($(du -sh "$CACHE_DIR" 2>/dev/null | cut -f1))"
else
  install_missing "$CACHE_DIR" "$LOG"
fi

echo "$CACHE_DIR"
