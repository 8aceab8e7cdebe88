# Sourced by the container tests: podman with runc on this host, the Debian 12 base
# image imported from debootstrap (no registry is reachable here), and the evald
# image built once per source tree. Defines skip, check, fail, $work, $base and
# evald_image (prints the tag of an image of the current sources, building it if
# needed). Needs $src; installs $extra_packages too. Exit 77 (skipped) with the reason when podman cannot run.
skip() { echo "SKIPPED: $*"; exit 77; }
fail=0
check() {
  local name=$1
  shift
  if "$@"; then echo "PASS: $name"; else echo "FAIL: $name"; fail=1; fi
}
[[ $(id -u) -eq 0 ]] || skip "needs root (podman with runc, debootstrap)"
need=()
for p in podman runc debootstrap curl ${extra_packages:-}; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
  echo "installing ${need[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") \
    >/tmp/evald-podman-apt.log 2>&1 || skip "apt-get could not install ${need[*]}"
fi
work=$(mktemp -d /tmp/evald-podman.XXXXXX)
# crun refuses this host's hybrid cgroups; ulimits must not exceed the host's.
nofile=$(ulimit -Hn)
[[ $nofile == unlimited ]] && nofile=65536
cat >"$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF=$work/containers.conf
base=localhost/evald-debian-bookworm:latest
podman info >/dev/null 2>&1 || skip "podman cannot run here: $(podman info 2>&1 | tail -1)"

if ! podman image exists "$base"; then
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null)
  [[ -n $mirror ]] || mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  [[ -n $mirror ]] || skip "no Debian mirror for debootstrap"
  echo "importing a debootstrapped Debian 12 as $base (once)"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log"; skip "debootstrap failed"; }
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
  tar -C "$work/rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$base" >/dev/null ||
    skip "podman import failed"
  rm -rf "$work/rootfs"
fi

# A digest of the sources (tracked files, as they are on disk), so a second test in
# the same run reuses the image the first one built.
source_digest() {
  (cd "$src" && git ls-files -z | xargs -0 sha1sum 2>/dev/null | sha1sum | cut -c1-16)
}

evald_image() {
  local image=localhost/evald:test digest
  digest=$(source_digest)
  if [[ $(podman image inspect --format '{{index .Config.Labels "evald.sources"}}' "$image" 2>/dev/null) == "$digest" ]]; then
    echo "$image"
    return 0
  fi
  local t0=$SECONDS
  echo "podman build (docker/Dockerfile; set-up script, compile, .deb; a few minutes)" >&2
  # --format docker keeps HEALTHCHECK and STOPSIGNAL (OCI images drop HEALTHCHECK).
  if ! podman build --format docker --network=host --build-arg BASE="$base" \
    --label "evald.sources=$digest" -t "$image" -f "$src/docker/Dockerfile" "$src" \
    >"$work/build.log" 2>&1; then
    tail -40 "$work/build.log" >&2
    return 1
  fi
  podman image prune -f >/dev/null
  echo "built in $((SECONDS - t0)) s: $(podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$image")" >&2
  echo "$image"
}
