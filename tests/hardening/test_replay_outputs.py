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
