"""`anomalywatch forecast FILE.csv --horizon H [--model M] [--confidence C]`.

Reads a `timestamp,value` CSV (a header row is optional; timestamps are ISO 8601 with or without a
zone, none meaning UTC, a space accepted for the `T`, or unix seconds) and forecasts it offline
with the service's own code (`services.forecast.forecaster.forecast`). Prints CSV
`timestamp,value,lower,upper` with a header, timestamps ISO 8601 UTC with `Z`; the model used goes
to stderr. Errors go to stderr with exit code 2.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from cli.csv_fields import parse_number, parse_timestamp, shown

EXIT_ERROR = 2


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("forecast", help="forecast a timestamp,value CSV offline",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE.csv", help="timestamp,value CSV ('-' for stdin)")
    p.add_argument("--horizon", required=True,
                   help="a number of steps or a duration: 90s, 30m, 24h, 7d, 2w")
    p.add_argument("--model", default="auto", help="model name (default auto)")
    p.add_argument("--confidence", default="0.95", help="interval confidence, 0.5 to 0.999")
    p.set_defaults(handler=run)


def format_timestamp(seconds: float) -> str:
    from datetime import UTC, datetime

    dt = datetime.fromtimestamp(round(seconds, 6), tz=UTC)
    text = dt.isoformat(timespec="milliseconds" if dt.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def read_series(lines: Any) -> tuple[list[float], list[float]]:
    """Timestamps and values of a `timestamp,value` CSV; a first row that is not data is a header."""
    import csv

    ts: list[float] = []
    vs: list[float] = []
    for lineno, row in enumerate(csv.reader(lines), start=1):
        if lineno == 1 and row:  # a spreadsheet's byte-order mark: a headerless first row lost its data
            row[0] = row[0].removeprefix("\ufeff")
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < 2:
            raise ValueError(f"line {lineno}: expected timestamp,value")
        try:
            t = _printable_time(parse_timestamp(row[0]), row[0])
            v = parse_number(row[1])
        except ValueError as exc:
            if lineno == 1 and not ts:
                continue  # the header
            raise ValueError(f"line {lineno}: {exc}") from None
        ts.append(t)
        vs.append(v)
    return ts, vs


def _printable_time(seconds: float, text: str) -> float:
    """A time the output's ISO 8601 can show (0001-01-01 to 9999-12-31); ValueError otherwise."""
    from services.common.timeutil import representable

    if not representable(seconds):
        raise ValueError(f"timestamp {shown(text)} is outside 0001-01-01 to 9999-12-31")
    return seconds


def run(args: argparse.Namespace) -> int:
    import csv

    import numpy as np

    from services.forecast.errors import ForecastError
    from services.forecast.forecaster import forecast

    try:
        if args.file == "-":
            ts, vs = read_series(sys.stdin)
        else:
            with open(args.file, newline="", encoding="utf-8") as fh:
                ts, vs = read_series(fh)
        confidence = _number(args.confidence)
        result = forecast(np.array(ts, dtype=np.float64), np.array(vs, dtype=np.float64),
                          args.horizon, model=args.model, confidence=confidence)
    except (OSError, ValueError) as exc:  # ForecastError is a ValueError
        code = exc.code + ": " if isinstance(exc, ForecastError) else ""
        print(f"anomalywatch forecast: {code}{exc}", file=sys.stderr)
        return EXIT_ERROR
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["timestamp", "value", "lower", "upper"])
    for t, v, lo, hi in zip(result.timestamps, result.values, result.lower, result.upper, strict=True):
        out.writerow([format_timestamp(float(t)), f"{v:.10g}", f"{lo:.10g}", f"{hi:.10g}"])
    print(f"model {result.model}, step {result.step_seconds:g} s, confidence {result.confidence}",
          file=sys.stderr)
    return 0


def _number(text: str) -> float:
    try:
        return parse_number(text)
    except ValueError:
        raise ValueError(f"confidence {shown(text)} is not a number") from None
