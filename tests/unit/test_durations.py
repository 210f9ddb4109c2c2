import pytest

from services.common.durations import parse_duration


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800),
                                          ("2w", 1209600), ("1.5h", 5400), ("45", 45)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["0s", "", "7x", "-1d", "1e3s", "1" * 400 + "d", "9" * 400,
                                 "\u0663d", "\uff13h", "1\u0660s", "7d\u2003"])
def test_what_is_not_a_positive_finite_duration_is_refused(bad):
    with pytest.raises(ValueError) as err:
        parse_duration(bad)
    assert len(str(err.value)) < 120  # the text is quoted, cut short
