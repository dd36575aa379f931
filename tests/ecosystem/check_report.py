"""Checks the preload probe's JSON statistics or malloc_info XML (tests/ecosystem).

Usage: check_report.py json|xml <probe> <libstrata.so>
Runs the probe with strata preloaded and validates its stdout with the
standard library's parsers (json, xml.etree).
"""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

mode, probe, lib = sys.argv[1:4]
env = dict(os.environ, LD_PRELOAD=lib)
out = subprocess.run([probe, mode], env=env, check=True, capture_output=True, text=True, timeout=60).stdout

if mode == "json":
    doc = json.loads(out)
    assert list(doc) == ["strata"], list(doc)
    s = doc["strata"]
    for key in ("version", "config", "opt", "stats"):
        assert key in s, key
    st = s["stats"]
    for key in ("allocated", "active", "metadata", "resident", "mapped", "retained"):
        assert isinstance(st[key], int) and st[key] >= 0, (key, st[key])
    assert st["allocated"] > 3000 * 100, st["allocated"]
    assert st["active"] >= st["allocated"] - st["small"]["used"], st
    assert st["mapped"] >= st["allocated"], st
    assert st["huge"]["count"] >= 1 and st["huge"]["bytes"] >= 6 << 20, st["huge"]
    assert st["medium"]["used"] > 0, st["medium"]
    classes = st["classes"]
    assert classes and all(set(c) == {"size", "blocks", "bytes", "spans", "span_bytes", "util_pct"} for c in classes)
    sizes = [c["size"] for c in classes]
    assert sizes == sorted(sizes), sizes
    assert sum(c["bytes"] for c in classes) == st["small"]["used"], "class rows do not add up to small.used"
    assert s["opt"]["tcache"] in (True, False) and isinstance(s["opt"]["purge_delay_ms"], int), s["opt"]
    assert s["opt"]["thp"] in ("default", "always", "never") and isinstance(s["opt"]["mem_limit"], int), s["opt"]
    lim = st["limits"]
    for key in ("hard", "soft", "cgroup_version", "cgroup_max", "cgroup_high", "hard_hits", "hard_failures",
                "soft_passes", "reclaimed"):
        assert isinstance(lim[key], int) and lim[key] >= 0, (key, lim)
    assert lim["hard_source"] in ("none", "option", "mallctl", "cgroup"), lim
    assert lim["soft_source"] in ("none", "option", "mallctl", "cgroup"), lim
    assert st["thp"]["mode"] in ("default", "always", "never") and isinstance(st["thp"]["anon_huge"], int), st["thp"]
elif mode == "xml":
    root = ET.fromstring(out)
    assert root.tag == "malloc" and root.get("version") == "1", root.tag
    heap = root.find("heap")
    assert heap is not None and heap.get("nr") == "0"
    assert heap.find("sizes") is not None
    mmap = [t for t in root.findall("total") if t.get("type") == "mmap"]
    assert mmap and int(mmap[0].get("count")) >= 1 and int(mmap[0].get("size")) >= 6 << 20, out
    for size in heap.find("sizes"):
        assert int(size.get("from")) <= int(size.get("to")) and int(size.get("count")) > 0, ET.tostring(size)
else:
    sys.exit("unknown mode " + mode)
print(mode, "ok")
