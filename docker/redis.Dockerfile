# Debian's redis-server for compose.yaml's cluster mode: the job store, durable
# (AOF, fsync on every write, so a 202 is never lost), never evicting, reachable only
# through a unix socket in a volume the evald replicas mount (no TCP port, no host
# name lookup in evald).
ARG BASE=docker.io/library/debian:bookworm-slim
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data /run/redis && chown redis:redis /data /run/redis
USER redis
WORKDIR /data
STOPSIGNAL SIGTERM
CMD ["redis-server", "--port", "0", "--unixsocket", "/run/redis/redis.sock", \
     "--unixsocketperm", "777", "--dir", "/data", "--appendonly", "yes", \
     "--appendfsync", "always", "--save", "", "--maxmemory-policy", "noeviction"]
