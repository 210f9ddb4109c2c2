"""`anomalywatch replay` on awkward files and output directories: a clear one-line error and exit
2, never a traceback; files that are fine (a byte-order mark) are replayed."""
from __future__ import annotations

import csv
import io

import pytest

from cli.main import main
from cli.replay import HEADER

ROWS = "".join(f"2024-03-05T00:{i:02d}:00Z,{10 + i % 3}\n" for i in range(30))


def test_a_utf8_byte_order_mark_is_not_part_of_the_header(tmp_path, capsys):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbftimestamp,value\r\n" + ROWS.replace("\n", "\r\n").encode())
    assert main(["replay", str(path)]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert tuple(rows[0]) == HEADER and len(rows) == 31 and rows[1][0] == "2024-03-05T00:00:00Z"


def test_a_file_that_is_not_utf8_is_an_error_naming_the_line(tmp_path, capsys):
    path = tmp_path / "latin1.csv"
    path.write_bytes(("timestamp,value\n" + ROWS).encode() + "2024-03-05T01:00:00Z,café\n".encode("latin-1"))
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:32: not UTF-8" in err and "Traceback" not in err


def test_a_megabyte_field_is_cut_short_in_the_message(tmp_path, capsys):
    path = tmp_path / "long.csv"
    path.write_text("timestamp,value\n2024-03-05T00:00:00Z," + "1x" * 500_000 + "\n")
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2: invalid value" in err and "(1000000 characters)" in err and len(err) < 300


def test_an_output_directory_that_cannot_be_made_or_written_is_an_error(tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_text("timestamp,value\n" + ROWS)
    for out in (good, good / "sub"):  # a file, and a path under a file
        assert main(["replay", str(good), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"replay: error: {out}: cannot create") and "Traceback" not in err
    blocked = tmp_path / "out"
    (blocked / "good.csv").mkdir(parents=True)  # the output file's place is taken by a directory
    assert main(["replay", str(good), "--out", str(blocked)]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_two_inputs_of_one_name_are_refused_before_anything_is_written(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "x.csv", tmp_path / "b" / "x.csv"
    first.write_text("timestamp,value\n" + ROWS)
    second.write_text("timestamp,value\n" + ROWS)
    out = tmp_path / "out"
    assert main(["replay", str(first), str(second), "--out", str(out)]) == 2
    assert "would both be written to" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(("row", "what"), [("2024-03-05T01:00:00Z,1_000", "invalid value"),
                                            ("2024-03-05T01:00:00Z,\u0661\u0662", "invalid value"),
                                            ("1709600400,0x10", "invalid value"),
                                            ("1_709_600_400,5", "invalid timestamp"),
                                            ("\u0661\u0667\u0660\u0669\u0666\u0660\u0660\u0664\u0660\u0660,5",
                                             "invalid timestamp")])
def test_numbers_are_plain_ascii_decimals(tmp_path, capsys, row, what):
    """float() also reads '1_000' and any script's digits ('١٢' is 12): a CSV number is ASCII."""
    path = tmp_path / "digits.csv"
    path.write_text("timestamp,value\n" + ROWS + row + "\n", encoding="utf-8")
    assert main(["replay", str(path)]) == 2
    assert f"{path}:32: {what}" in capsys.readouterr().err


def test_plain_decimals_in_every_spelling_are_read(tmp_path, capsys):
    path = tmp_path / "plain.csv"
    rows = ["1709600400,5", "1709600460.5,-2.5e3", "1709600520,+.5", "1709600580,7.", "1709600640,1E-3"]
    path.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    assert main(["replay", str(path)]) == 0
    values = [r[1] for r in list(csv.reader(io.StringIO(capsys.readouterr().out)))[1:]]
    assert [float(v) for v in values] == [5.0, -2500.0, 0.5, 7.0, 0.001]


def test_quoted_fields_as_spreadsheets_write_them_are_read(tmp_path, capsys):
    path = tmp_path / "quoted.csv"
    rows = "".join(f'"2024-03-05 00:{i:02d}:00","{10 + i % 3}"\n' for i in range(30))
    path.write_text('"timestamp","value"\n' + rows)
    assert main(["replay", str(path)]) == 0
    out = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert tuple(out[0]) == HEADER and len(out) == 31
    assert out[1][:2] == ["2024-03-05 00:00:00", "10"]


def test_a_quoted_megabyte_field_is_a_one_line_error(tmp_path, capsys):
    path = tmp_path / "quoted-long.csv"
    path.write_text('timestamp,value\n"2024-03-05T00:00:00Z","' + "1" * 1_000_000 + '"\n')
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2: unreadable CSV" in err and "Traceback" not in err and len(err) < 300
