#!/usr/bin/env bash
# Installs what evald needs to build and test on Debian 12 (or newer), as root.
# Idempotent: installs only missing packages; fetches Boost >= 1.83 headers from
# Debian 13 into .deps/ only when the system's Boost is older (Debian 12 ships 1.81,
# whose io_uring backend crashes on cancel/close).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

packages=(cmake g++ ninja-build make curl ca-certificates pkg-config liburing-dev nlohmann-json3-dev
  libspdlog-dev libfmt-dev libgtest-dev coreutils procps clang-format git file dpkg-dev ccache)
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
rm -rf "$state"
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/etc/sources.list.d" "$state/etc/preferences.d"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$state/etc/sources.list"
apt_opts=(-o "Dir::State=$state" -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache"
  -o "Dir::Etc::SourceList=$state/etc/sources.list" -o "Dir::Etc::SourceParts=$state/etc/sources.list.d"
  -o "Dir::Etc::Preferences=$state/etc/preferences.d" -o "Dir::Etc::PreferencesParts=$state/etc/preferences.d"
  -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
echo "setup: fetching libboost1.83-dev (Debian 13) into .deps/"
apt-get "${apt_opts[@]}" -qq update
(cd "$state" && apt-get "${apt_opts[@]}" -qq download libboost1.83-dev)
rm -rf "$deps/boost"
dpkg -x "$state"/libboost1.83-dev_*.deb "$deps/boost"
rm -rf "$state"
echo "setup: Boost $(boost_version "$deps/boost/usr/include") headers in .deps/boost/usr/include"
