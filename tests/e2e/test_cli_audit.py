"""The command-line tool's offline readers as a user feeds them: spreadsheet exports and stdin."""
from __future__ import annotations

import io

from cli.forecast import read_series

ROWS = "".join(f"{1_700_000_000 + 60 * i},{10 + i % 3}\n" for i in range(12))


def test_forecast_reads_the_first_row_of_a_headerless_file_with_a_byte_order_mark():
    """The mark made the first row unreadable, so it was taken for a header and its point dropped
    without a word: the forecast came from one point fewer than the file has."""
    plain = read_series(io.StringIO(ROWS))
    marked = read_series(io.StringIO("\ufeff" + ROWS))
    assert len(plain[0]) == 12 and marked == plain
    headed = read_series(io.StringIO("\ufefftimestamp,value\n" + ROWS))
    assert headed == plain
