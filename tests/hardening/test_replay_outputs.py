"""`anomalywatch replay --out DIR` never writes over one of its own inputs."""
from __future__ import annotations

from cli.main import main

ROWS = "".join(f"2024-03-05T00:{i:02d}:00Z,{10 + i % 3}\n" for i in range(30))


def test_an_output_that_would_replace_an_input_is_refused_before_anything_is_written(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    first, second = data / "a.csv", tmp_path / "b.csv"
    for path in (first, second):
        path.write_text("timestamp,value\n" + ROWS)
    assert main(["replay", str(second), str(first), "--out", str(data)]) == 2
    err = capsys.readouterr().err
    assert f"{data / 'a.csv'} is an input" in err and "Traceback" not in err
    assert first.read_text() == "timestamp,value\n" + ROWS
    assert not (data / "b.csv").exists()


def test_rows_are_the_same_whatever_the_pieces_they_are_written_in(tmp_path, monkeypatch):
    """Rows are formatted column by column in pieces; a row never straddles two or shifts, and a
    point the engine skipped (a repeated or earlier time) keeps its place with no score."""
    from cli import replay

    path = tmp_path / "a.csv"
    times = [1709596800 + 60 * i for i in range(40)]
    times[10], times[20] = times[9], times[5]  # a repeat and an earlier time: skipped
    path.write_text("timestamp,value\n" + "".join(f"{t},{10 + i % 3}\n" for i, t in enumerate(times)))
    (sf, batch), = replay.replay_files([str(path)], str(tmp_path / "whole"))
    monkeypatch.setattr(replay, "ROWS_PER_PIECE", 7)
    replay.replay_files([str(path)], str(tmp_path / "pieces"))
    whole = (tmp_path / "whole" / "a.csv").read_text()
    assert (tmp_path / "pieces" / "a.csv").read_text() == whole
    rows = [line.split(",") for line in whole.splitlines()[1:]]
    assert [int(r[0]) for r in rows] == times
    assert [i for i, r in enumerate(rows) if r[2] == ""] == [10, 20] == batch.skipped.nonzero()[0].tolist()
    assert [float(r[2]) for r in rows if r[2]] == batch.score[~batch.skipped].tolist()


def test_lines_break_where_csv_breaks_them_and_errors_name_that_line(tmp_path, capsys):
    """Only CR, LF and CRLF end a line: a form feed or U+2028 inside a row is part of its field."""
    path = tmp_path / "odd.csv"
    rows = ROWS.splitlines()
    path.write_text("timestamp,value\r\n" + "\r".join(rows[:3]) + "\r\n" + rows[3] + "\u20281709600400,5\n"
                    + "\n".join(rows[4:]) + "\n", encoding="utf-8", newline="")
    assert main(["replay", str(path)]) == 2
    assert f"{path}:5: expected 2 fields" in capsys.readouterr().err  # not read as two rows
    path.write_bytes(b"timestamp,value\r" + "\r".join(rows).encode() + b"\r2024-03-05T01:00:00Z,caf\xe9\r")
    assert main(["replay", str(path)]) == 2
    assert f"{path}:32: not UTF-8" in capsys.readouterr().err
