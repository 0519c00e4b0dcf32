#!/usr/bin/env python3
"""Load client of test/bench/yurthub.sh, run inside the edge node (cluster.sh exec).

One client for every path: http.client over persistent (keep-alive) connections, timed with
time.perf_counter_ns from before the request is written to after the last body byte is read.
Each subcommand merges its figures into a JSON results file; `report` prints them all.

  latency  GET one pod, LIST 100 (label + field selector), LIST 1000 (field selector): direct to
           the apiserver (TLS, the bench's client certificate) and through the hub (plain HTTP on
           loopback, the hub presents the same certificate upstream), samples interleaved; plus
           the client's floor: a trivial local server answering the same bytes.
  offline  the same LISTs from the hub's cache (cloud cut): 1 connection for latency, several
           processes for throughput.
  startup  start the hub on its cache, time exec -> /v1/readyz 200, SIGKILL, again.
  record   store one figure given by the shell (RSS).
  report   print everything beside the targets.
"""

import argparse
import http.client
import json
import math
import multiprocessing
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def merge(path, key, value):
    data = load(path)
    data[key] = value
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def pct(samples_ns, p):
    """Nearest-rank percentile, in milliseconds."""
    s = sorted(samples_ns)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)] / 1e6


def summary(samples_ns):
    return {"n": len(samples_ns), "p50": pct(samples_ns, 50), "p99": pct(samples_ns, 99),
            "max": max(samples_ns) / 1e6}


class Client:
    """One persistent connection; reconnects only if the peer closed it (counted)."""

    def __init__(self, make, ua):
        self.make = make
        self.conn = make()
        self.headers = {"User-Agent": ua, "Accept": "application/json"}
        self.reconnects = 0

    def fetch(self, path, retry=True):
        """(status, body, nanoseconds)."""
        t0 = time.perf_counter_ns()
        try:
            self.conn.request("GET", path, headers=self.headers)
            resp = self.conn.getresponse()
            body = resp.read()
        except (http.client.HTTPException, ConnectionError):
            # A closed keep-alive connection: redo once on a new one (that one is timed).
            self.conn.close()
            self.conn = self.make()
            self.reconnects += 1
            if not retry:
                raise
            return self.fetch(path, retry=False)
        t1 = time.perf_counter_ns()
        if resp.will_close:
            self.conn.close()
            self.conn = self.make()
            self.reconnects += 1
        return resp.status, body, t1 - t0


def hub_conn(hub):
    host, port = hub.rsplit(":", 1)
    return lambda: http.client.HTTPConnection(host, int(port), timeout=30)


def api_conn(url, ca, cert, key):
    u = urllib.parse.urlsplit(url)
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    return lambda: http.client.HTTPSConnection(u.hostname, u.port or 443, context=ctx, timeout=30)


def targets(ns, node, group):
    sel_node = urllib.parse.quote(f"spec.nodeName={node}")
    sel_group = urllib.parse.quote(f"bench-group={group}")
    return [
        ("GET pod", f"/api/v1/namespaces/{ns}/pods/bench-0000", None),
        ("LIST 100 (label+field selector)",
         f"/api/v1/pods?fieldSelector={sel_node}&labelSelector={sel_group}", 100),
        ("LIST 1000 (field selector)", f"/api/v1/pods?fieldSelector={sel_node}", 1000),
    ]


def check(name, where, status, body, items):
    if status != 200:
        sys.exit(f"{name} {where}: HTTP {status}: {body[:300]!r}")
    obj = json.loads(body)
    if items is None:
        if obj.get("kind") != "Pod":
            sys.exit(f"{name} {where}: not a Pod: {body[:300]!r}")
    elif obj.get("kind") != "PodList" or len(obj["items"]) != items:
        sys.exit(f"{name} {where}: expected a PodList of {items}, got {obj.get('kind')} "
                 f"with {len(obj.get('items', []))} items")


def serve_fixed(sock, bodies):
    """A trivial keep-alive HTTP/1.1 server: the same bytes for a path, nothing parsed but the
    request line. Measures what the client itself costs (its floor)."""
    while True:
        conn, _ = sock.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                buf += chunk
            if b"\r\n\r\n" not in buf:
                conn.close()
                break
            head, buf = buf.split(b"\r\n\r\n", 1)
            path = head.split(b" ", 2)[1].decode()
            body = bodies[path]
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def cmd_latency(a):
    direct = Client(api_conn(a.api, a.ca, a.cert, a.key), a.ua)
    # The same path again on its own connection: how far two identical paths' percentiles lie
    # apart in this run (the resolution of every "added" figure).
    again = Client(api_conn(a.api, a.ca, a.cert, a.key), a.ua)
    hub = Client(hub_conn(a.hub), a.ua)
    # A component outside --cache-agents: proxied without recording, so the two hub columns
    # separate the proxy's cost from the cache's.
    plain = Client(hub_conn(a.hub), "yurt-bench/1.0")
    bodies = {}
    for name, path, items in targets(a.namespace, a.node, a.group):
        status, body, _ = direct.fetch(path)
        check(name, "direct", status, body, items)
        status, body2, _ = hub.fetch(path)
        check(name, "through the hub", status, body2, items)
        bodies[path] = body

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    server = multiprocessing.Process(target=serve_fixed, args=(sock, bodies), daemon=True)
    server.start()
    local = Client(lambda: http.client.HTTPConnection("127.0.0.1", sock.getsockname()[1]), a.ua)

    out = {"samples": a.samples, "warmup": a.warmup, "rows": []}
    for name, path, _ in targets(a.namespace, a.node, a.group):
        clients = {"direct": direct, "hub": hub, "plain": plain, "again": again, "floor": local}
        for _ in range(a.warmup):
            for c in clients.values():
                c.fetch(path)
        times = {k: [] for k in clients}
        order = list(clients)
        for i in range(a.samples):
            # Interleaved, the order rotating, so drift on this shared machine hits all alike.
            for k in order[i % len(order):] + order[:i % len(order)]:
                status, _, ns = clients[k].fetch(path)
                if status != 200:
                    sys.exit(f"{name} {k}: HTTP {status}")
                times[k].append(ns)
        row = {"name": name, "bytes": len(bodies[path])}
        row.update({k: summary(v) for k, v in times.items()})
        out["rows"].append(row)
        print(f"  {name}: direct p50 {row['direct']['p50']:.2f} ms, hub p50 "
              f"{row['hub']['p50']:.2f} ms", file=sys.stderr)
    out["reconnects"] = {"direct": direct.reconnects, "hub": hub.reconnects,
                         "plain": plain.reconnects, "again": again.reconnects}
    server.terminate()
    merge(a.results, "online", out)


def offline_worker(hub, ua, path, warmup, seconds, start, queue):
    c = Client(hub_conn(hub), ua)
    for _ in range(warmup):
        c.fetch(path)
    start.wait(timeout=300)  # a barrier: every worker warmed up, and the main process
    times = []
    end = time.perf_counter_ns() + int(seconds * 1e9)
    while time.perf_counter_ns() < end:
        status, _, ns = c.fetch(path)
        if status != 200:
            queue.put(("error", status))
            return
        times.append(ns)
    queue.put(("ok", times))


def cmd_offline(a):
    hub = Client(hub_conn(a.hub), a.ua)
    out = {"seconds": a.seconds, "rows": []}
    for name, path, items in targets(a.namespace, a.node, a.group):
        status, body, _ = hub.fetch(path)
        check(name, "offline from the cache", status, body, items)
        row = {"name": name, "bytes": len(body), "runs": []}
        for conns in a.connections:
            start = multiprocessing.Barrier(conns + 1)
            queue = multiprocessing.Queue()
            procs = [multiprocessing.Process(
                target=offline_worker,
                args=(a.hub, a.ua, path, a.warmup, a.seconds, start, queue)) for _ in range(conns)]
            for p in procs:
                p.start()
            start.wait(timeout=300)
            t0 = time.perf_counter_ns()
            results = [queue.get() for _ in procs]
            wall = (time.perf_counter_ns() - t0) / 1e9
            for p in procs:
                p.join()
            errors = [r[1] for r in results if r[0] == "error"]
            if errors:
                sys.exit(f"{name} offline: HTTP {errors[0]}")
            times = [t for r in results for t in r[1]]
            # Every worker runs `seconds` from the common start: the rate over that window.
            run = {"connections": conns, "requests": len(times), "rps": len(times) / a.seconds,
                   "wall": wall}
            run.update(summary(times))
            row["runs"].append(run)
            print(f"  {name}, {conns} connection(s): {run['rps']:.0f} req/s, p99 "
                  f"{run['p99']:.2f} ms", file=sys.stderr)
        out["rows"].append(row)
    merge(a.results, "offline", out)


def readyz(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        c.request("GET", "/v1/readyz")
        status = c.getresponse().status
        c.close()
        return status == 200
    except OSError:
        return False


def metric(port, name):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def vm(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def cmd_startup(a):
    runs = []
    for i in range(a.runs):
        with open(a.log, "ab") as log:
            t0 = time.perf_counter_ns()
            proc = subprocess.Popen(a.hub_cmd, stdout=log, stderr=log)
            while not readyz(a.serve_port):
                if proc.poll() is not None:
                    sys.exit(f"the hub exited with {proc.returncode} before it was ready "
                             f"(see {a.log})")
                time.sleep(0.001)
            ms = (time.perf_counter_ns() - t0) / 1e6
        objects = metric(a.serve_port, "yurthub_cache_objects")
        time.sleep(1)
        rss = vm(proc.pid, "VmRSS")
        runs.append({"ms": ms, "objects": objects, "rss_kb": rss})
        print(f"  run {i + 1}: ready in {ms:.0f} ms, {objects:.0f} cached objects, "
              f"VmRSS {rss / 1024:.1f} MiB", file=sys.stderr)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    data = load(a.results).get("startup", {})
    data[a.label] = runs
    merge(a.results, "startup", data)


def cmd_record(a):
    data = load(a.results).get("figures", {})
    data[a.key] = a.value
    merge(a.results, "figures", data)


def cmd_report(a):
    r = load(a.results)
    fig = r.get("figures", {})
    print(f"yurthub benchmark — {fig.get('when', '?')}, {fig.get('where', '?')}")
    print(f"  hub {fig.get('hub', '?')}; one client (Python http.client, keep-alive), the same "
          "client certificate direct and through the hub")
    on = r.get("online")
    if on:
        print(f"\nonline latency, ms ({on['samples']} samples per path after {on['warmup']} "
              "warm-up, interleaved)")
        print(f"  {'request':32} {'bytes':>8} | {'direct':>13} | {'hub, kubelet UA':>15} | "
              f"{'added':>13} | {'hub, not cached':>15} | {'added':>13} | {'direct again':>13} | "
              f"{'client floor':>13}")
        cols = " | ".join([f"{'p50':>6} {'p99':>6}"] + [f"{'p50':>7} {'p99':>7}", f"{'p50':>6} {'p99':>6}"] * 2
                          + [f"{'p50':>6} {'p99':>6}"] * 2)
        print(f"  {'':32} {'':>8} | {cols}")
        for row in on["rows"]:
            d, h, u, f = row["direct"], row["hub"], row["plain"], row["floor"]
            g = row.get("again", d)
            print(f"  {row['name']:32} {row['bytes']:>8} | {d['p50']:6.2f} {d['p99']:6.2f} | "
                  f"{h['p50']:7.2f} {h['p99']:7.2f} | {h['p50'] - d['p50']:6.2f} "
                  f"{h['p99'] - d['p99']:6.2f} | {u['p50']:7.2f} {u['p99']:7.2f} | "
                  f"{u['p50'] - d['p50']:6.2f} {u['p99'] - d['p99']:6.2f} | "
                  f"{g['p50'] - d['p50']:6.2f} {g['p99'] - d['p99']:6.2f} | "
                  f"{f['p50']:6.2f} {f['p99']:6.2f}")
        print("  target: added p99 <= 1 ms.  added = through the hub - direct, percentile by "
              "percentile.")
        print("  direct again: a second direct connection, interleaved like the others, minus "
              "direct: how far two identical")
        print("  paths lie apart in this run (the resolution of the added columns).")
        print("  'kubelet UA' is recorded into the cache (a cache agent); 'not cached' is the same "
              "request from a component")
        print("  outside --cache-agents (proxied only). client floor: the same client against a "
              "trivial local server")
        print("  returning the same bytes (what the client itself costs).")
        rc = on.get("reconnects", {})
        print(f"  keep-alive: connections re-opened during the run: direct {rc.get('direct')}, "
              f"hub {rc.get('hub')}, hub not cached {rc.get('plain')}, direct again "
              f"{rc.get('again')}")
        if "cpu_online" in fig:
            print(f"  hub CPU over the online run: {fig['cpu_online']}")
    off = r.get("offline")
    if off:
        print(f"\noffline (cloud cut, answered from the hub's cache; {off['seconds']} s per run)")
        print(f"  {'request':34} {'conns':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'max ms':>8}   online direct p99 (same run)")
        online = {row["name"]: row for row in (on or {}).get("rows", [])}
        for row in off["rows"]:
            for run in row["runs"]:
                base = online.get(row["name"])
                base_s = f"{base['direct']['p99']:.2f} ms" if base else "-"
                print(f"  {row['name']:34} {run['connections']:>5} {run['rps']:8.0f} "
                      f"{run['p50']:8.2f} {run['p99']:8.2f} {run['max']:8.2f}   {base_s}")
        print("  target: offline cached LIST p99 <= 5 ms")
        if "cpu_offline" in fig:
            print(f"  hub CPU over the offline runs: {fig['cpu_offline']}")
    print("\nhub RSS (VmRSS)")
    for key, label, target in (("rss_idle", "idle (online, empty cache)", "<= 15 MB"),
                               ("rss_cached", "1000 pods cached (after the online run)",
                                "<= 40 MB"),
                               ("rss_settled", "the same, 3 s later (recording caught up)",
                                "<= 40 MB"),
                               ("rss_offline", "after the offline run", "<= 40 MB")):
        if key in fig:
            kb = int(fig[key])
            print(f"  {label:42} {kb / 1024:7.1f} MiB ({kb * 1024 / 1e6:.1f} MB)   target "
                  f"{target}")
    st = r.get("startup", {})
    for label, runs in st.items():
        print(f"\nstart-up to /v1/readyz 200 on a cache of "
              f"{int(runs[0]['objects'] or 0)} objects, {label} (exec -> 200; SIGKILL between runs)")
        for i, run in enumerate(runs, 1):
            print(f"  run {i}: {run['ms']:7.1f} ms   VmRSS 1 s after ready "
                  f"{run['rss_kb'] / 1024:.1f} MiB")
    if "loadavg" in fig:
        print(f"\nload average before / after: {fig['loadavg']}")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", required=True)
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(s):
        s.add_argument("--hub", default="127.0.0.1:20261")
        s.add_argument("--ua", default="kubelet/v1.34.4 (linux/amd64) kubernetes/bench")
        s.add_argument("--namespace", default="yurt-bench")
        s.add_argument("--node", default="bench-node")
        s.add_argument("--group", default="g3")
        s.add_argument("--warmup", type=int, default=50)

    s = sub.add_parser("latency")
    common(s)
    s.add_argument("--api", required=True)
    s.add_argument("--ca", required=True)
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--samples", type=int, default=500)
    s.set_defaults(fn=cmd_latency)

    s = sub.add_parser("offline")
    common(s)
    s.add_argument("--seconds", type=float, default=5)
    s.add_argument("--connections", type=lambda v: [int(x) for x in v.split(",")],
                   default=[1, 4])
    s.set_defaults(fn=cmd_offline)

    s = sub.add_parser("startup")
    s.add_argument("--label", required=True)
    s.add_argument("--runs", type=int, default=5)
    s.add_argument("--serve-port", type=int, default=20267)
    s.add_argument("--log", required=True)
    s.add_argument("hub_cmd", nargs=argparse.REMAINDER)
    s.set_defaults(fn=cmd_startup)

    s = sub.add_parser("record")
    s.add_argument("key")
    s.add_argument("value")
    s.set_defaults(fn=cmd_record)

    s = sub.add_parser("report")
    s.set_defaults(fn=cmd_report)

    a = p.parse_args()
    if getattr(a, "hub_cmd", None) and a.hub_cmd[0] == "--":
        a.hub_cmd = a.hub_cmd[1:]
    a.fn(a)


if __name__ == "__main__":
    main()
