#!/usr/bin/python3
"""Writes the SQL script for the "sqlite3" workload to stdout.

The workload is Debian's sqlite3 shell running this script on an in-memory
database: build two tables (--rows people, 2x as many orders) inside
transactions, index them, run grouping, join, LIKE and string-building
queries, update and delete a share of the rows, VACUUM, and query again. The
shell parses every statement and sqlite's page cache and statement objects
come from malloc, so this is a real program whose allocation pattern we do
not choose. The data come from a fixed seed; the query results (the only
output) are the workload's checksum and must be identical under every
allocator.

Usage: sqlite_gen.py ROWS > script.sql
"""
import random
import sys

SYLLABLES = ["ka", "to", "ri", "mo", "se", "na", "lu", "vi", "de", "po", "an", "el", "ur", "is"]
CITIES = ["Avalon", "Brisk", "Corran", "Dunmore", "Elstead", "Farrow", "Gale", "Hollin",
          "Ivel", "Jarrow", "Kestle", "Lorne", "Marden", "Norwick", "Oakham", "Penrith"]
WORDS = ["alpha", "amber", "basil", "cedar", "delta", "ember", "fjord", "grove", "heron", "indigo",
         "jasper", "kite", "lumen", "maple", "nectar", "onyx", "pixel", "quartz", "raven", "sable"]
BATCH = 200  # rows per INSERT statement


def name(rng):
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 5))).capitalize()


def bio(rng):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 30)))


def inserts(out, table, rows):
    """Emits rows (an iterator of SQL value tuples) as multi-row INSERTs in one transaction."""
    out.write("BEGIN;\n")
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            out.write(f"INSERT INTO {table} VALUES {','.join(batch)};\n")
            batch = []
    if batch:
        out.write(f"INSERT INTO {table} VALUES {','.join(batch)};\n")
    out.write("COMMIT;\n")


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit(__doc__)
    n = int(sys.argv[1])
    rng = random.Random(20240607)
    out = sys.stdout
    out.write("PRAGMA cache_size=-65536;\n")  # 64 MiB page cache: more of it lives in malloc
    out.write("CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT, city TEXT, age INT, "
              "score REAL, bio TEXT);\n")
    out.write("CREATE TABLE orders(id INTEGER PRIMARY KEY, person INT, item TEXT, qty INT, "
              "price REAL);\n")
    inserts(out, "people", (
        f"({i},'{name(rng)}','{rng.choice(CITIES)}',{rng.randint(18, 90)},"
        f"{rng.randint(0, 100000) / 100},'{bio(rng)}')" for i in range(1, n + 1)))
    inserts(out, "orders", (
        f"({i},{rng.randint(1, n)},'{rng.choice(WORDS)}-{rng.randint(1, 999)}',"
        f"{rng.randint(1, 20)},{rng.randint(100, 99999) / 100})" for i in range(1, 2 * n + 1)))
    out.write("""CREATE INDEX people_city_age ON people(city, age);
CREATE INDEX people_name ON people(name);
CREATE INDEX orders_person ON orders(person);
SELECT city, count(*), round(avg(age), 3), round(sum(score), 2) FROM people GROUP BY city ORDER BY city;
SELECT count(*), round(sum(o.qty * o.price), 2) FROM people p JOIN orders o ON o.person = p.id
  WHERE p.age BETWEEN 30 AND 40;
SELECT name, count(*) AS c FROM people WHERE name LIKE 'Ka%' GROUP BY name ORDER BY c DESC, name LIMIT 5;
SELECT length(group_concat(name || ':' || city, ';')) FROM people WHERE age < 25;
SELECT item, sum(qty) FROM orders GROUP BY item ORDER BY 2 DESC, 1 LIMIT 5;
BEGIN;
UPDATE people SET score = score * 1.01, bio = bio || ' updated' WHERE age < 30;
DELETE FROM orders WHERE person IN (SELECT id FROM people WHERE id % 7 = 0);
DELETE FROM people WHERE id % 7 = 0;
COMMIT;
VACUUM;
SELECT count(*), sum(age), round(sum(score), 2), sum(length(bio)) FROM people;
SELECT count(*), round(sum(price), 2) FROM orders;
SELECT p.city, count(DISTINCT o.item) FROM people p JOIN orders o ON o.person = p.id
  GROUP BY p.city ORDER BY p.city;
""")


if __name__ == "__main__":
    main()
