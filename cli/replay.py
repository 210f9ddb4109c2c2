"""`anomalywatch replay FILE... [--out DIR]`: score `timestamp,value` CSVs offline with the live
service's engine and defaults (DetectorConfig.default()), one series per file, in one process."""
from __future__ import annotations

import argparse
import codecs
import csv
import itertools
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cli.csv_fields import parse_number, parse_timestamp, shown

if TYPE_CHECKING:       # heavy imports stay inside the handler (see cli/main.py)
    import numpy as np

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


# CSV's line breaks; str.splitlines also breaks at form feeds, U+2028 and other separators,
# which split a row in two (both maybe read as rows) and put every later line number off
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


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
        lines = _LINE_BREAK.split(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        line = len(_LINE_BREAK.findall(data[:e.start].decode("utf-8"))) + 1
        raise ReplayError(f"{path}:{line}: not UTF-8 (byte 0x{data[e.start]:02x}); "
                          "save the file as UTF-8") from None
    try:
        header = [h.strip().lower() for h in _fields(lines[0])]
    except ValueError:
        header = []
    if header[:2] != ["timestamp", "value"]:
        raise ReplayError(f"{path}:1: expected the header 'timestamp,value'")
    sf = SeriesFile(path, [], [], [], [])
    for lineno, line in enumerate(itertools.islice(lines, 1, None), start=2):
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


ROWS_PER_PIECE = 50_000


def _numbers(column: np.ndarray) -> list[str]:
    """Each number's shortest round-trip text; NaN -> empty."""
    return ["" if text == "nan" else text for text in map(repr, column.tolist())]


def format_pieces(sf: SeriesFile, batch: ScoreBatch,
                  extra: dict[str, list[str]] | None = None) -> Iterator[str]:
    """Result CSV text, HEADER (+ extra columns) then one row per input row, in pieces of
    ROWS_PER_PIECE rows: a file of millions of rows is never held whole as text, and each column
    is formatted in one pass (a Python loop per row took 5 s per million rows)."""
    import numpy as np

    extra = extra or {}
    yield ",".join((*HEADER, *extra)) + "\n"
    severities, types = batch.severity_names(), batch.type_names()
    for start in range(0, len(batch), ROWS_PER_PIECE):
        part = slice(start, start + ROWS_PER_PIECE)
        columns = [sf.raw_ts[part], sf.raw_values[part],
                   _numbers(np.where(batch.skipped[part], np.nan, batch.score[part])),
                   [name or "" for name in severities[part]], [name or "" for name in types[part]],
                   *(_numbers(c[part]) for c in (batch.mean, batch.std, batch.lower, batch.upper)),
                   *(values[part] for values in extra.values())]
        yield "".join(f"{row}\n" for row in map(",".join, zip(*columns, strict=True)))


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
        pieces = format_pieces(sf, batch, extra)
        if out_dir:
            target = os.path.join(out_dir, os.path.basename(sf.path))
            try:
                with open(target, "w", encoding="utf-8") as fh:
                    fh.writelines(pieces)
            except OSError as e:
                raise ReplayError(f"{target}: cannot write: {e.strerror or e}") from None
        else:
            sys.stdout.writelines(pieces)
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
