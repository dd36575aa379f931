#!/usr/bin/env python3
"""Heap-profiler checks through the tools users read profiles with.

Runs tests/prof/prof_sites.cpp under LD_PRELOAD=libstrata.so and reads its
heap profiles with Debian's jeprof (libjemalloc-dev) and google-pprof
(google-perftools), as a person would: --text, --svg (graphviz) and --base.

Usage: prof_check.py CASE LIBSTRATA PROF_SITES WORKDIR
  accuracy  default rate (lg_prof_sample 19): each site's estimated live bytes
            (jeprof --text --show_bytes) within 10% of the truth; google-pprof
            reads the same numbers; --svg draws the sites; --base of the two
            dumps shows site_a's growth (within 10%) and site_c's release.
  exact     lg_prof_sample:0: every allocation sampled, estimates exact.
  leak      prof_leak + prof_final: the leak summary names leak_site on
            stderr, and jeprof on the final dump attributes the bytes to it.
  dumps     lg_prof_interval and prof_gdump write <prefix>.<pid>.<seq>.i<n>.heap
            and .u<n>.heap files that jeprof reads.
  stacks    lg_prof_sample:0, 4096 live blocks from 4096 distinct stacks: the
            dump holds every stack (it is written from mapped memory, never
            through malloc, however many there are) and jeprof reads it whole.
  badconf   out-of-range lg_prof_sample and an unwritable prof_prefix: a clear
            message, the program still runs.
  redis     Debian's redis-server (no frame pointers, linked to libjemalloc):
            20,000 SETs of 1000-byte values on loopback, a profile at shutdown;
            jeprof attributes the values' bytes to redis's zmalloc family.
            Skipped (77) without redis-server/redis-benchmark.
Prints the figures it checked; exits 1 on any failed check.
"""
import glob
import os
import re
import subprocess
import sys

case, lib, prog, work = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def run(conf, *args):
    env = dict(os.environ, LD_PRELOAD=lib, STRATA_CONF=conf)
    return subprocess.run([prog, *args], env=env, capture_output=True, text=True, timeout=600)


def tool_text(tool, *args):
    """`<tool> --text --show_bytes ...` as {function: flat bytes}, summed over the
    lines that name it (jeprof lists an inlined copy of a function apart)."""
    out = subprocess.run([tool, "--text", "--show_bytes", *args], capture_output=True, text=True,
                         timeout=600, env=dict(os.environ, LD_PRELOAD=""))
    if out.returncode != 0:
        print(out.stderr)
    sites = {}
    for line in out.stdout.splitlines():
        m = re.match(r"\s*(-?\d+)\s+(-?[\d.]+)%\s+(-?[\d.]+)%\s+(-?\d+)\s+(-?[\d.]+)%\s+(\S+)", line)
        if m:
            sites[m.group(6)] = sites.get(m.group(6), 0) + int(m.group(1))
    return sites


def truth(prefix):
    with open(prefix + ".truth") as f:
        return {k: int(v) for k, v in (line.split() for line in f)}


def accuracy(conf, tol):
    prefix = os.path.join(work, case)
    r = run(conf, "accuracy", prefix)
    check(r.returncode == 0, f"prof_sites accuracy ran ({r.returncode}) {r.stderr.strip()[:300]}")
    if r.returncode != 0:
        return None
    t = truth(prefix)
    for tool in ("jeprof", "google-pprof"):
        est = tool_text(tool, prog, prefix + ".1.heap")
        for site in ("site_a", "site_b", "site_c"):
            got = est.get(site, 0)
            err = (got - t[site]) / t[site]
            check(abs(err) <= tol, f"{tool}: {site} estimated {got} B, truth {t[site]} B, error {err:+.4%} "
                  f"(allowed {tol:.2%})")
    return prefix, t


if case == "accuracy":
    res = accuracy("prof:true", 0.10)
    if res:
        prefix, t = res
        # --base: the growth between the two dumps.
        diff = tool_text("jeprof", f"--base={prefix}.1.heap", prog, prefix + ".2.heap")
        a, c = diff.get("site_a", 0), diff.get("site_c", 0)
        err = (a - t["growth_site_a"]) / t["growth_site_a"]
        check(abs(err) <= 0.10, f"jeprof --base: site_a grew {a} B, truth {t['growth_site_a']} B ({err:+.2%})")
        errc = (c - t["growth_site_c"]) / t["growth_site_c"]
        check(abs(errc) <= 0.10, f"jeprof --base: site_c changed {c} B, truth {t['growth_site_c']} B ({errc:+.2%})")
        svg = subprocess.run(["jeprof", "--svg", prog, prefix + ".1.heap"], capture_output=True, text=True,
                             timeout=600, env=dict(os.environ, LD_PRELOAD=""))
        check(svg.stdout.lstrip().startswith("<?xml") and "<svg" in svg.stdout and
              all(s in svg.stdout for s in ("site_a", "site_b", "site_c")),
              f"jeprof --svg draws a call graph with the three sites ({len(svg.stdout)} bytes)")
elif case == "exact":
    accuracy("prof:true,lg_prof_sample:0", 0.0001)
elif case == "leak":
    prefix = os.path.join(work, "leak")
    for f in glob.glob(prefix + ".*.heap"):
        os.remove(f)
    r = run(f"prof:true,prof_leak:true,prof_final:true,prof_prefix:{prefix}", "leak")
    check(r.returncode == 0, f"prof_sites leak ran ({r.returncode})")
    print(r.stderr)
    check("<strata>: Leak approximation summary: ~" in r.stderr, "stderr has the leak summary")
    check(re.search(r"<strata>: leak: ~\d+ bytes in ~\d+ objects allocated at leak_site\+", r.stderr) is not None,
          "the leak report names leak_site as the allocating function")
    check(re.search(r"allocated at site_b", r.stderr) is None, "freed blocks (site_b) are not reported")
    finals = glob.glob(prefix + ".*.f.heap")
    check(len(finals) == 1 and finals[0] in r.stderr, f"prof_final wrote one dump named on stderr: {finals}")
    if finals:
        est = tool_text("jeprof", prog, finals[0])
        top = max(est, key=est.get) if est else None
        check(top == "leak_site", f"jeprof on the final dump: most live bytes at {top} ({est.get(top)} B)")
elif case == "dumps":
    prefix = os.path.join(work, "dumps")
    for f in glob.glob(prefix + ".*.heap"):
        os.remove(f)
    r = run(f"prof:true,lg_prof_interval:24,prof_gdump:true,prof_prefix:{prefix}", "churn", "256")
    check(r.returncode == 0, f"prof_sites churn ran ({r.returncode}) {r.stderr.strip()[:200]}")
    inter = sorted(glob.glob(prefix + ".*.i*.heap"))
    gd = sorted(glob.glob(prefix + ".*.u*.heap"))
    # 256 MiB allocated, one dump per 16 MiB: about 16 (the count is per sample, ~512 KiB).
    check(12 <= len(inter) <= 17, f"lg_prof_interval:24 wrote {len(inter)} interval dumps (about 16)")
    check(len(gd) >= 3, f"prof_gdump wrote {len(gd)} dumps as the mapped memory grew")
    names_ok = all(re.fullmatch(re.escape(prefix) + r"\.\d+\.\d+\.[iu]\d+\.heap", f) for f in inter + gd)
    check(names_ok, "file names are <prefix>.<pid>.<seq>.<i|u><n>.heap")
    if inter:
        est = tool_text("jeprof", prog, inter[-1])
        check("site_c" in est, f"jeprof reads an interval dump ({inter[-1]}): site_c holds {est.get('site_c')} B")
elif case == "stacks":
    out = os.path.join(work, "stacks.heap")
    if os.path.exists(out):
        os.remove(out)
    r = run("prof:true,lg_prof_sample:0", "stacks", out)
    check(r.returncode == 0 and os.path.exists(out), f"prof_sites stacks dumped ({r.returncode}) {r.stderr.strip()[:200]}")
    if os.path.exists(out):
        with open(out) as f:
            text = f.read()
        paths = {line.split(" @ ", 1)[1].strip() for line in text.splitlines()
                 if " @ " in line and not line.startswith("heap profile:")}
        check(len(paths) >= 4096, f"the dump holds {len(paths)} distinct stacks (4096 made)")
        est = tool_text("jeprof", prog, out)
        total = est.get("stack_left", 0) + est.get("stack_right", 0)
        check(total == 4096 * 64, f"jeprof attributes {total} B to stack_left/stack_right (4096 x 64 = 262144)")
elif case == "badconf":
    r = run("prof:true,lg_prof_sample:99", "leak")
    check(r.returncode == 0 and "invalid conf value: lg_prof_sample:99 (keeping lg_prof_sample:19)" in r.stderr,
          f"lg_prof_sample:99 is refused with a message: {r.stderr.strip()[:200]}")
    r = run("prof:true,lg_prof_sample:-1", "leak")
    check(r.returncode == 0 and "invalid conf value: lg_prof_sample:-1" in r.stderr, "lg_prof_sample:-1 is refused")
    r = run("prof:true,prof_final:true,prof_prefix:/nonexistent-strata-dir/p", "leak")
    check(r.returncode == 0 and "<strata>: prof: cannot create the heap profile /nonexistent-strata-dir/p." in r.stderr,
          f"an unwritable prof_prefix is named on stderr, the program exits normally: {r.stderr.strip()[:200]}")
    r = run("prof:true,prof_prefix:a,b", "leak")
    check(r.returncode == 0 and "invalid conf pair: b" in r.stderr, "a prefix cannot hold the pair separator")
elif case == "redis":
    import random
    import shutil
    import socket
    import time
    server = shutil.which("redis-server")
    if not server or not shutil.which("redis-benchmark") or not shutil.which("redis-cli"):
        print("SKIP: redis-server, redis-benchmark or redis-cli not installed")
        sys.exit(77)
    prefix = os.path.join(work, "redis")
    for f in glob.glob(prefix + ".*.heap"):
        os.remove(f)
    proc = port = None
    for _ in range(5):  # a random loopback port; another when it is taken
        port = random.randint(20000, 60000)
        env = dict(os.environ, LD_PRELOAD=lib,
                   STRATA_CONF=f"prof:true,prof_final:true,lg_prof_sample:14,prof_prefix:{prefix}")
        proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                 "no", "--daemonize", "no", "--dir", work], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        if proc.poll() is None:
            break
    cli = ["redis-cli", "-h", "127.0.0.1", "-p", str(port)]
    try:
        subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", "set", "-n", "20000", "-r",
                        "100000000", "-d", "1000", "-q"], capture_output=True, timeout=120)
        keys = int(subprocess.run(cli + ["dbsize"], capture_output=True, text=True, timeout=20).stdout.strip() or 0)
        subprocess.run(cli + ["shutdown", "nosave"], capture_output=True, timeout=20)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    check(keys > 15000, f"redis-server on strata with profiling took {keys} keys")
    finals = glob.glob(prefix + ".*.f.heap")
    check(len(finals) == 1, f"a profile at shutdown: {finals}")
    if finals:
        est = tool_text("jeprof", server, finals[0])
        z = sum(v for k, v in est.items() if k.startswith("z"))  # zmalloc, zmalloc_usable, zcalloc...
        want = keys * 1000
        check(z >= 0.85 * want, f"jeprof: redis's zmalloc family holds {z} B, the values are {want} B "
              f"({z / max(want, 1):.2f}x; top: {sorted(est, key=est.get, reverse=True)[:3]})")
else:
    sys.exit(f"unknown case {case}")

print(f"{case}: {len(failures)} failed")
sys.exit(1 if failures else 0)
