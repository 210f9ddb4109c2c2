"""`anomalywatch replay FILE... [--out DIR]`: score `timestamp,value` CSVs offline with the live
service's engine and defaults (DetectorConfig.default()), one series per file, in one process."""
from __future__ import annotations

import argparse
import codecs
import csv
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cli.csv_fields import parse_number, parse_timestamp, shown

if TYPE_CHECKING:       # heavy imports stay inside the handler (see cli/main.py)
    from services.detect.engine import DetectionEngine, ScoreBatch

HEADER = ("timestamp", "value", "anomaly_score", "severity", "type", "baseline_mean", "baseline_std",
          "lower", "upper")


class ReplayError(ValueError):
    """A file that cannot be replayed; the message names the file and line."""


@dataclass
class SeriesFile:
    path: str
    raw_ts: list[str]          # timestamps as given (echoed in the output)
    raw_values: list[str]      # values as given
    ts: list[float]            # unix seconds
    values: list[float]


def _fields(line: str) -> list[str]:
    """A line's CSV fields: spreadsheets quote them ("2024-03-05 00:00:00","12.5"). ValueError for
    a quoted field the csv module will not read (over its 128 KiB field limit)."""
    if '"' not in line:
        return line.split(",")
    try:
        return next(csv.reader([line]), [])
    except csv.Error as e:
        raise ValueError(str(e)) from None


def read_series(path: str) -> SeriesFile:
    """Read a `timestamp,value` CSV; ReplayError naming the file and line on a bad row."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise ReplayError(f"{path}: cannot read: {e.strerror or e}") from None
    data = data.removeprefix(codecs.BOM_UTF8)  # spreadsheet exports start with one; not the header's
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ReplayError(f"{path}:{line}: not UTF-8 (byte 0x{data[e.start]:02x}); "
                          "save the file as UTF-8") from None
    try:
        header = [h.strip().lower() for h in _fields(lines[0])] if lines else []
    except ValueError:
        header = []
    if header[:2] != ["timestamp", "value"]:
        raise ReplayError(f"{path}:1: expected the header 'timestamp,value'")
    sf = SeriesFile(path, [], [], [], [])
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            parts = _fields(line)
        except ValueError as e:
            raise ReplayError(f"{path}:{lineno}: unreadable CSV ({e})") from None
        if len(parts) != 2:
            raise ReplayError(f"{path}:{lineno}: expected 2 fields 'timestamp,value', got {len(parts)}")
        raw_t, raw_v = parts[0].strip(), parts[1].strip()
        try:
            t = parse_timestamp(raw_t)
        except ValueError as e:
            raise ReplayError(f"{path}:{lineno}: {e}") from None
        try:
            v = parse_number(raw_v)
        except ValueError:
            raise ReplayError(f"{path}:{lineno}: invalid value {shown(raw_v)}") from None
        sf.raw_ts.append(raw_t)
        sf.raw_values.append(raw_v)
        sf.ts.append(t)
        sf.values.append(v)
    return sf


def score_series(engine: DetectionEngine, sf: SeriesFile, series_id: str) -> ScoreBatch:
    """Score one file as one series with the default configuration."""
    import numpy as np

    from services.detect.engine import DetectorConfig

    n = len(sf.ts)
    return engine.score([series_id] * n, np.array(sf.ts, dtype=np.float64),
                        np.array(sf.values, dtype=np.float64), {series_id: DetectorConfig.default()})


def _num(v: float) -> str:
    return "" if v != v else repr(float(v))     # shortest round-trip text; NaN -> empty


def format_rows(sf: SeriesFile, batch: ScoreBatch, extra: dict[str, list[str]] | None = None) -> str:
    """Result CSV text: HEADER (+ extra columns), one row per input row."""
    sev = batch.severity_names()
    typ = batch.type_names()
    cols = list(zip(batch.score.tolist(), batch.mean.tolist(), batch.std.tolist(),
                    batch.lower.tolist(), batch.upper.tolist(), batch.skipped.tolist(), strict=True))
    extra = extra or {}
    out = [",".join((*HEADER, *extra))]
    extra_cols = list(extra.values())
    for i, (score, mean, std, lo, hi, skipped) in enumerate(cols):
        fields = [sf.raw_ts[i], sf.raw_values[i], "" if skipped else _num(score), sev[i] or "",
                  typ[i] or "", _num(mean), _num(std), _num(lo), _num(hi)]
        fields.extend(c[i] for c in extra_cols)
        out.append(",".join(fields))
    return "\n".join(out) + "\n"


def replay_files(paths: list[str], out_dir: str | None, engine: DetectionEngine | None = None,
                 extra_type_column: bool = False) -> list[tuple[SeriesFile, ScoreBatch]]:
    """Replay every file (all read first, so a bad file fails before anything is written);
    write DIR/<file name> or print to stdout. Returns the parsed files and their scores."""
    from services.detect.engine import DetectionEngine

    engine = engine or DetectionEngine()
    series = [read_series(p) for p in paths]
    if out_dir:
        _check_out_names(paths, out_dir)
        try:
            os.makedirs(out_dir, exist_ok=True)
        except OSError as e:
            raise ReplayError(f"{out_dir}: cannot create the output directory: {e.strerror or e}") from None
    results = []
    for i, sf in enumerate(series):
        batch = score_series(engine, sf, f"replay:{i}:{sf.path}")
        extra = {"anomaly_type": [t or "" for t in batch.type_names()]} if extra_type_column else None
        text = format_rows(sf, batch, extra)
        if out_dir:
            target = os.path.join(out_dir, os.path.basename(sf.path))
            try:
                with open(target, "w", encoding="utf-8") as fh:
                    fh.write(text)
            except OSError as e:
                raise ReplayError(f"{target}: cannot write: {e.strerror or e}") from None
        else:
            sys.stdout.write(text)
        results.append((sf, batch))
    return results


def _check_out_names(paths: list[str], out_dir: str) -> None:
    """Each output is DIR/<file name>: two inputs of one name would silently overwrite each other,
    and an input in DIR itself would be replaced by its scores."""
    seen: dict[str, str] = {}
    inputs = {os.path.realpath(path) for path in paths}
    for path in paths:
        name = os.path.basename(path)
        target = os.path.join(out_dir, name)
        if name in seen:
            raise ReplayError(f"{seen[name]} and {path} would both be written to "
                              f"{target}; rename one or replay them separately")
        if os.path.realpath(target) in inputs:
            raise ReplayError(f"{target} is an input: writing the scores there would replace it; "
                              "choose another --out")
        seen[name] = path


def _handler(args: argparse.Namespace) -> int:
    try:
        replay_files(args.files, args.out)
    except ReplayError as e:
        print(f"replay: error: {e}", file=sys.stderr)
        return 2
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("replay", help="score timestamp,value CSV files offline like the live service",
                              description=__doc__)
    p.add_argument("files", nargs="+", metavar="FILE", help="CSV with header timestamp,value")
    p.add_argument("--out", metavar="DIR", help="write DIR/<file name> instead of printing")
    p.set_defaults(handler=_handler)
