# shellcheck shell=bash
# free_port: prints a TCP port nothing listens on, below the kernel's ephemeral range
# (ip_local_port_range), so that the many client sockets of tests running alongside
# cannot hold it when a server (a container's published port) binds it.
free_port() {
  local low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  ((low > 20000)) || low=32768
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % (low - 20000)))
    if ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then
      echo "$p"
      return 0
    fi
  done
  echo "$((20000 + RANDOM % (low - 20000)))"
}
