#!/usr/bin/env bash
# Installs what evald needs to build and test on Debian 12 (or newer), as root.
# Idempotent: installs only missing packages; fetches Boost >= 1.83 headers from
# Debian 13 into .deps/ only when the system's Boost is older (Debian 12 ships 1.81,
# whose io_uring backend crashes on cancel/close).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

packages=(cmake g++ ninja-build make curl ca-certificates pkg-config liburing-dev nlohmann-json3-dev
  libspdlog-dev libfmt-dev libgtest-dev coreutils procps clang-format git file dpkg-dev ccache
  liblua5.4-dev patch libhiredis-dev libssl-dev)
packages+=("$@")  # callers may ask for extra tools (e.g. wrk for benchmarks)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing packages ${missing[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Apt options for a private apt state in $1 (sources in $1/etc/sources.list): the
# machine's own apt configuration is never touched.
private_apt_opts() {
  local state="$1"
  rm -rf "$state"
  mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/etc/sources.list.d" "$state/etc/preferences.d"
  apt_opts=(-o "Dir::State=$state" -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache"
    -o "Dir::Etc::SourceList=$state/etc/sources.list" -o "Dir::Etc::SourceParts=$state/etc/sources.list.d"
    -o "Dir::Etc::Preferences=$state/etc/preferences.d" -o "Dir::Etc::PreferencesParts=$state/etc/preferences.d"
    -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
}

# "URI suite" pairs of the machine's Debian binary sources (deb822 and one-line).
apt_suites() {
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    awk '/^URIs:/{u=$2} /^Suites:/{for(i=2;i<=NF;i++) print u, $i} /^$/{u=""}' /etc/apt/sources.list.d/*.sources
  fi
  if [[ -f /etc/apt/sources.list ]]; then
    awk '$1=="deb"{for(i=2;i<=NF;i++) if($i ~ /^[a-z]+:\/\//){print $i, $(i+1); break}}' /etc/apt/sources.list
  fi
}

# Debian's lua5.4 source package, the same version as the installed liblua5.4-dev:
# evald compiles Lua's string library from it with its own step-budget patch
# (handlers/sandbox/lstrlib-step-budget.patch); no Lua source is kept in the tree.
lua_version="$(dpkg-query -W -f='${Version}' liblua5.4-dev)"
lua_dir="$root/.deps/lua5.4-$lua_version"
if [[ ! -f $lua_dir/src/lstrlib.c ]]; then
  echo "setup: fetching the lua5.4 $lua_version source package into .deps/"
  private_apt_opts "$root/.deps/apt-lua-src"
  apt_suites | sort -u | while read -r uri suite; do
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main"
  done >"$root/.deps/apt-lua-src/etc/sources.list"
  apt-get "${apt_opts[@]}" -qq update
  work="$root/.deps/lua-src-download"
  rm -rf "$work" && mkdir -p "$work"
  (cd "$work" && apt-get "${apt_opts[@]}" -qq --download-only source "lua5.4=$lua_version" >/dev/null)
  rm -rf "$lua_dir"
  # apt checked the .dsc against the signed Release file; dpkg-source checks the
  # tarballs against the .dsc (it warns that it has no keyring for the signature).
  if ! (cd "$work" && dpkg-source -x lua5.4_*.dsc "$lua_dir" >"$work/log" 2>&1); then
    cat "$work/log" >&2
    echo "setup: could not unpack the lua5.4 source package" >&2
    exit 1
  fi
  rm -rf "$work" "$root/.deps/apt-lua-src" "$root/.deps"/lua5.4_*.orig.tar.*
fi
ln -sfn "lua5.4-$lua_version" "$root/.deps/lua5.4"

boost_version() { # prints e.g. 108300, or 0 when the header is absent
  local h="$1/boost/version.hpp"
  [[ -f $h ]] && awk '/#define BOOST_VERSION /{print $3}' "$h" || echo 0
}

if (($(boost_version /usr/include) >= 108300)); then
  echo "setup: using system Boost $(boost_version /usr/include)"
  exit 0
fi
deps="$root/.deps"
if (($(boost_version "$deps/boost/usr/include") >= 108300)); then
  exit 0
fi

# Debian 13's libboost1.83-dev through a private apt state: the machine's own
# apt configuration is never touched, and the mirror is the one it already uses.
mirror=""
if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
  mirror="$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources)"
fi
if [[ -z $mirror && -f /etc/apt/sources.list ]]; then
  mirror="$(awk '$1=="deb"{for(i=2;i<=NF;i++) if($i ~ /^[a-z]+:\/\//){print $i; exit}}' /etc/apt/sources.list)"
fi
if [[ -z $mirror ]]; then
  echo "setup: no Debian mirror found in the apt sources; install Boost >= 1.83 headers" >&2
  exit 1
fi
state="$deps/apt-trixie"
private_apt_opts "$state"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$state/etc/sources.list"
echo "setup: fetching libboost1.83-dev (Debian 13) into .deps/"
apt-get "${apt_opts[@]}" -qq update
(cd "$state" && apt-get "${apt_opts[@]}" -qq download libboost1.83-dev)
rm -rf "$deps/boost"
dpkg -x "$state"/libboost1.83-dev_*.deb "$deps/boost"
rm -rf "$state"
echo "setup: Boost $(boost_version "$deps/boost/usr/include") headers in .deps/boost/usr/include"
