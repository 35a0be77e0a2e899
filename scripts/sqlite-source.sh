#!/usr/bin/env bash
# Makes the SQLite amalgamation Dormouse compiles in: Debian 12's own sqlite3
# source package (the same release as libsqlite3-dev, with Debian's security
# patches), fetched from Debian's mirror and amalgamated into
#   .deps/sqlite/sqlite3.c and sqlite3.h
# Why not the system library: Debian builds it without
# SQLITE_ENABLE_STMT_SCANSTATUS, and metering counts rows read from it.
# Does nothing when the amalgamation is already there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.deps/sqlite"
[[ -s "$dest/sqlite3.c" && -s "$dest/sqlite3.h" ]] && exit 0

work=$(mktemp -d /tmp/dm-sqlite-src.XXXXXX)
trap 'rm -rf "$work"' EXIT
# deb-src lines of our own, in a private apt state: the machine's apt
# configuration is left as it is.
cat > "$work/sources.list" <<'LIST'
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
LIST
mkdir -p "$work/lists/partial"
apt_opts=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o Dir::State::Lists="$work/lists" -o APT::Sandbox::User=root -qq)
echo "deps: fetching Debian's sqlite3 source package" >&2
apt-get "${apt_opts[@]}" update >/dev/null
(cd "$work" && apt-get "${apt_opts[@]}" source --download-only sqlite3 >/dev/null)
# apt checked the files against the signed Sources index; dpkg-source applies
# Debian's patches.
(cd "$work" && dpkg-source --no-check -x sqlite3_*.dsc src >/dev/null)
mkdir -p "$work/src/bld"
(cd "$work/src/bld" && ../configure --quiet >/dev/null && make -s sqlite3.c >/dev/null 2>&1)
mkdir -p "$dest"
cp "$work/src/bld/sqlite3.c" "$work/src/bld/sqlite3.h" "$dest/"
(cd "$work" && ls sqlite3_*.dsc) > "$dest/SOURCE"
echo "deps: SQLite amalgamation in .deps/sqlite ($(cat "$dest/SOURCE"))" >&2
