"""`anomalywatch replay`: parsing, output format, errors, same scores as the engine."""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from cli.main import main
from cli.replay import HEADER, parse_timestamp
from services.detect.engine import DetectionEngine, DetectorConfig


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-03-05T10:05:00Z", 1709633100.0),
    ("2024-03-05T10:05:00+00:00", 1709633100.0),
    ("2024-03-05T11:05:00+01:00", 1709633100.0),
    ("2024-03-05T10:05:00", 1709633100.0),          # no zone: UTC
    ("2024-03-05 10:05:00", 1709633100.0),          # space instead of T
    ("2024-03-05", 1709596800.0),                   # date alone: midnight UTC
    ("1709633100", 1709633100.0),
    ("1709633100.25", 1709633100.25),
])
def test_parse_timestamp(text, expected):
    assert parse_timestamp(text) == expected


def write_series(path, n=400, spike_at=300, fmt="iso"):
    rng = np.random.default_rng(0)
    t0 = 1709596800
    lines = ["timestamp,value"]
    for i in range(n):
        v = 10 + rng.standard_normal() + (30 if i == spike_at else 0)
        t = t0 + 60 * i
        ts = {"iso": np.datetime_as_string(np.datetime64(t, "s")) + "Z", "unix": str(t)}[fmt]
        lines.append(f"{ts},{v:.4f}")
    path.write_text("\n".join(lines) + "\n")
    return lines


def test_replay_writes_one_row_per_input_row_with_the_engine_scores(tmp_path, capsys):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    lines_a = write_series(a)
    write_series(b, fmt="unix", spike_at=350)
    out = tmp_path / "out"
    assert main(["replay", str(a), str(b), "--out", str(out)]) == 0
    rows = list(csv.reader(open(out / "a.csv")))
    assert tuple(rows[0]) == HEADER
    assert len(rows) == len(lines_a)
    assert [r[0] for r in rows[1:]] == [ln.split(",")[0] for ln in lines_a[1:]]   # echoed as given
    spike = rows[301]
    assert spike[3] in ("info", "warning", "critical") and spike[4] == "spike"
    # exactly the engine with the live defaults
    ts = np.array([1709596800 + 60 * i for i in range(400)], float)
    vals = np.array([float(ln.split(",")[1]) for ln in lines_a[1:]])
    want = DetectionEngine().score(["x"] * 400, ts, vals, {"x": DetectorConfig.default()})
    np.testing.assert_array_equal([float(r[2]) for r in rows[1:]], want.score)
    rows_b = list(csv.reader(open(out / "b.csv")))
    assert rows_b[351][4] == "spike"


def test_replay_prints_to_stdout(tmp_path, capsys):
    a = tmp_path / "a.csv"
    write_series(a, n=50)
    assert main(["replay", str(a)]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert tuple(rows[0]) == HEADER and len(rows) == 51


@pytest.mark.parametrize(("body", "line", "msg"), [
    ("timestamp,value\n2024-01-01T00:00:00Z,1\nyesterday,2\n", 3, "invalid timestamp"),
    ("timestamp,value\n2024-01-01T00:00:00Z,abc\n", 2, "invalid value"),
    ("timestamp,value\n2024-01-01T00:00:00Z,nan\n", 2, "invalid value"),
    ("timestamp,value\n2024-01-01T00:00:00Z\n", 2, "expected 2 fields"),
    ("time,val\n", 1, "header"),
])
def test_bad_rows_name_file_and_line_and_exit_2(tmp_path, capsys, body, line, msg):
    bad = tmp_path / "bad.csv"
    bad.write_text(body)
    good = tmp_path / "good.csv"
    write_series(good, n=20)
    out = tmp_path / "out"
    assert main(["replay", str(good), str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:{line}:" in err and msg in err
    assert not (out / "good.csv").exists()          # nothing written when a file is bad


def test_missing_file_is_an_error(tmp_path, capsys):
    assert main(["replay", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv" in capsys.readouterr().err
