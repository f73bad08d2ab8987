"""analytics.correlation: exact constructed correlations and betas, session alignment (NYSE holidays from the
calendar library), forward-fill bias, short-input reasons, band, breaks, decoupling flags, properties."""

from __future__ import annotations

import math
import warnings

import exchange_calendars as xcals
import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from analytics import correlation as ac

DAY = pd.Timedelta(days=1)
HOUR = pd.Timedelta(hours=1)
T0 = pd.Timestamp("2026-01-01", tz="UTC")
no_deadline = settings(deadline=None, max_examples=60)


def utc(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


def days(n: int, start: pd.Timestamp = T0) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="D")


def series(values: object, start: pd.Timestamp = T0, name: str | None = None) -> pd.Series:
    v = np.asarray(values, dtype="float64")
    return pd.Series(v, index=days(len(v), start), name=name)


def orthonormal(n: int, k: int, seed: int = 0) -> np.ndarray:
    """k unit vectors of length n, orthogonal to each other and to the constant (so each has mean 0)."""
    m = np.column_stack([np.ones(n), np.random.default_rng(seed).normal(size=(n, k))])
    q, _ = np.linalg.qr(m)
    return q[:, 1:].T


@pytest.fixture(scope="module")
def xnys() -> pd.DataFrame:
    """NYSE sessions (UTC open/close) from exchange_calendars: holidays and early closes included."""
    with warnings.catch_warnings():  # exchange_calendars 4.13 still reads tz-aware Series.values (pandas 3.1)
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        cal = xcals.get_calendar("XNYS", start="2023-01-01", end="2026-12-31")
    return cal.schedule[["open", "close"]]


# -- log returns --------------------------------------------------------------------------------------------
def test_log_returns_golden():
    prices = series([100.0, 110.0, 99.0, 99.0, 198.0], name="BTC")
    out = ac.log_returns(prices)
    np.testing.assert_allclose(out.to_numpy(), [math.log(1.1), math.log(0.9), 0.0, math.log(2.0)], rtol=1e-15)
    assert out.index.equals(prices.index[1:]) and out.name == "BTC"  # the first price has no return
    assert "reason" not in out.attrs


def test_log_returns_never_bridge_missing_or_invalid_prices():
    prices = series([100.0, np.nan, 121.0, 0.0, 133.1, -1.0, 146.41, 161.051])
    out = ac.log_returns(prices).to_numpy()
    assert np.isnan(out[:6]).all()  # into and out of each NaN, zero and negative price
    assert out[6] == pytest.approx(math.log(1.1), rel=1e-12)
    assert prices.iloc[1] != prices.iloc[1]  # input untouched


# -- constructed series with known correlation and beta -----------------------------------------------------
@pytest.mark.parametrize("rho", [-0.9, -0.3, 0.0, 0.5, 0.8], ids=["strong-negative", "weak-negative", "orthogonal",
                                                               "moderate", "strong"])
def test_correlation_of_constructed_vectors_is_exact(rho):
    u, v = orthonormal(60, 2)
    a = series(0.01 * u)
    b = series(0.03 * (rho * u + math.sqrt(1 - rho**2) * v))  # unit norm, correlation exactly rho
    est = ac.correlation(a, b)
    assert est.value == pytest.approx(rho, abs=1e-12)
    assert (est.n, est.start, est.end, est.reason) == (60, a.index[0], a.index[-1], None)
    assert ac.rolling_correlation(a, b, window=60).iloc[-1] == pytest.approx(rho, abs=1e-12)
    # corr(a, b) = cov / (sa sb) with sb / sa = 3 here, so beta(b on a) = 3 rho and beta(a on b) = rho / 3
    assert ac.beta(b, a).value == pytest.approx(3 * rho, abs=1e-12)
    assert ac.beta(a, b).value == pytest.approx(rho / 3, abs=1e-12)


def test_beta_of_two_a_plus_orthogonal_noise():
    u, v = orthonormal(40, 2, seed=3)
    a = series(0.01 * u, name="a")
    noise = 0.02 * v  # orthogonal to a and centred: contributes nothing to cov(a, b)
    b = series(2.0 * a.to_numpy() + noise, name="b")
    assert ac.beta(b, a).value == pytest.approx(2.0, abs=1e-12)
    # beta(a on b) = cov / var(b) = 2 |a|^2 / (4 |a|^2 + |e|^2) = 2e-4 / 8e-4
    assert ac.beta(a, b).value == pytest.approx(0.25, abs=1e-12)
    assert ac.correlation(a, b).value == pytest.approx(1 / math.sqrt(2), abs=1e-12)
    # what a beta hedge of b with a leaves is exactly the noise: std (ddof 1) of a centred vector of norm 0.02
    assert ac.residual_std(b, a).value == pytest.approx(0.02 / math.sqrt(39), rel=1e-12)
    assert ac.rolling_beta(b, a, window=40).iloc[-1] == pytest.approx(2.0, abs=1e-12)


def test_rolling_correlation_and_beta_equal_numpy_on_every_window():
    rng = np.random.default_rng(11)
    a = series(rng.normal(0, 0.03, 150), name="BTC")
    b = series(0.5 * a.to_numpy() + rng.normal(0, 0.01, 150), name="NDX")
    w = 20
    corr, beta = ac.rolling_correlation(a, b, window=w), ac.rolling_beta(a, b, window=w)
    assert corr.index.equals(a.index) and corr.attrs["window"] == w and "reason" not in corr.attrs
    assert corr.iloc[: w - 1].isna().all() and beta.iloc[: w - 1].isna().all()  # NaN until a full window
    x, y = a.to_numpy(), b.to_numpy()
    for t in range(w - 1, len(x)):
        xs, ys = x[t - w + 1:t + 1], y[t - w + 1:t + 1]
        assert corr.iloc[t] == pytest.approx(np.corrcoef(xs, ys)[0, 1], rel=1e-12)
        assert beta.iloc[t] == pytest.approx(np.cov(xs, ys)[0, 1] / np.var(ys, ddof=1), rel=1e-12)
    # the point estimates are the rolling value at ``end`` (at or before it) and name their window
    est = ac.correlation(a, b, window=w, end=a.index[70] + 5 * HOUR)
    assert est.value == pytest.approx(corr.iloc[70], rel=1e-14)
    assert (est.n, est.start, est.end) == (w, a.index[51], a.index[70])
    assert ac.beta(a, b, window=w, end=a.index[70]).value == pytest.approx(beta.iloc[70], rel=1e-14)
    naive_end = a.index[70].tz_localize(None)  # taken as UTC
    assert ac.correlation(a, b, window=w, end=naive_end).end == a.index[70]


def test_rolling_windows_skip_pairs_with_a_missing_return_and_align_on_the_common_index():
    rng = np.random.default_rng(5)
    a = series(rng.normal(size=60))
    b = series(rng.normal(size=60))
    a.iloc[30] = np.nan
    corr = ac.rolling_correlation(a, b.iloc[5:], window=10)  # b starts later: the common index starts at 5
    assert corr.index.equals(a.index[5:])
    assert np.isnan(corr.loc[a.index[30]])
    rows = [29, *range(31, 40)]  # the window ending at 39 holds 10 valid pairs: it reaches back past the gap
    expected = np.corrcoef(a.to_numpy()[rows], b.to_numpy()[rows])[0, 1]
    assert corr.loc[a.index[39]] == pytest.approx(expected, rel=1e-12)
    est = ac.correlation(a, b, window=10, end=a.index[39])
    assert est.value == pytest.approx(expected, rel=1e-12) and est.start == a.index[29]


def test_residual_std_is_what_the_correlation_leaves():
    rng = np.random.default_rng(2)
    a = series(rng.normal(0, 0.03, 90))
    b = series(0.7 * a.to_numpy() + rng.normal(0, 0.02, 90))
    rho, res = ac.correlation(a, b, window=60).value, ac.residual_std(a, b, window=60).value
    assert res**2 == pytest.approx(np.var(a.to_numpy()[-60:], ddof=1) * (1 - rho**2), rel=1e-12)
    assert res < np.std(a.to_numpy()[-60:], ddof=1)  # a hedge that correlates removes variance


def test_zero_variance_gives_nan_with_a_reason():
    a = series(np.random.default_rng(1).normal(size=30), name="BTC")
    flat = series([0.1] * 30, name="Gold")  # float noise would otherwise invent a correlation
    for est in (ac.correlation(a, flat), ac.beta(a, flat), ac.residual_std(a, flat)):
        assert math.isnan(est.value) and "zero variance of Gold" in est.reason and est.n == 30
    assert ac.beta(flat, a).value == pytest.approx(0.0, abs=1e-12)  # a flat a on a moving b is a zero beta
    assert ac.rolling_correlation(a, flat, window=10).isna().all()


# -- alignment ----------------------------------------------------------------------------------------------
def test_calendar_alignment_is_an_inner_join_never_a_forward_fill():
    btc = series(np.arange(1.0, 15.0) * 100)  # 14 days, 24/7
    weekdays = btc.index[btc.index.day_of_week < 5]
    proxy = pd.Series(np.arange(1.0, len(weekdays) + 1) * 10, index=weekdays)
    proxy.iloc[2] = np.nan  # a missing close is no close
    out = ac.align_closes({"BTC": btc, "Proxy": proxy}, alignment="calendar")
    expected_opens = weekdays.delete(2)
    assert out.index.equals(pd.DatetimeIndex(expected_opens + DAY, name="ts"))  # indexed by the close instant
    assert list(out.columns) == ["BTC", "Proxy"] and not out.isna().any().any()
    assert out.attrs["alignment_kind"] == "calendar" and out.attrs["alignment"].startswith("Calendar alignment")
    assert out.attrs["bar"] == DAY
    assert proxy.isna().sum() == 1  # input untouched


def test_trading_alignment_needs_sessions_and_a_known_mode():
    btc = series([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="sessions"):
        ac.align_closes({"BTC": btc}, alignment="trading")
    with pytest.raises(ValueError, match="alignment"):
        ac.align_closes({"BTC": btc}, alignment="weekly")
    with pytest.raises(ValueError, match="tz-aware"):
        ac.align_closes({"BTC": btc.tz_localize(None)}, alignment="calendar")
    with pytest.raises(ValueError, match="bar"):
        ac.align_closes({"BTC": btc}, alignment="calendar", bar=pd.Timedelta(0))


def test_nyse_holidays_come_from_the_calendar_library(xnys):
    opens = pd.date_range("2026-11-16", "2026-12-31", freq="D", tz="UTC")
    btc = pd.Series(np.exp(np.linspace(0.0, 0.5, len(opens))) * 90_000, index=opens)
    ndx = pd.Series(np.exp(np.linspace(0.0, 0.2, len(opens)) ** 2) * 21_000, index=opens)
    aligned = ac.align_closes({"BTC": btc, "NDX": ndx}, alignment="trading", sessions=xnys, calendar_name="NYSE")
    bar_opens = aligned.index - DAY
    assert utc("2026-11-26") not in bar_opens  # Thanksgiving
    assert utc("2026-12-25") not in bar_opens  # Christmas
    assert utc("2026-11-27") in bar_opens  # the early close (13:00 New York) is a session
    assert utc("2026-11-28") not in bar_opens and utc("2026-11-29") not in bar_opens  # weekend
    in_range = xnys[(xnys.index >= "2026-11-16") & (xnys.index <= "2026-12-31")]
    assert len(aligned) == len(in_range)  # one row per library session, nothing else
    assert "NYSE" in aligned.attrs["alignment"] and aligned.attrs["alignment"].startswith("Trading-day")

    returns = ac.aligned_returns(aligned)
    assert returns.attrs["alignment"] == aligned.attrs["alignment"]  # the page shows it
    after_holiday = returns.loc[utc("2026-11-28")]  # the bar opened 11-27 closes 11-28 00:00
    for name, prices in (("BTC", btc), ("NDX", ndx)):
        # from the 11-25 session's close to the 11-27 one: Thanksgiving folds into the next session
        expected = math.log(prices[utc("2026-11-27")] / prices[utc("2026-11-25")])
        assert after_holiday[name] == pytest.approx(expected, rel=1e-12)
    assert returns.index[returns.index.get_loc(utc("2026-11-28")) - 1] == utc("2026-11-26")


def test_four_hour_bars_follow_the_session_and_its_early_close(xnys):
    opens = pd.date_range("2026-11-25", "2026-11-28", freq="4h", tz="UTC", inclusive="left")
    prices = pd.Series(np.linspace(100.0, 120.0, len(opens)), index=opens)
    aligned = ac.align_closes({"A": prices, "B": prices * 2}, bar=4 * HOUR, alignment="trading", sessions=xnys)
    kept = set(aligned.index - 4 * HOUR)
    # 11-25: session 14:30-21:00 UTC overlaps the 12:00, 16:00 and 20:00 bars; 11-27 closes at 18:00 UTC
    assert {utc("2026-11-25 12:00"), utc("2026-11-25 16:00"), utc("2026-11-25 20:00")} <= kept
    assert utc("2026-11-25 08:00") not in kept and utc("2026-11-26 00:00") not in kept
    assert not any(t.date() == pd.Timestamp("2026-11-26").date() for t in kept)  # Thanksgiving
    assert {utc("2026-11-27 12:00"), utc("2026-11-27 16:00")} <= kept
    assert utc("2026-11-27 20:00") not in kept  # after the early close
    assert "4-hour" in aligned.attrs["alignment"]


def test_forward_filled_weekends_pull_correlation_toward_zero_the_trading_alignment_does_not(xnys):
    # News arrives every calendar day: z. BTC (24/7) prices it the same day; the equity proxy gets it only
    # at its next session, so a weekend's news lands in Monday's return. Both carry their own noise per day
    # of news (s = t = 0.5), so over any span corr = 1 / (1 + 0.5**2) = 0.8.
    opens = pd.date_range("2023-01-01", "2025-12-31", freq="D", tz="UTC")
    rng = np.random.default_rng(2022)
    z = rng.normal(0.0, 0.02, len(opens))
    btc = pd.Series(30_000 * np.exp(np.cumsum(z + rng.normal(0.0, 0.01, len(opens)))), index=opens)
    session_days = pd.DatetimeIndex(xnys.index).tz_localize("UTC")
    is_session = opens.isin(session_days)
    info = np.cumsum(z + rng.normal(0.0, 0.01, len(opens)))  # what the proxy would know, day by day
    proxy_log = pd.Series(np.where(is_session, info, np.nan), index=opens).ffill()  # frozen off-session
    proxy = np.exp(proxy_log.dropna()) * 10_000  # a 24/7 feed of the index: flat weekends and holidays
    true_rho = 1.0 / (1.0 + 0.5**2)

    calendar = ac.aligned_returns(ac.align_closes({"BTC": btc, "NDX": proxy}, alignment="calendar"))
    trading = ac.aligned_returns(ac.align_closes({"BTC": btc, "NDX": proxy}, alignment="trading", sessions=xnys))
    rho_cal = ac.correlation(calendar["BTC"], calendar["NDX"])
    rho_trd = ac.correlation(trading["BTC"], trading["NDX"])
    assert rho_cal.n > 1_000 and 700 < rho_trd.n < 760  # every day vs ~252 sessions a year
    assert (calendar["NDX"] == 0).mean() > 0.25  # the forward-filled zeros: weekends (2/7) and holidays
    se = (1 - true_rho**2) / math.sqrt(rho_trd.n)  # sampling error of a Pearson estimate, ~0.013
    assert abs(rho_trd.value - true_rho) < 3 * se
    # calendar: only the session days' own news is shared, so corr ~ rho * sessions / days (~0.69 * 0.8)
    share = is_session[1:].mean()
    assert abs(rho_cal.value - true_rho * share) < 0.05
    assert rho_cal.value < rho_trd.value - 0.2  # clearly biased toward zero, ~0.55 vs ~0.8


# -- not enough data: NaN and a reason, for every public function -------------------------------------------
def _nothing(result: object) -> None:
    """Not a number anywhere, and a reason given."""
    if isinstance(result, ac.Estimate):
        assert math.isnan(result.value) and result.reason
        return
    assert isinstance(result, pd.Series | pd.DataFrame)
    assert result.attrs.get("reason"), result.attrs
    assert np.isnan(result.select_dtypes("number").to_numpy(dtype="float64") if isinstance(result, pd.DataFrame)
                    else result.to_numpy(dtype="float64")).all()


def _calls() -> dict[str, object]:
    def returns(n: int) -> pd.DataFrame:
        rng = np.random.default_rng(n)
        return pd.DataFrame({"BTC": rng.normal(size=n), "Gold": rng.normal(size=n)}, index=days(n))

    def corr(n: int) -> pd.Series:
        r = returns(n)
        return ac.rolling_correlation(r["BTC"], r["Gold"], window=30)

    return {
        "log_returns": lambda n: ac.log_returns(series(np.arange(1.0, min(n, 1) + 1.0))),  # short: < 2 prices
        "align_closes": lambda n: ac.align_closes({"BTC": series(np.ones(n)), "Gold": series(np.ones(n), T0 + DAY * n)},
                                                  alignment="calendar"),
        "aligned_returns": lambda n: ac.aligned_returns(
            ac.align_closes({"BTC": series(np.ones(min(n, 1)))}, alignment="calendar")),
        "rolling_correlation": lambda n: corr(n),
        "rolling_beta": lambda n: ac.rolling_beta(returns(n)["BTC"], returns(n)["Gold"], window=30),
        "correlation": lambda n: ac.correlation(returns(n)["BTC"], returns(n)["Gold"]),
        "correlation_window": lambda n: ac.correlation(returns(n)["BTC"], returns(n)["Gold"], window=30),
        "beta": lambda n: ac.beta(returns(n)["BTC"], returns(n)["Gold"], window=30),
        "residual_std": lambda n: ac.residual_std(returns(n)["BTC"], returns(n)["Gold"]),
        "correlation_band": lambda n: ac.correlation_band(corr(n), lookback=252, min_obs=40),
        "correlation_matrix": lambda n: ac.correlation_matrix(returns(n), window=30),
        "flight_to_safety": lambda n: ac.flight_to_safety(returns(n)["BTC"], returns(n)["Gold"], k=5,
                                                          asset_drop=0.05, gold_rise=0.01),
        "risk_rotation": lambda n: ac.risk_rotation(returns(n)["BTC"], returns(n)["Gold"], k=5, flat=0.02,
                                                    index_drop=0.03),
        "correlation_breaks": lambda n: ac.correlation_breaks(corr(n), ac.correlation_band(corr(n), lookback=252,
                                                                                            min_obs=40),
                                                              sign_threshold=0.1, asset="BTC", proxy="Gold"),
    }


CALLS = _calls()


@pytest.mark.parametrize("n", [0, 1, 2], ids=["empty", "one-value", "two-values"])
@pytest.mark.parametrize("name", list(CALLS))
def test_short_input_gives_nan_and_a_reason(name, n):
    _nothing(CALLS[name](n))  # type: ignore[operator]


def test_reason_names_what_is_missing():
    r = pd.DataFrame({"a": np.arange(12.0) % 5, "b": np.arange(12.0) % 3}, index=days(12))
    corr = ac.rolling_correlation(r["a"], r["b"], window=30)
    assert corr.attrs["reason"] == "needs 30 observations, has 12" and len(corr) == 12
    est = ac.correlation(r["a"], r["b"], window=30)
    assert est.reason == "needs 30 observations, has 12"
    assert (est.n, est.start, est.end) == (12, r.index[0], r.index[-1])  # what was available
    early = ac.correlation(r["a"], r["b"], window=5, end=r.index[2])
    assert early.reason.startswith("needs 5 observations at or before") and early.n == 3
    nothing = ac.beta(r["a"].iloc[:0], r["b"].iloc[:0])
    assert (nothing.n, nothing.start, nothing.end) == (0, None, None) and math.isnan(nothing.value)
    matrix = ac.correlation_matrix(r, window=30)
    assert matrix.attrs["reason"] == "needs 30 rows, has 12" and matrix.isna().all().all()
    assert list(matrix.index) == ["a", "b"]


@pytest.mark.parametrize("window", [2, 0, -1, 2.5], ids=["two", "zero", "negative", "fractional"])
def test_window_below_three_is_refused(window):
    a = series(np.arange(10.0))
    for fn in (ac.rolling_correlation, ac.rolling_beta, ac.correlation, ac.beta, ac.residual_std):
        with pytest.raises(ValueError, match="window"):
            fn(a, a, window=window)  # type: ignore[operator]
    with pytest.raises(ValueError, match="window"):
        ac.correlation_matrix(a.to_frame("a"), window=window)  # type: ignore[arg-type]


# -- correlation matrix -------------------------------------------------------------------------------------
def test_correlation_matrix_on_constructed_vectors():
    u, v, w = orthonormal(50, 3, seed=9)
    frame = pd.DataFrame({"BTC": 0.02 * u, "Gold": 0.01 * (0.6 * u + 0.8 * v), "NDX": 0.015 * w},
                         index=days(50))
    noisy = pd.DataFrame(np.random.default_rng(0).normal(size=(20, 3)), columns=frame.columns,
                         index=days(20, T0 - 20 * DAY))
    full = pd.concat([noisy, frame])  # the window must only see the constructed rows
    m = ac.correlation_matrix(full, window=50)
    np.testing.assert_allclose(m.to_numpy(), [[1.0, 0.6, 0.0], [0.6, 1.0, 0.0], [0.0, 0.0, 1.0]], atol=1e-12)
    assert m.attrs["n"] == 50 and m.attrs["start"] == frame.index[0] and m.attrs["end"] == frame.index[-1]
    assert m.attrs["reason"] is None
    at = ac.correlation_matrix(full, window=20, end=frame.index[30])
    assert at.attrs["end"] == frame.index[30]
    expected = ac.correlation(full["BTC"], full["Gold"], window=20, end=frame.index[30]).value
    assert at.loc["BTC", "Gold"] == pytest.approx(expected, rel=1e-12)


# -- band ---------------------------------------------------------------------------------------------------
def test_band_is_judged_on_history_only():
    rng = np.random.default_rng(4)
    values = np.concatenate([np.full(9, np.nan), rng.uniform(0.2, 0.6, 91)])  # a 10-obs rolling corr's NaNs
    corr = series(values)
    band = ac.correlation_band(corr, lookback=30, min_obs=10, k=2.0)
    assert list(band.columns) == list(ac.BAND_COLUMNS) and band.index.equals(corr.index)
    first = 9 + 10  # the first point with 10 past correlations
    assert band["mean"].iloc[:first].isna().all() and np.isfinite(band["mean"].iloc[first])
    for t in (first, 40, 99):
        past = values[max(0, t - 30):t]
        past = past[np.isfinite(past)]
        assert band["mean"].iloc[t] == pytest.approx(past.mean(), rel=1e-12)
        assert band["std"].iloc[t] == pytest.approx(past.std(ddof=1), rel=1e-9)
        assert band["lo"].iloc[t] == pytest.approx(past.mean() - 2 * past.std(ddof=1), rel=1e-9)
        assert band["hi"].iloc[t] == pytest.approx(past.mean() + 2 * past.std(ddof=1), rel=1e-9)
    spiked = corr.copy()
    spiked.iloc[60] = -0.99  # a break
    moved = ac.correlation_band(spiked, lookback=30, min_obs=10)
    pd.testing.assert_frame_equal(moved.iloc[:61], band.iloc[:61])  # the point never widens its own band
    assert moved["std"].iloc[61] > band["std"].iloc[61]
    assert spiked.iloc[60] < moved["lo"].iloc[60]


@pytest.mark.parametrize(("lookback", "min_obs", "k"), [(30, 1, 2.0), (10, 20, 2.0), (30, 10, -1.0),
                                                        (30, 10, np.nan)],
                         ids=["one-past-value", "lookback-below-min", "negative-k", "nan-k"])
def test_band_refuses_meaningless_parameters(lookback, min_obs, k):
    with pytest.raises(ValueError):
        ac.correlation_band(series(np.zeros(50)), lookback=lookback, min_obs=min_obs, k=k)


# -- breaks -------------------------------------------------------------------------------------------------
def _no_band(index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame(np.nan, index=index, columns=list(ac.BAND_COLUMNS))


def test_correlation_breaks_find_a_constructed_regime_break_at_its_place():
    wiggle = 0.02 * np.sin(np.arange(360) * 0.7)
    values = np.where(np.arange(360) < 300, 0.6, -0.4) + wiggle
    corr = series(values)
    band = ac.correlation_band(corr, lookback=252, min_obs=40)
    out = ac.correlation_breaks(corr, band, sign_threshold=0.1, asset="BTC", proxy="NDX")
    assert list(out.columns) == list(ac.EPISODE_COLUMNS)
    exits, flips = out[out["flag"] == "band_exit"], out[out["flag"] == "sign_change"]
    assert len(flips) == 1 and len(exits) == 1
    exit_, flip = exits.iloc[0], flips.iloc[0]
    assert exit_["start"] == corr.index[300] and flip["start"] == corr.index[300]
    assert exit_["corr_start"] == pytest.approx(values[300]) and exit_["band_lo"] > 0.5
    assert exit_["band_lo"] == pytest.approx(band["lo"].iloc[300]) and exit_["band_hi"] == band["hi"].iloc[300]
    assert 10 < exit_["observations"] < 60 and not exit_["active"]  # the band widens as the past holds the break
    assert flip["end"] == corr.index[-1] and flip["active"] and flip["observations"] == 60
    assert flip["corr_extreme"] == pytest.approx(values[300:].min())
    assert (exit_["asset"], exit_["proxy"]) == ("BTC", "NDX") and math.isnan(exit_["asset_move"])


def test_correlation_breaks_from_returns_whose_relation_flips():
    rng = np.random.default_rng(7)
    a = rng.normal(0, 0.02, 600)
    sign = np.where(np.arange(600) < 400, 1.0, -1.0)
    b = sign * a + rng.normal(0, 0.02, 600)  # corr ~ +0.71, then ~ -0.71 from observation 400
    ra, rb = series(a), series(b)
    corr = ac.rolling_correlation(ra, rb, window=30)
    out = ac.correlation_breaks(corr, ac.correlation_band(corr, lookback=252, min_obs=40), sign_threshold=0.1,
                                asset="BTC", proxy="NDX")
    flips = out[out["flag"] == "sign_change"]
    assert len(flips) == 1  # noise in the 30-observation correlation never crosses -0.1 before the break
    assert ra.index[400] <= flips.iloc[0]["start"] < ra.index[430]
    exits = out[out["flag"] == "band_exit"]
    first_exit = exits[exits["start"] >= ra.index[400]].iloc[0]
    assert first_exit["start"] < ra.index[415]  # the break leaves the band within half a window


def test_sign_change_hysteresis_ignores_wiggles_around_zero():
    wiggles = [0.05, -0.05, 0.08, -0.09, 0.02] * 4
    values = [0.03, -0.08] + [0.5] * 5 + wiggles + [-0.3, -0.35, -0.1] + wiggles + [0.2] * 3 + [0.09]
    corr = series(values)
    out = ac.correlation_breaks(corr, _no_band(corr.index), sign_threshold=0.1, asset="BTC", proxy="Gold")
    assert list(out["flag"]) == ["sign_change", "sign_change"]  # the first state (+) starts none
    down, up = out.iloc[0], out.iloc[1]
    i_down, i_up = 2 + 5 + 20, 2 + 5 + 20 + 3 + 20
    assert (down["start"], down["end"]) == (corr.index[i_down], corr.index[i_up - 1])
    assert down["corr_start"] == -0.3 and down["corr_extreme"] == -0.35 and not down["active"]
    assert down["observations"] == i_up - i_down
    assert up["start"] == corr.index[i_up] and up["active"] and up["corr_extreme"] == 0.2
    every_crossing = ac.correlation_breaks(corr, _no_band(corr.index), sign_threshold=0.0, asset="BTC",
                                           proxy="Gold")
    assert len(every_crossing) > 20  # without hysteresis each wiggle would be a "sign change"


def test_sign_change_is_news_for_sign_hold_observations():
    values = [0.5] * 10 + [-0.4] * 30 + [0.6] * 4
    corr = series(values)
    out = ac.correlation_breaks(corr, _no_band(corr.index), sign_threshold=0.1, asset="BTC", proxy="Gold",
                                sign_hold=12)
    down, up = out.iloc[0], out.iloc[1]
    assert (down["start"], down["end"], down["observations"]) == (corr.index[10], corr.index[21], 12)
    assert not down["active"]  # 12 observations after the flip the new sign is the regime, not news
    assert up["start"] == corr.index[40] and up["observations"] == 4 and up["active"]  # ended by the end
    unbounded = ac.correlation_breaks(corr, _no_band(corr.index), sign_threshold=0.1, asset="BTC", proxy="Gold")
    assert unbounded.iloc[0]["end"] == corr.index[39]  # without a hold: until the next flip


# -- decoupling flags ---------------------------------------------------------------------------------------
def test_flight_to_safety_episodes_have_exact_start_and_end():
    btc, gold = np.zeros(80), np.zeros(80)
    btc[20:25], gold[20:25] = -0.01, 0.002  # exactly -5 % and +1 % over 5: at the thresholds, counted
    btc[50:53], gold[50:53] = -0.02, 0.004  # -6 % / +1.2 % over the windows ending at 52, 53, 54
    gold[60:65] = 0.01  # gold up alone is no flight to safety
    btc[-3:], gold[-3:] = -0.02, 0.004  # a run still going at the end
    out = ac.flight_to_safety(series(btc), series(gold), k=5, asset_drop=0.05, gold_rise=0.01)
    idx = days(80)
    assert list(out["start"]) == [idx[24], idx[52], idx[79]]
    assert list(out["end"]) == [idx[24], idx[54], idx[79]]
    assert list(out["observations"]) == [1, 3, 1] and list(out["active"]) == [False, False, True]
    assert out["asset_move"].iloc[1] == pytest.approx(-0.06) and out["proxy_move"].iloc[1] == pytest.approx(0.012)
    assert set(out["flag"]) == {"flight_to_safety"} and set(out["proxy"]) == {"Gold"}
    assert out[["corr_start", "corr_extreme", "band_lo", "band_hi"]].isna().all().all()


def test_risk_rotation_btc_sideways_while_stocks_plummet():
    btc, ndx = np.full(90, 0.001) * np.resize([1, -1], 90), np.zeros(90)
    ndx[30:32] = -0.016  # -3.2 % over the windows ending at 31 ... 34
    ndx[60:62], btc[61] = -0.016, -0.025  # BTC falls too: not sideways
    out = ac.risk_rotation(series(btc), series(ndx), k=5, flat=0.02, index_drop=0.03, proxy="NDX")
    idx = days(90)
    assert len(out) == 1
    row = out.iloc[0]
    assert (row["start"], row["end"], row["observations"]) == (idx[31], idx[34], 4)
    assert row["proxy_move"] == pytest.approx(-0.032) and abs(row["asset_move"]) <= 0.02
    assert row["flag"] == "risk_rotation" and row["proxy"] == "NDX"


def test_flags_refuse_meaningless_parameters():
    r = series(np.zeros(10))
    with pytest.raises(ValueError, match="k"):
        ac.flight_to_safety(r, r, k=0, asset_drop=0.05, gold_rise=0.01)
    with pytest.raises(ValueError, match="asset_drop"):
        ac.flight_to_safety(r, r, k=5, asset_drop=-0.05, gold_rise=0.01)
    with pytest.raises(ValueError, match="index_drop"):
        ac.risk_rotation(r, r, k=5, flat=0.02, index_drop=np.nan)
    with pytest.raises(ValueError, match="sign_threshold"):
        ac.correlation_breaks(r, _no_band(r.index), sign_threshold=1.5, asset="BTC", proxy="Gold")


def test_rules_fill_from_names_and_defaults():
    for flag in ac.FLAGS:
        text = ac.RULES[flag].format(asset="BTC", proxy="Gold", **ac.DEFAULTS)  # what the page does
        assert "BTC" in text and "Gold" in text
    assert ac.rule_text("flight_to_safety", asset="BTC", proxy="Gold") == (
        "BTC down ≥ 5.0% while Gold up ≥ 1.0% over 5 observations (cumulative log returns)")
    assert "±2.0%" in ac.rule_text("risk_rotation", asset="BTC", proxy="Nasdaq-100", k=10.0)
    assert "over 10 observations" in ac.rule_text("risk_rotation", asset="BTC", proxy="Nasdaq-100", k=10.0)
    assert "+0.10" in ac.rule_text("sign_change", asset="BTC", proxy="Gold")
    with pytest.raises(ValueError):
        ac.rule_text("moon", asset="BTC", proxy="Gold")


def test_all_flags_combines_every_rule_with_its_text():
    rng = np.random.default_rng(3)
    n = 400
    btc = rng.normal(0, 0.01, n)
    gold = 0.3 * btc + rng.normal(0, 0.005, n)
    ndx = 0.6 * btc + rng.normal(0, 0.005, n)
    btc[300:305], gold[300:305] = -0.03, 0.01  # flight to safety
    returns = pd.DataFrame({"BTC": btc, "Gold": gold, "NDX": ndx}, index=days(n))
    out = ac.all_flags(returns, asset="BTC", gold="Gold", index="NDX")
    assert list(out.columns) == [*ac.EPISODE_COLUMNS, "rule"]
    assert out["start"].is_monotonic_increasing
    fts = out[out["flag"] == "flight_to_safety"]
    assert ((fts["start"] <= returns.index[304]) & (fts["end"] >= returns.index[304])).any()
    assert set(out.loc[out["flag"] == "risk_rotation", "proxy"]) <= {"NDX"}
    assert fts["rule"].iloc[0].startswith("BTC down ≥ 5.0% while Gold up ≥ 1.0%")
    assert ac.all_flags(returns.iloc[:3], asset="BTC", gold="Gold").empty


# -- properties (hypothesis) --------------------------------------------------------------------------------
returns_lists = st.lists(st.floats(min_value=-0.2, max_value=0.2, allow_nan=False, allow_subnormal=False),
                         min_size=3, max_size=60)


@st.composite
def pairs(draw: st.DrawFn) -> tuple[pd.Series, pd.Series]:
    a = draw(returns_lists)
    b = draw(st.lists(st.floats(min_value=-0.2, max_value=0.2, allow_nan=False, allow_subnormal=False),
                      min_size=len(a), max_size=len(a)))
    assume(np.std(a) > 1e-3 and np.std(b) > 1e-3)  # away from the zero-variance guard
    return series(a), series(b)


@no_deadline
@given(pair=pairs(), window=st.integers(min_value=3, max_value=60))
def test_correlations_lie_within_minus_one_and_one(pair, window):
    a, b = pair
    rho = ac.correlation(a, b).value
    assert -1.0 <= rho <= 1.0
    rolling = ac.rolling_correlation(a, b, window=min(window, len(a))).to_numpy()
    finite = rolling[np.isfinite(rolling)]
    assert ((finite >= -1.0) & (finite <= 1.0)).all()


@no_deadline
@given(pair=pairs())
def test_beta_times_var_b_is_cov(pair):
    a, b = pair
    cov = np.cov(a.to_numpy(), b.to_numpy())[0, 1]
    assert ac.beta(a, b).value * np.var(b.to_numpy(), ddof=1) == pytest.approx(cov, rel=1e-9, abs=1e-15)


@no_deadline
@given(pair=pairs(), scale_a=st.floats(min_value=0.01, max_value=100), scale_b=st.floats(min_value=0.01, max_value=100),
       flip_a=st.booleans(), shift=st.floats(min_value=-1, max_value=1))
def test_correlation_is_scale_and_shift_invariant(pair, scale_a, scale_b, flip_a, shift):
    a, b = pair
    sa = -scale_a if flip_a else scale_a
    rho = ac.correlation(a, b).value
    assert ac.correlation(sa * a + shift, scale_b * b).value == pytest.approx(np.sign(sa) * rho, abs=1e-9)


@no_deadline
@given(pair=pairs(), scale_a=st.floats(min_value=-100, max_value=100), scale_b=st.floats(min_value=0.01, max_value=100))
def test_beta_scales_linearly(pair, scale_a, scale_b):
    a, b = pair
    assume(abs(scale_a) > 0.01)
    expected = scale_a / scale_b * ac.beta(a, b).value
    assert ac.beta(scale_a * a, scale_b * b).value == pytest.approx(expected, rel=1e-9, abs=1e-12)
