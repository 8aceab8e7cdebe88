#!/usr/bin/python3
"""Python's ssl as a real TLS client for tests/integration/tls_test.cpp.

Usage: tls_client.py MODE PORT CAFILE [...]
  get PORT CAFILE [ALPN,...]   one GET /healthz; prints "status=200 version=TLSv1.3
                               alpn=http/1.1 cipher=... cn=..." (alpn=- when none)
  old PORT                     a TLS 1.1 (or older) client; prints "refused" when the server
                               refused the handshake, "accepted" otherwise
  load PORT CAFILE STOPFILE    keep-alive GETs on 4 connections and a new connection per GET
                               on a fifth thread until STOPFILE exists; prints "ok=N failed=M"
                               and the first failure
  hold PORT CAFILE             a bad request, then never a close_notify: prints the status
                               and "closed after N s" once the server closed the TCP stream
  mtls PORT CAFILE CERT KEY [PATH]  a GET (of /healthz) with a client certificate (CERT
                               KEY "-" for none); prints "status=200" or "refused"
"""
import os
import socket
import ssl
import sys
import threading
import time


def context(cafile, alpn=None):
    ctx = ssl.create_default_context(cafile=cafile)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def get(sock, path="/healthz"):
    sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the response")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed inside the body")
        body += chunk
    return int(head.split(b" ")[1])


def connect(port, ctx):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "get":
        alpn = sys.argv[4].split(",") if len(sys.argv) > 4 else None
        with connect(port, context(sys.argv[3], alpn)) as s:
            status = get(s)
            subject = dict(x[0] for x in s.getpeercert()["subject"])
            print(f"status={status} version={s.version()} alpn={s.selected_alpn_protocol() or '-'} "
                  f"cipher={s.cipher()[0]} cn={subject.get('commonName', '-')}")
    elif mode == "old":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        try:
            with connect(port, ctx):
                print("accepted")
        except (ssl.SSLError, ConnectionError) as e:
            print(f"refused ({e})")
    elif mode == "hold":
        # A request the server answers and closes (400), then no close_notify from us: the
        # server's wait for it must end on its own. Prints "closed after N s".
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        watch = raw.dup()
        s = context(sys.argv[3]).wrap_socket(raw, server_hostname="localhost")
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n")
        got = b""
        while True:
            chunk = s.recv(4096)  # b"" once the server's close_notify arrives
            if not chunk:
                break
            got += chunk
        start = time.monotonic()
        while watch.recv(4096):  # the server's TLS alerts, then its FIN
            pass
        print(f"{got.split(b' ')[1].decode()} closed after {time.monotonic() - start:.1f} s")
    elif mode == "mtls":
        ctx = context(sys.argv[3])
        if sys.argv[4] != "-":
            ctx.load_cert_chain(sys.argv[4], sys.argv[5])
        path = sys.argv[6] if len(sys.argv) > 6 else "/healthz"
        try:
            with connect(port, ctx) as s:
                print(f"status={get(s, path)}")
        except (ssl.SSLError, ConnectionError, OSError) as e:
            print(f"refused ({e})")
    elif mode == "load":
        ctx = context(sys.argv[3])
        stop_file = sys.argv[4]
        ok = [0]
        failed = []
        lock = threading.Lock()

        def keep_alive():
            s = None
            while not os.path.exists(stop_file):
                try:
                    if s is None:
                        s = connect(port, ctx)
                    status = get(s)
                    with lock:
                        if status == 200:
                            ok[0] += 1
                        else:
                            failed.append(f"status {status}")
                except Exception as e:  # every failure is counted and named
                    with lock:
                        failed.append(f"keep-alive: {e!r}")
                    s = None
            if s is not None:
                s.close()

        def new_each_time():
            while not os.path.exists(stop_file):
                try:
                    with connect(port, ctx) as s:
                        status = get(s)
                    with lock:
                        if status == 200:
                            ok[0] += 1
                        else:
                            failed.append(f"status {status}")
                except Exception as e:
                    with lock:
                        failed.append(f"new connection: {e!r}")

        threads = [threading.Thread(target=keep_alive) for _ in range(4)]
        threads.append(threading.Thread(target=new_each_time))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"ok={ok[0]} failed={len(failed)} {failed[0] if failed else ''}")
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
