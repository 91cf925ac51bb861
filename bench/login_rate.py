#!/usr/bin/python3
"""POP3S login rate with and without the credential cache (wall clock, so
only meaningful on a quiet machine; docs/performance.md):

    /usr/bin/python3 bench/login_rate.py BUILD

Starts the test suite's loopback dnsmasq and one sealpost instance (default
workers) per run, 10 accounts, then 10 client threads doing POP3S
USER/PASS, STAT, QUIT for 8 s; alternates auth_cache_ttl = 0 and 5m twice.
"""
import sys, time, ssl, socket, json, threading
from pathlib import Path as _P
sys.path.insert(0, str(_P(__file__).resolve().parent.parent / "tests" / "protocol"))
import sealpost_harness as H
from pathlib import Path
def session(port, ctx, user):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname=H.HOSTNAME)
    f = s.makefile("rb"); f.readline()
    for c in ("USER " + user, "PASS pw-Password-1", "STAT", "QUIT"):
        s.sendall(c.encode() + b"\r\n"); assert f.readline().startswith(b"+OK"), c
    s.close()
def run(ttl, secs=8, conc=10):
    work = Path(H.make_instance_dir()); dns = H.DnsServer(work).start()
    inst = H.Instance(Path(sys.argv[1]), work / "sp", dns.port, overrides={"auth_cache_ttl": ttl, "max_sessions_per_ip": "1000"}, users=False)
    try:
        inst.create()
        for i in range(1, conc + 1):
            inst.cli("user", "add", "box%02d@%s" % (i, H.DOMAIN), "--password-stdin", input=b"pw-Password-1\n")
        inst.start()
        port = inst.ports["pop3s"]; ctx = ssl.create_default_context(cafile=inst.cert)
        for i in range(1, conc + 1):
            session(port, ctx, "box%02d@%s" % (i, H.DOMAIN))
        count = [0] * conc; stop = time.monotonic() + secs
        def w(k):
            while time.monotonic() < stop:
                session(port, ctx, "box%02d@%s" % (k + 1, H.DOMAIN)); count[k] += 1
        ts = [threading.Thread(target=w, args=(k,)) for k in range(conc)]
        t0 = time.monotonic(); [t.start() for t in ts]; [t.join() for t in ts]
        return sum(count) / (time.monotonic() - t0)
    finally:
        inst.stop(); dns.stop()
for ttl in ("0", "5m", "0", "5m"):
    print(json.dumps({"auth_cache_ttl": ttl, "logins_per_s": round(run(ttl), 1)}), flush=True)
