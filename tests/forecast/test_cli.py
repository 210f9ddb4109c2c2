import math

import pytest

from cli.forecast import format_timestamp, parse_timestamp
from cli.main import main


def write_csv(path, rows, header=True):
    lines = (["timestamp,value"] if header else []) + [f"{t},{v}" for t, v in rows]
    path.write_text("\n".join(lines) + "\n")


def series(n=24 * 8, fmt=lambda i: f"2024-01-{1 + i // 24:02d}T{i % 24:02d}:00:00Z"):
    return [(fmt(i), round(10 + 3 * math.sin(2 * math.pi * i / 24) + 0.3 * math.sin(i), 4))
            for i in range(n)]


@pytest.mark.parametrize("text,expected", [
    ("2024-01-01T00:00:00Z", 1704067200.0),
    ("2024-01-01 00:00:00", 1704067200.0),
    ("2024-01-01T01:00:00+01:00", 1704067200.0),
    ("2024-01-01", 1704067200.0),
    ("1704067200", 1704067200.0),
    ("1704067200.5", 1704067200.5),
])
def test_parse_timestamp(text, expected):
    assert parse_timestamp(text) == expected


def test_format_timestamp():
    assert format_timestamp(1704067200.0) == "2024-01-01T00:00:00Z"
    assert format_timestamp(1704067200.25) == "2024-01-01T00:00:00.250Z"


def test_cli_prints_forecast_csv(tmp_path, capsys):
    f = tmp_path / "s.csv"
    write_csv(f, series())
    assert main(["forecast", str(f), "--horizon", "6h", "--confidence", "0.9"]) == 0
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert lines[0] == "timestamp,value,lower,upper"
    assert len(lines) == 7
    assert lines[1].startswith("2024-01-09T00:00:00Z,")
    assert lines[6].startswith("2024-01-09T05:00:00Z,")
    for line in lines[1:]:
        _, v, lo, hi = line.split(",")
        assert float(lo) <= float(v) <= float(hi)
    assert "auto(" in err


def test_cli_accepts_unix_seconds_without_header_and_spaces(tmp_path, capsys):
    f = tmp_path / "s.csv"
    write_csv(f, series(fmt=lambda i: str(1704067200 + 3600 * i)), header=False)
    assert main(["forecast", str(f), "--horizon", "3", "--model", "seasonal_naive"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("2024-01-09T00:00:00Z,")
    g = tmp_path / "t.csv"
    write_csv(g, series(fmt=lambda i: f"2024-01-{1 + i // 24:02d} {i % 24:02d}:00:00"))
    assert main(["forecast", str(g), "--horizon", "2h"]) == 0


@pytest.mark.parametrize("args,needle", [
    (["--horizon", "6h", "--model", "timesfm-v2"], "MODEL_UNAVAILABLE"),
    (["--horizon", "6h", "--model", "nope"], "unknown model"),
    (["--horizon", "6h", "--confidence", "1.5"], "confidence"),
    (["--horizon", "6h", "--confidence", "high"], "confidence"),
    (["--horizon", "9999h"], "at most 5000"),
    (["--horizon", "soon"], "horizon"),
])
def test_cli_errors_exit_2(tmp_path, capsys, args, needle):
    f = tmp_path / "s.csv"
    write_csv(f, series())
    assert main(["forecast", str(f), *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and needle in err


def test_cli_bad_files_exit_2(tmp_path, capsys):
    assert main(["forecast", str(tmp_path / "missing.csv"), "--horizon", "1"]) == 2
    f = tmp_path / "short.csv"
    write_csv(f, series(n=5))
    assert main(["forecast", str(f), "--horizon", "1"]) == 2
    assert "INSUFFICIENT_DATA" in capsys.readouterr().err
    g = tmp_path / "bad.csv"
    write_csv(g, series(n=30) + [("yesterday", 3)])
    assert main(["forecast", str(g), "--horizon", "1"]) == 2
    assert "line 32" in capsys.readouterr().err


@pytest.mark.parametrize("row", [("2024-01-09T00:00:00Z", "1_000"), ("2024-01-09T00:00:00Z", "\u0661\u0662"),
                                 ("1_704_758_400", 3), ("2024-01-09T00:00:00Z", "nan"),
                                 ("2024-01-09T00:00:00Z", "inf")])
def test_numbers_in_the_file_are_plain_finite_ascii_decimals(tmp_path, capsys, row):
    """As replay reads them (cli.csv_fields): float() took '1_000', '١٢' and 'nan'."""
    f = tmp_path / "digits.csv"
    write_csv(f, series() + [row])
    assert main(["forecast", str(f), "--horizon", "1"]) == 2
    assert f"line {len(series()) + 2}" in capsys.readouterr().err


@pytest.mark.parametrize("stamp", ["1e15", "-1e15", "253402300800"])
def test_a_time_no_timestamp_holds_is_a_line_error(tmp_path, capsys, stamp):
    """Times outside 0001-01-01 to 9999-12-31 cannot be printed back: refused as the line they are on."""
    f = tmp_path / "far.csv"
    write_csv(f, series() + [(stamp, 3)])
    assert main(["forecast", str(f), "--horizon", "1"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and f"line {len(series()) + 2}" in err and "Traceback" not in err


def test_a_horizon_running_past_the_year_9999_exits_2(tmp_path, capsys):
    f = tmp_path / "late.csv"
    write_csv(f, [(f"{9980 + i}-01-01T00:00:00Z", i % 3) for i in range(19)])
    assert main(["forecast", str(f), "--horizon", "30", "--model", "seasonal_naive"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "9999-12-31" in err and "horizon" in err
