"""Detection quality: replay the benchmark corpora through `anomalywatch replay`'s code and score.

    python -m bench.quality --corpus var/bench/corpus --donut ../shared/bench/real/donut

For each corpus: every series CSV is replayed with the live defaults (a fresh engine per corpus),
results go to --work/<corpus>/scores, and ../shared/bench/score.py scores them twice: the raw
anomaly_score (best threshold chosen by the scorer) and the service's own decisions (1 where a
severity is given, else 0), so the default sensitivity can be compared with the best threshold.
The detector reads only the series CSVs (never labels.json or series.json).
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import time

from cli.replay import replay_files

SUMMARY = re.compile(r"(\w+)=([-\d.]+)")


def series_files(corpus: str) -> list[str]:
    return sorted(os.path.join(corpus, f) for f in os.listdir(corpus) if f.endswith(".csv"))


def run_scorer(scorer: str, corpus: str, results: str, details: bool) -> dict[str, float]:
    """Run score.py, return the numbers of its last line."""
    proc = subprocess.run([sys.executable, scorer, corpus, results], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"score.py failed on {results}: {proc.stderr.strip()}")
    if details:
        print(proc.stdout)
    last = proc.stdout.strip().splitlines()[-1]
    return {k: float(v) for k, v in SUMMARY.findall(last)}


def write_decisions(results: str, decisions: str) -> None:
    """Copy of each result file whose anomaly_score is 1 where severity is set, else 0."""
    os.makedirs(decisions, exist_ok=True)
    for name in os.listdir(results):
        if not name.endswith(".csv"):
            continue
        with open(os.path.join(results, name), newline="") as src:
            rows = list(csv.reader(src))
        head = rows[0]
        i_score, i_sev = head.index("anomaly_score"), head.index("severity")
        with open(os.path.join(decisions, name), "w", newline="") as dst:
            w = csv.writer(dst, lineterminator="\n")
            w.writerow(head)
            for r in rows[1:]:
                r[i_score] = "1" if r[i_sev] else "0"
                w.writerow(r)


def evaluate(name: str, corpus: str, work: str, scorer: str, details: bool) -> dict[str, object]:
    results = os.path.join(work, name, "scores")
    decisions = os.path.join(work, name, "decisions")
    t0 = time.perf_counter()
    replayed = replay_files(series_files(corpus), results, extra_type_column=True)
    elapsed = time.perf_counter() - t0
    rows = sum(len(b) for _, b in replayed)
    best = run_scorer(scorer, corpus, results, details)
    write_decisions(results, decisions)
    own = run_scorer(scorer, corpus, decisions, False)
    return {"name": name, "rows": rows, "seconds": elapsed, "best": best, "own": own}


def print_table(rows: list[dict[str, object]]) -> None:
    print()
    print(f"{'corpus':<8}{'rows':>8}{'replay s':>9} | {'nab_std':>7}{'nab_lfp':>8}{'nab_lfn':>8} | "
          f"{'best-threshold F1':>17}{'P':>7}{'R':>7} | {'service F1':>10}{'P':>7}{'R':>7}{'nab_std':>8}")
    for r in rows:
        b, o = r["best"], r["own"]
        print(f"{r['name']:<8}{r['rows']:>8}{r['seconds']:>9.1f} | {b['nab_standard']:>7.1f}"
              f"{b['nab_low_fp']:>8.1f}{b['nab_low_fn']:>8.1f} | {b['f1']:>17.3f}{b['precision']:>7.3f}"
              f"{b['recall']:>7.3f} | {o['f1']:>10.3f}{o['precision']:>7.3f}{o['recall']:>7.3f}"
              f"{o['nab_standard']:>8.1f}")
    print("targets: dev nab_standard >= 60 and F1 >= 0.6; donut nab_standard >= 40 "
          "(reference rolling z-score: dev 18.8 / F1 0.194)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="var/bench/corpus", help="dev corpus (gen_corpus.py --seed 1)")
    ap.add_argument("--donut", default="../shared/bench/real/donut", help="real labelled KPIs")
    ap.add_argument("--scorer", default="../shared/bench/score.py")
    ap.add_argument("--work", default="var/bench/quality", help="where result CSVs are written")
    ap.add_argument("--details", action="store_true", help="print score.py's full report")
    a = ap.parse_args(argv)
    out = []
    for name, corpus in (("dev", a.corpus), ("donut", a.donut)):
        if corpus:
            out.append(evaluate(name, corpus, a.work, a.scorer, a.details))
    print_table(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
