import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.student.levels import LevelCurve

CURVE = LevelCurve()


@pytest.mark.parametrize(
    ("level", "xp"),
    [(1, 0), (2, 1_000), (10, 27_000), (50, 343_000), (100, 985_037)],
)
def test_default_curve_matches_the_spec(level, xp):
    assert CURVE.xp_for_level(level) == xp
    assert CURVE.level_for_xp(xp) == level
    assert CURVE.level_for_xp(xp - 1) == level - 1 or level == 1


def test_level_is_capped_at_max_level():
    assert CURVE.level_for_xp(10**12) == 100
    assert CURVE.xp_for_level(150) == CURVE.xp_for_level(100)


def test_negative_or_zero_xp_is_level_one():
    assert CURVE.level_for_xp(0) == 1
    assert CURVE.level_for_xp(-50) == 1


def test_progress_reports_xp_inside_the_level_and_its_span():
    assert CURVE.progress(1_500) == (2, 500, CURVE.xp_for_level(3) - 1_000)
    assert CURVE.progress(0) == (1, 0, 1_000)


def test_progress_at_the_cap_has_nothing_left_to_earn():
    assert CURVE.progress(2_000_000) == (100, 2_000_000 - 985_037, 0)


def test_geometric_curve_makes_each_step_cost_multiplier_times_the_previous():
    curve = LevelCurve("geometric", threshold=1000, multiplier=1.5, max_level=100)
    assert curve.xp_for_level(2) == 1_000
    assert curve.xp_for_level(3) == 2_500
    assert curve.xp_for_level(4) == 4_750
    assert 10**11 < curve.xp_for_level(50) < 10**13  # "about 10^12": out of reach


def test_geometric_curve_with_multiplier_one_is_linear():
    curve = LevelCurve("geometric", threshold=500, multiplier=1, max_level=10)
    assert [curve.xp_for_level(level) for level in (1, 2, 3, 10)] == [0, 500, 1000, 4500]


def test_a_curve_that_does_not_increase_is_refused():
    with pytest.raises(ValueError, match="not increasing"):
        LevelCurve("power", threshold=1, multiplier=0.01, max_level=100)


def test_unknown_curve_kind_is_refused():
    with pytest.raises(ValueError, match="unknown level curve kind"):
        LevelCurve("linear")  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2_000_000), st.integers(min_value=0, max_value=500_000))
def test_level_never_decreases_as_xp_grows(xp, more):
    assert CURVE.level_for_xp(xp) <= CURVE.level_for_xp(xp + more)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["power", "geometric"]),
    st.integers(min_value=10, max_value=5_000),
    st.floats(min_value=1.05, max_value=2.5),
    st.integers(min_value=2, max_value=120),
)
def test_every_curve_is_increasing_and_consistent_with_level_for_xp(kind, threshold, multiplier, max_level):
    curve = LevelCurve(kind, threshold=threshold, multiplier=multiplier, max_level=max_level)
    for level in range(2, max_level + 1):
        assert curve.xp_for_level(level) > curve.xp_for_level(level - 1)
        assert curve.level_for_xp(curve.xp_for_level(level)) == level
        assert curve.level_for_xp(curve.xp_for_level(level) - 1) == level - 1
