"""The "python-json" workload: CPython building, serialising and parsing dicts.

Run as `PYTHONMALLOC=malloc PYTHONHASHSEED=0 /usr/bin/python3 json_churn.py N`.
PYTHONMALLOC=malloc sends every object allocation to malloc instead of
pymalloc's arenas, so the process is an interpreter heap served entirely by
the allocator under test: millions of small dicts, strings, ints and lists
with short and mixed lifetimes. Each of N rounds builds a batch of nested
records, serialises them to JSON, parses the text back, transforms the
result (comprehensions, sorting, string joins) and keeps a few survivors in a
bounded cache so the heap has a long-lived part too. The only output is a
checksum that depends on the data alone (fixed seed), never on the allocator.
"""
import json
import random
import sys
import zlib

WORDS = ["alpha", "amber", "basil", "cedar", "delta", "ember", "fjord", "grove", "heron",
         "indigo", "jasper", "kite", "lumen", "maple", "nectar", "onyx", "pixel", "quartz"]


def record(rng, i):
    """One nested record, roughly what a web handler passes around."""
    return {
        "id": i,
        "name": "-".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4))),
        "tags": [rng.choice(WORDS) for _ in range(rng.randint(0, 8))],
        "score": rng.random(),
        "counts": {w: rng.randint(0, 1000) for w in rng.sample(WORDS, rng.randint(1, 6))},
        "children": [{"k": rng.randint(0, 99), "v": str(rng.random())} for _ in range(rng.randint(0, 4))],
    }


def churn_round(rng, base, size):
    records = [record(rng, base + i) for i in range(size)]
    text = json.dumps(records, sort_keys=True)
    parsed = json.loads(text)
    by_tag = {}
    for r in parsed:
        for t in r["tags"]:
            by_tag.setdefault(t, []).append(r["id"])
    ranked = sorted(parsed, key=lambda r: (-len(r["counts"]), r["name"], r["id"]))
    summary = ";".join(f"{r['name']}={sum(r['counts'].values())}" for r in ranked[:50])
    return text, by_tag, summary


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rng = random.Random(1234)
    cache = []  # long-lived survivors, bounded
    crc = 0
    for n in range(rounds):
        text, by_tag, summary = churn_round(rng, n * 1000, 400)
        crc = zlib.crc32(text.encode(), crc)
        crc = zlib.crc32(summary.encode(), crc)
        crc = zlib.crc32(repr(sorted((k, len(v)) for k, v in by_tag.items())).encode(), crc)
        cache.append(by_tag)
        if len(cache) > 20:
            cache.pop(rng.randrange(len(cache)))
    print(f"checksum {crc:08x}")


if __name__ == "__main__":
    main()
