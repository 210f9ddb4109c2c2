"""The scoring kernel: one call scores a whole batch of points of many series.

Per series and point (streaming: only earlier points and the point itself are used):
  1. three one-step predictions, one per seasonal model (none, daily, weekly): a fast robust level
     of the deseasonalised value plus the model's profile (learned online against a slow level);
  2. the point statistic z1 = residual / spread of the model in use;
  3. the short statistic z2 = short-window mean of the deviation from a medium baseline, divided
     by its own normal size (catches level shifts, trends and outages that the fast level absorbs),
     the same over a longer window (z3), and the drift statistic z4 = the medium baseline minus a
     slow one, over its normal size (ramps and shifts too gradual for z2 and z3);
  4. each statistic goes through a per-series, per-side tail model (running (1 - f) quantile q and
     Hill index xi beyond it) giving a surprise S = -ln p; the score is 1 - p ** (1 / score_k),
     continued hyperbolically so that it never ties at 1.0;
  5. decision, type, severity, ratio guards and the episode state machine;
  6. the state learns from the point (robust, clipped updates).
Arrival order is interleaved across series: the batch is grouped by slot first, so each series'
state lives in registers while its points are scored.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from services.detect.kernels.arrays import ConfigArrays, Outputs
from services.detect.kernels.grouping import group_by_slot
from services.detect.kernels.prefetch import prefetch_write
from services.detect.kernels.state import DAILY_BUCKETS, FIELD, WEEKLY_BUCKETS, SeriesState
from services.detect.kernels.tunables import Tunables

DAY = 86400.0
WEEK = 7 * 86400.0
MAD_TO_STD = 1.2533141373155003     # std / mean |x - mean| of a normal distribution
Z_CAP = 1e12                        # |z| cap: huge values and zero spreads stay finite
F32_MAX = 3.0e38                    # profiles are float32
# values beyond +-X_CAP are scored as +-X_CAP: differences of two values, and spreads of them, stay
# finite (at +-1.8e308 they overflowed to inf, then NaN, and the series never scored again)
X_CAP = 1e150
RANGE_CAP = 1e300                   # expected-range bounds: a wide range times a wide spread is finite
# times beyond +-T_LIMIT seconds (year ~318,000) are skipped: the seasonal buckets need t exact to
# well under a bucket, and a time past 2 ** 63 would make a bucket index of garbage
T_LIMIT = 1e13


@njit(cache=True, error_model="numpy")
def surprise(z: float, q: float, xi: float, ln_inv_f: float) -> float:
    """-ln P(|Z| >= z) under the tail model: linear below q, Pareto (Hill index xi) beyond."""
    if z <= q:
        return ln_inv_f * z / q
    return ln_inv_f + math.log(z / q) / xi


@njit(cache=True, error_model="numpy")
def score_of_surprise(s: float, k: float) -> float:
    """1 - exp(-s / k), continued as 1 - c / v beyond v = s / k = 30 so the tail keeps resolution."""
    v = s / k
    if v <= 30.0:
        return -math.expm1(-v)
    return 1.0 - math.exp(-30.0) * 30.0 / v


@njit(cache=True, error_model="numpy")
def surprise_of_score(score: float, k: float) -> float:
    """Inverse of score_of_surprise."""
    p = 1.0 - score
    if p >= math.exp(-30.0):
        return -k * math.log(p)
    return k * math.exp(-30.0) * 30.0 / p


@njit(cache=True, error_model="numpy")
def surprise_at_least(score: float, k: float) -> float:
    """The smallest surprise s >= 0 with score_of_surprise(s, k) >= score (score_of_surprise does
    not decrease, so score_of_surprise(s, k) >= score <=> s >= this, for every s): decisions on
    the surprise equal those on the score, without the score. NaN if no surprise reaches it."""
    if not score > 0.0:
        return -math.inf
    bits = np.empty(1, np.int64)
    val = bits.view(np.float64)
    val[0] = math.inf
    if not score_of_surprise(val[0], k) >= score:
        return math.nan
    lo = np.int64(0)            # bit patterns of non-negative doubles order like the doubles
    hi = bits[0]
    while hi - lo > 1:          # score(lo) < score <= score(hi)
        bits[0] = lo + (hi - lo) // 2
        if score_of_surprise(val[0], k) >= score:
            hi = bits[0]
        else:
            lo = bits[0]
    bits[0] = hi
    return val[0]


@njit(cache=True, error_model="numpy", inline="always")
def _gap_rate(a: float, log_keep: float, k: float) -> float:
    """EWMA weight for a point k nominal steps after the previous one: 1 - (1 - a) ** k, with
    log_keep = log(1 - a) (one exp per rate instead of a pow)."""
    if k <= 1.5:
        return a
    return 1.0 - math.exp(min(k, 1e6) * log_keep)


@njit(cache=True, error_model="numpy", inline="always")
def _floor_div(t: float, period: float, inv_period: float) -> float:
    """math.floor(t / period), exactly, mostly without the division: t * inv_period differs from
    t / period by a few ulps (under 1e-8 for |t| < 2 ** 40), so away from an integer both floor
    alike."""
    q = t * inv_period
    m = math.floor(q)
    if abs(t) < 1099511627776.0 and 1e-6 < q - m < 1.0 - 1e-6:
        return m
    return math.floor(t / period)


@njit(cache=True, error_model="numpy")
def _clip(v: float, c: float) -> float:
    return min(max(v, -c), c)


@njit(cache=True, error_model="numpy")
def _f32(v: float) -> np.float32:
    """Round into a float32 profile bucket, saturating instead of overflowing to inf."""
    return np.float32(min(max(v, -F32_MAX), F32_MAX))


@njit(cache=True, error_model="numpy")
def _range_factor(s_thr: float, q: float, xi: float, ln_inv_f: float) -> float:
    """The point z at which the surprise reaches s_thr, in units of q (so z = q * factor)."""
    if s_thr <= ln_inv_f:
        return s_thr / ln_inv_f
    return math.exp(min((s_thr - ln_inv_f) * xi, 700.0))


# scalar state fields (state.SCALAR_FIELDS) as compile-time constants
_COUNT, _LAST_TS, _FIRST_TS, _STEP = FIELD["count"], FIELD["last_ts"], FIELD["first_ts"], FIELD["step"]
_RATE_STEP, _QUANTUM, _PREV_X, _SLOW = FIELD["rate_step"], FIELD["quantum"], FIELD["prev_x"], FIELD["slow"]
_SHORT, _SHORT_SCALE = FIELD["short"], FIELD["short_scale"]
_LONG, _LONG_SCALE = FIELD["long"], FIELD["long_scale"]
_DRIFT_SCALE, _SLOW_BASE = FIELD["drift_scale"], FIELD["slow_base"]
_RUN, _MODEL, _LV, _BS, _SP = FIELD["run"], FIELD["model"], FIELD["lv0"], FIELD["bs0"], FIELD["sp0"]
_Q, _XI = FIELD["q0"], FIELD["xi0"]
_EP_OPEN, _EP_QUIET, _EP_QUIET_TS = FIELD["ep_open"], FIELD["ep_quiet"], FIELD["ep_quiet_ts"]
_EP_START, _EP_PEAK = FIELD["ep_start"], FIELD["ep_peak"]
_RATES_STEP, _RATES_WINDOW, _A_FAST = FIELD["rates_step"], FIELD["rates_window"], FIELD["a_fast"]
_RANGE_THR, _F_UP, _F_DN = FIELD["range_thr"], FIELD["f_up"], FIELD["f_dn"]


@njit(cache=True, error_model="numpy", inline="always")
def _side_surprise(z: float, q_up_side: float, q_dn_side: float, xi_up: float, xi_dn: float,
                   ln_inv_f: float) -> float:
    """Surprise of a signed statistic under the tail model of its side (selects, no branch on the
    sign: it is a coin flip for normal points and would mispredict half the time)."""
    pos = z >= 0.0
    return surprise(abs(z), q_up_side if pos else q_dn_side, xi_up if pos else xi_dn, ln_inv_f)


@njit(cache=True, error_model="numpy", inline="always")
def _tail_learn(z: float, q_up_side: float, q_dn_side: float, sc: np.ndarray, s: int, j_up: int,
                a_xi: float, q_up: float, q_dn: float, tun: Tunables) -> tuple[float, float]:
    """One step of the (up, down) tail models of a signed statistic: the side of z learns the
    point (quantile up or down, Hill index sc[s, j_up] or sc[s, j_up + 1] on an exceedance), the
    other side a non-exceedance. Returns the new (up, down) quantiles."""
    pos = z >= 0.0
    az = abs(z)
    q = q_up_side if pos else q_dn_side
    if az > q:                      # rare (about tail_fraction of the points)
        j = j_up if pos else j_up + 1
        xi = sc[s, j]
        xi += a_xi * (min(math.log(az / q), tun.xi_cap) - xi)
        sc[s, j] = min(max(xi, tun.xi_min), tun.xi_max)
        q_self = max(q * q_up, tun.q_min)
    else:
        q_self = max(q * q_dn, tun.q_min)
    q_other = max((q_dn_side if pos else q_up_side) * q_dn, tun.q_min)
    return (q_self if pos else q_other), (q_other if pos else q_self)


@njit(cache=True, error_model="numpy", inline="always")
def _wrap(i: int, n: int) -> int:
    """i mod n for i in [-n, 2n) without the general (sign-correcting) modulo."""
    if i < 0:
        return i + n
    if i >= n:
        return i - n
    return i


@njit(cache=True, error_model="numpy")
def score_batch(slots: np.ndarray, ts: np.ndarray, xs: np.ndarray, cfg: ConfigArrays,
                st: SeriesState, tun: Tunables, thresholds: np.ndarray, out: Outputs) -> None:
    """Score points (slot, timestamp, value) in arrival order; update `st`; fill `out`.

    thresholds[sensitivity, level]: score thresholds of info (anomalous), warning, critical.
    """
    n_slots = st.scalars.shape[0]
    order, starts = group_by_slot(slots, n_slots)
    ln_inv_f = -math.log(tun.tail_fraction)
    s_thr = np.empty(thresholds.shape[0])          # surprise of the info threshold per sensitivity
    for j in range(thresholds.shape[0]):
        s_thr[j] = surprise_of_score(thresholds[j, 0], tun.score_k)
    # the score thresholds as exact surprise thresholds: the per-point loop decides on the
    # surprise and leaves the score (an expm1 call, which spills every register) to the scatter
    s_lv = np.empty(thresholds.shape)
    for j in range(thresholds.shape[0]):
        for lv in range(thresholds.shape[1]):
            s_lv[j, lv] = surprise_at_least(thresholds[j, lv], tun.score_k)
    # arrival order interleaves series: gather each series' points together, score them with the
    # series' state in registers, scatter the outputs back. Random access inside the dependent
    # per-point loop stalls it; the separate gather and scatter loops are independent accesses.
    n = slots.shape[0]
    ts_g = np.empty(n)
    xs_g = np.empty(n)
    for j in range(n):
        ts_g[j] = ts[order[j]]
        xs_g[j] = xs[order[j]]
    # the outputs that are nearly always NaN or 0 start so in arrival order; the scoring loop
    # writes their rare other values in place (too rare to stall it); the dense five go through
    # grouped-order arrays and a scatter each
    out.end_ts[:] = np.nan
    out.peak[:] = 0.0
    out.type[:] = 0
    out.severity[:] = 0
    out.learning[:] = 0
    out.skipped[:] = 0
    out.event[:] = 0
    tmp_score, tmp_mean, tmp_std, tmp_lower, tmp_upper = (np.empty(n), np.empty(n), np.empty(n),
                                                          np.empty(n), np.empty(n))
    _score_slots(starts, ts_g, xs_g, cfg.enabled, cfg.spike_threshold, cfg.drop_threshold,
                 cfg.min_data_points, cfg.window_seconds, cfg.sensitivity, cfg.seasonality,
                 st.scalars, st.profiles, tun, s_lv, s_thr, ln_inv_f,
                 tmp_score, tmp_mean, tmp_std, tmp_lower, tmp_upper, out.type, out.severity,
                 out.learning, out.skipped, out.event, out.end_ts, out.peak, order)
    # one pass per output array: each pass writes one array, so its lines stay in cache
    _scatter_score(order, tmp_score, out.score, tun.score_k)
    _scatter(order, tmp_mean, out.mean)
    _scatter(order, tmp_std, out.std)
    _scatter(order, tmp_lower, out.lower)
    _scatter(order, tmp_upper, out.upper)


@njit(cache=True, error_model="numpy")
def _scatter(order: np.ndarray, src: np.ndarray, dst: np.ndarray) -> None:
    for j in range(order.shape[0]):
        dst[order[j]] = src[j]


@njit(cache=True, error_model="numpy")
def _scatter_score(order: np.ndarray, sv: np.ndarray, dst: np.ndarray, k: float) -> None:
    """The scores of the surprises the per-point loop left in `sv` (0 for no score: score 0)."""
    for j in range(order.shape[0]):
        dst[order[j]] = score_of_surprise(sv[j], k)


@njit(cache=True, error_model="numpy")
def _score_slots(starts: np.ndarray, ts: np.ndarray, xs: np.ndarray, cfg_enabled: np.ndarray,
                 cfg_spike: np.ndarray, cfg_drop: np.ndarray, cfg_min_pts: np.ndarray,
                 cfg_window: np.ndarray, cfg_sens: np.ndarray, cfg_seas: np.ndarray,
                 sc: np.ndarray, pr: np.ndarray, tun: Tunables, s_lv: np.ndarray,
                 s_thr_of: np.ndarray, ln_inv_f: float,
                 o_score: np.ndarray, o_mean: np.ndarray, o_std: np.ndarray, o_lower: np.ndarray,
                 o_upper: np.ndarray, o_type: np.ndarray, o_severity: np.ndarray,
                 o_learning: np.ndarray, o_skipped: np.ndarray, o_event: np.ndarray,
                 o_end_ts: np.ndarray, o_peak: np.ndarray, order: np.ndarray) -> None:
    """Score the points starts[s]:starts[s + 1] (grouped by slot) of every slot s with state rows
    sc[s] and pr[s]; o_score receives surprises (_scatter_score scores them). Every array is an
    argument, indexed in 2-D: no array is taken out of a tuple or sliced per series (each is a
    reference count increment and decrement, atomic, and a call)."""
    n_slots = sc.shape[0]
    for s in range(n_slots):
        a = starts[s]
        b = starts[s + 1]
        # state rows are in the last-level cache or memory by the time a series comes round
        # again: ask for the next series' lines now, scoring this one hides their latency
        if s + 1 < n_slots and starts[s + 2] > b:
            _prefetch_state(sc, pr, s + 1, ts[b], ts[starts[s + 2] - 1])
        if b > a:
            _score_series(s, starts, ts, xs, cfg_enabled, cfg_spike, cfg_drop, cfg_min_pts, cfg_window,
                          cfg_sens, cfg_seas, sc, pr, tun, s_lv, s_thr_of[cfg_sens[s]], ln_inv_f,
                          o_score, o_mean, o_std, o_lower, o_upper, o_type, o_severity,
                          o_learning, o_skipped, o_event, o_end_ts, o_peak, order)


@njit(cache=True, error_model="numpy", inline="always")
def _prefetch_state(sc: np.ndarray, pr: np.ndarray, s: int, t_first: float, t_last: float) -> None:
    """Prefetch slot s's scalars and the profile lines its points from t_first to t_last use."""
    for c in range(0, sc.shape[1], 8):          # 8 float64 per 64-byte line
        prefetch_write(sc, s, c)
    prefetch_write(sc, s, sc.shape[1] - 1)
    if not (math.isfinite(t_first) and math.isfinite(t_last)):
        return
    for t in (t_first, t_last):
        d = int((t - math.floor(t * (1.0 / DAY)) * DAY) * (DAILY_BUCKETS / DAY))     # a hint: no exact floor
        w = int((t - math.floor(t * (1.0 / WEEK)) * WEEK) * (WEEKLY_BUCKETS / WEEK))
        prefetch_write(pr, s, min(max(d, 0), DAILY_BUCKETS - 1))
        prefetch_write(pr, s, DAILY_BUCKETS + min(max(w, 0), WEEKLY_BUCKETS - 1))


@njit(cache=True, error_model="numpy", inline="always")      # no call per series
def _score_series(s: int, starts: np.ndarray, ts: np.ndarray, xs: np.ndarray, cfg_enabled: np.ndarray,
                  cfg_spike: np.ndarray, cfg_drop: np.ndarray, cfg_min_pts: np.ndarray,
                  cfg_window: np.ndarray, cfg_sens: np.ndarray, cfg_seas: np.ndarray,
                  sc: np.ndarray, pr: np.ndarray, tun: Tunables, s_lv: np.ndarray,
                  s_thr: float, ln_inv_f: float,
                  o_score: np.ndarray, o_mean: np.ndarray, o_std: np.ndarray, o_lower: np.ndarray,
                  o_upper: np.ndarray, o_type: np.ndarray, o_severity: np.ndarray,
                  o_learning: np.ndarray, o_skipped: np.ndarray, o_event: np.ndarray,
                  o_end_ts: np.ndarray, o_peak: np.ndarray, order: np.ndarray) -> None:
    # (at most 30 arguments: beyond that Python passes *args, which numba cannot inline)
    a = starts[s]
    b = starts[s + 1]
    # ---- configuration of this series (effective for the whole batch)
    enabled = cfg_enabled[s] != 0
    spike_thr = cfg_spike[s]
    drop_thr = cfg_drop[s]
    min_pts = cfg_min_pts[s]
    window = max(cfg_window[s], 3600.0)
    sens = cfg_sens[s]
    seas = cfg_seas[s]
    sv_info = s_lv[sens, 0]         # surprises at which the score reaches the thresholds
    sv_warn = s_lv[sens, 1]
    sv_crit = s_lv[sens, 2]
    f = tun.tail_fraction

    # ---- state into locals
    n = int(sc[s, _COUNT])
    last_ts = sc[s, _LAST_TS]
    first_ts = sc[s, _FIRST_TS]
    step = sc[s, _STEP]
    quantum = sc[s, _QUANTUM]
    prev_x = sc[s, _PREV_X]
    slow = sc[s, _SLOW]
    short = sc[s, _SHORT]
    short_scale = sc[s, _SHORT_SCALE]
    long = sc[s, _LONG]
    long_scale = sc[s, _LONG_SCALE]
    drift_scale = sc[s, _DRIFT_SCALE]
    slow_base = sc[s, _SLOW_BASE]
    run = int(sc[s, _RUN])
    model = int(sc[s, _MODEL])
    lv0, lv1, lv2 = sc[s, _LV], sc[s, _LV + 1], sc[s, _LV + 2]
    bs0, bs1, bs2 = sc[s, _BS], sc[s, _BS + 1], sc[s, _BS + 2]
    sp0, sp1, sp2 = sc[s, _SP], sc[s, _SP + 1], sc[s, _SP + 2]
    q0, q1, q2 = sc[s, _Q], sc[s, _Q + 1], sc[s, _Q + 2]
    q3, q4, q5 = sc[s, _Q + 3], sc[s, _Q + 4], sc[s, _Q + 5]
    q6, q7 = sc[s, _Q + 6], sc[s, _Q + 7]
    # the tail indices, expected-range factors and episode fields stay in the state row (L1 after
    # the first point): they change rarely, and as locals they were spilled and reloaded every point

    # rates derived from the step; recomputed when the step estimate moves
    rate_step = sc[s, _RATE_STEP]
    need_rates = not (rate_step > 0.0 and sc[s, _RATES_STEP] == rate_step and sc[s, _RATES_WINDOW] == window)
    a_fast, a_base, a_spread = sc[s, _A_FAST], sc[s, _A_FAST + 1], sc[s, _A_FAST + 2]
    a_short, a_long = sc[s, _A_FAST + 3], sc[s, _A_FAST + 4]
    a_drift, a_min = sc[s, _A_FAST + 5], sc[s, _A_FAST + 6]
    q_up, q_dn, a_xi = sc[s, _A_FAST + 7], sc[s, _A_FAST + 8], sc[s, _A_FAST + 9]
    # log(1 - rate) of each rate, derived at the first gap (most series have none)
    have_logs = False
    l_fast = l_base = l_spread = l_short = l_long = l_drift = 0.0
    week_window = max(window, WEEK)
    if not (n > 0 and sc[s, _RANGE_THR] == s_thr):
        xi_up = sc[s, _XI]
        xi_dn = sc[s, _XI + 1]
        sc[s, _F_UP] = _range_factor(s_thr, 1.0, xi_up if xi_up > 0 else tun.xi_min, ln_inv_f)
        sc[s, _F_DN] = _range_factor(s_thr, 1.0, xi_dn if xi_dn > 0 else tun.xi_min, ln_inv_f)

    for i in range(a, b):
        t = ts[i]
        x = xs[i]
        if not (abs(t) <= T_LIMIT and math.isfinite(x)) or (n > 0 and t <= last_ts):
            o_skipped[order[i]] = 1
            o_score[i] = 0.0
            o_mean[i] = np.nan
            o_std[i] = np.nan
            o_lower[i] = np.nan
            o_upper[i] = np.nan
            if n < min_pts:
                o_learning[order[i]] = 1
            continue
        x = _clip(x, X_CAP)
        learning = n < min_pts
        if learning:
            o_learning[order[i]] = 1

        if n == 0:      # first point: everything starts at the value
            first_ts = t
            last_ts = t
            prev_x = x
            slow = x
            lv0 = lv1 = lv2 = x
            bs0 = bs1 = bs2 = x
            sp0 = sp1 = sp2 = 0.0
            q0 = q1 = q2 = q3 = q4 = q5 = q6 = q7 = 3.0
            for j in range(8):
                sc[s, _XI + j] = 0.3
            drift_scale = 0.0
            slow_base = x
            sc[s, _F_UP] = sc[s, _F_DN] = _range_factor(s_thr, 1.0, 0.3, ln_inv_f)
            short = short_scale = long = long_scale = 0.0
            quantum = 0.0
            run = 0
            model = 0
            n = 1
            o_score[i] = 0.0
            o_mean[i] = x
            o_std[i] = 0.0
            o_lower[i] = x
            o_upper[i] = x
            continue

        # ---- time: step (running median of gaps, in log space) and gap size
        dt = t - last_ts
        if step <= 0.0:
            step = dt
        elif dt > step:
            step *= 1.02
        elif dt < step:
            step *= 0.98
        if rate_step <= 0.0 or abs(step - rate_step) > tun.rate_step_tolerance * rate_step:
            rate_step = step                           # kept in the state: batch splits agree
            need_rates = True
        if need_rates:
            need_rates = False
            have_logs = False
            w_pts = window / rate_step                 # points in the comparison window
            a_fast = 1.0 / max(1.0, min(tun.fast_points, 0.25 * w_pts))
            a_base = 1.0 / max(1.0, min(tun.base_points, 0.5 * w_pts))
            a_spread = 1.0 / max(1.0, min(tun.spread_points, 0.5 * w_pts))
            a_short = 1.0 / max(1.0, tun.short_points)
            a_long = 1.0 / max(1.0, min(tun.long_points, 0.25 * w_pts))
            a_drift = 1.0 / max(1.0, min(tun.drift_points, 0.5 * w_pts))
            a_min = min(min(min(a_fast, a_base), min(a_spread, a_short)), min(a_long, a_drift))
            tail_pts = max(1.0, min(tun.tail_points, w_pts))
            eta = 1.0 / (f * tail_pts)
            q_up = math.exp(min(eta, 1.0) * (1.0 - f))
            q_dn = math.exp(-min(eta, 1.0) * f)
            a_xi = min(1.0, eta)
        if dt <= 1.5 * step and n * a_min >= 1.0:   # the usual case: a regular step, past the start
            af, ab, asp, ash, alg, adr = a_fast, a_base, a_spread, a_short, a_long, a_drift
        elif dt <= 1.4 * step:      # then dt / step <= 1.5 (rounding included): the gap rate is a
            inv_n = 1.0 / n
            af = max(a_fast, inv_n)
            ab = max(a_base, inv_n)
            asp = max(a_spread, inv_n)
            ash = max(a_short, inv_n)
            alg = max(a_long, inv_n)
            adr = max(a_drift, inv_n)
        else:
            if not have_logs:       # the first gap of this series in the batch
                have_logs = True
                l_fast, l_base, l_spread = math.log1p(-a_fast), math.log1p(-a_base), math.log1p(-a_spread)
                l_short, l_long, l_drift = math.log1p(-a_short), math.log1p(-a_long), math.log1p(-a_drift)
            k = dt / step
            inv_n = 1.0 / n
            af = max(_gap_rate(a_fast, l_fast, k), inv_n)
            ab = max(_gap_rate(a_base, l_base, k), inv_n)
            asp = max(_gap_rate(a_spread, l_spread, k), inv_n)
            ash = max(_gap_rate(a_short, l_short, k), inv_n)
            alg = max(_gap_rate(a_long, l_long, k), inv_n)
            adr = max(_gap_rate(a_drift, l_drift, k), inv_n)

        # ---- predictions of the three models
        pd = (t - _floor_div(t, DAY, 1.0 / DAY) * DAY) * (DAILY_BUCKETS / DAY) - 0.5
        d0f = math.floor(pd)
        dw = pd - d0f
        d0 = _wrap(int(d0f), DAILY_BUCKETS)
        d1 = _wrap(d0 + 1, DAILY_BUCKETS)
        sd = (1.0 - dw) * pr[s, d0] + dw * pr[s, d1]
        pw = (t - _floor_div(t, WEEK, 1.0 / WEEK) * WEEK) * (WEEKLY_BUCKETS / WEEK) - 0.5
        w0f = math.floor(pw)
        ww = pw - w0f
        w0 = _wrap(int(w0f), WEEKLY_BUCKETS)
        w1 = _wrap(w0 + 1, WEEKLY_BUCKETS)
        sw = (1.0 - ww) * pr[s, DAILY_BUCKETS + w0] + ww * pr[s, DAILY_BUCKETS + w1]

        m = model if seas == 3 else seas
        if m == 1:
            season = sd
            pred = lv1 + sd
            spm = sp1
            bmed = bs1
        elif m == 2:
            season = sw
            pred = lv2 + sw
            spm = sp2
            bmed = bs2
        else:
            season = 0.0
            pred = lv0
            spm = sp0
            bmed = bs0
        bpred = bmed + season
        floor = max(tun.quantum_floor * quantum, 1e-9 * abs(pred), 1e-300)
        spm = max(spm, floor)
        r = x - pred
        z1 = _clip(r / spm, Z_CAP)

        u = x - bpred
        short += ash * (u - short)
        z2 = _clip(short / max(short_scale, floor), Z_CAP)
        long += alg * (u - long)
        z3 = _clip(long / max(long_scale, floor), Z_CAP)
        # drift: the medium baseline against a slow one (ramps and shifts too gradual for z2/z3)
        drift = bmed - slow_base
        z4 = _clip(drift / max(drift_scale, floor), Z_CAP)

        # ---- calibrated surprise and score
        s1 = _side_surprise(z1, q0, q1, sc[s, _XI], sc[s, _XI + 1], ln_inv_f)
        s2 = _side_surprise(z2, q2, q3, sc[s, _XI + 2], sc[s, _XI + 3], ln_inv_f)
        s3 = _side_surprise(z3, q4, q5, sc[s, _XI + 4], sc[s, _XI + 5], ln_inv_f)
        s4 = _side_surprise(z4, q6, q7, sc[s, _XI + 6], sc[s, _XI + 7], ln_inv_f)
        if n * a_drift < 1.0:           # the slow baseline has not seen its window yet
            s4 = 0.0
        s2 = max(max(s2, s3), s4)
        sv = max(s1, s2)

        # ---- decision
        std = MAD_TO_STD * spm
        guard = 0
        if enabled and not learning and pred > 0.0 and pred > tun.ratio_guard_k * std:
            if x >= spike_thr * pred:
                guard = 1
            elif x <= drop_thr * pred:
                guard = 2
        anomalous = enabled and not learning and (sv >= sv_info or guard != 0)
        typ = 0
        sev = 0
        if anomalous:
            if guard != 0:          # a ratio rule, not statistics: the score is left as it is
                typ = guard
            elif s1 >= s_thr or s1 >= s2:     # the point alone is anomalous
                typ = 1 if r > 0.0 else 2
            else:
                typ = 3 if abs(z1) < tun.trend_z else 4
            sev = 3 if sv >= sv_crit else (2 if sv >= sv_warn else 1)
            if guard != 0:
                sev = max(sev, 2)

        # ---- episode state machine
        ev = 0
        if anomalous:
            if sc[s, _EP_OPEN] != 0.0:
                ev = 2
            else:
                ev = 1
                sc[s, _EP_OPEN] = 1.0
                sc[s, _EP_START] = t
                sc[s, _EP_PEAK] = 0.0
            sc[s, _EP_QUIET] = 0.0
            sc[s, _EP_PEAK] = max(sc[s, _EP_PEAK], score_of_surprise(sv, tun.score_k))
        elif sc[s, _EP_OPEN] != 0.0:
            if not enabled or learning:         # detection switched off: end the episode now
                ev = 4
                o_end_ts[order[i]] = t
                sc[s, _EP_OPEN] = 0.0
                sc[s, _EP_QUIET] = 0.0
            else:
                if sc[s, _EP_QUIET] == 0.0:
                    sc[s, _EP_QUIET_TS] = t
                ep_quiet = sc[s, _EP_QUIET] + 1.0
                sc[s, _EP_QUIET] = ep_quiet
                if ep_quiet >= tun.close_points or t - sc[s, _EP_QUIET_TS] >= tun.close_seconds:
                    ev = 4
                    o_end_ts[order[i]] = sc[s, _EP_QUIET_TS]
                    sc[s, _EP_OPEN] = 0.0
                    sc[s, _EP_QUIET] = 0.0
                else:
                    ev = 3
        o_score[i] = sv if not learning else 0.0
        o_mean[i] = pred
        o_std[i] = std
        o_lower[i] = max(pred - q1 * sc[s, _F_DN] * spm, -RANGE_CAP)
        o_upper[i] = min(pred + q0 * sc[s, _F_UP] * spm, RANGE_CAP)
        if typ != 0:
            o_type[order[i]] = typ
            o_severity[order[i]] = sev
        if ev != 0:
            o_event[order[i]] = ev
            o_peak[order[i]] = sc[s, _EP_PEAK]     # ev != 0: the episode is open or closing

        # ---- learning from the point
        # value resolution (counters, rounded gauges): floors the spread from the next point on
        d = abs(x - prev_x)
        if d > 1e-9 * (abs(x) + abs(prev_x)):
            quantum = d if quantum == 0.0 or d < quantum else quantum
        warm = n >= 10                  # before that, plain running means (spreads are unknown)
        big = abs(z1) > tun.huber_clip and warm
        in_cluster = run != 0           # the previous point was big too: not a new tail event
        if big:
            if (z1 > 0.0) == (run > 0):
                run += 1 if run > 0 else -1
            else:
                run = 1 if z1 > 0.0 else -1
        else:
            run = 0
        accept = abs(run) >= tun.shift_run
        c = tun.huber_clip
        cs = tun.spread_clip
        # model none
        f0 = max(sp0, floor)
        e = x - lv0
        lv0 += 0.5 * e if accept else af * (_clip(e, c * f0) if warm else e)
        sp0 += asp * ((min(abs(e), cs * f0) if warm else abs(e)) - sp0)
        # model daily
        f1 = max(sp1, floor)
        e = x - sd - lv1
        lv1 += 0.5 * e if accept else af * (_clip(e, c * f1) if warm else e)
        sp1 += asp * ((min(abs(e), cs * f1) if warm else abs(e)) - sp1)
        # model weekly
        f2 = max(sp2, floor)
        e = x - sw - lv2
        lv2 += 0.5 * e if accept else af * (_clip(e, c * f2) if warm else e)
        sp2 += asp * ((min(abs(e), cs * f2) if warm else abs(e)) - sp2)
        # medium baselines
        bc = 4.0 * c
        bs0 += ab * (_clip(x - bs0, bc * f0) if warm else x - bs0)
        bs1 += ab * (_clip(x - sd - bs1, bc * f1) if warm else x - sd - bs1)
        bs2 += ab * (_clip(x - sw - bs2, bc * f2) if warm else x - sw - bs2)
        short_scale += asp * ((min(abs(short), cs * max(short_scale, floor)) if warm else abs(short))
                              - short_scale)
        long_scale += asp * ((min(abs(long), cs * max(long_scale, floor)) if warm else abs(long))
                             - long_scale)
        da = abs(drift)
        drift_scale += adr * ((min(da, cs * max(drift_scale, floor)) if warm else da) - drift_scale)
        slow_base += adr * (x - season - slow_base)
        if accept or (warm and s2 >= tun.reset_surprise):
            bs0 = lv0
            bs1 = lv1
            bs2 = lv2
            short = 0.0
            long = 0.0

        # slow level and seasonal profiles (offsets from the slow level)
        tau_slow = min(window, tun.slow_seconds)
        a_slow = min(dt / tau_slow, 1.0)
        if a_slow * n < 1.0:            # running mean over the first points
            a_slow = 1.0 / n
        slow += a_slow * (x - slow)
        dev = x - slow
        age = t - first_ts
        seen_daily = age >= tun.daily_min_days * DAY
        # profile learning rates: one point in a bucket's share of the history, or of the window
        d_span = DAILY_BUCKETS * step
        ad = d_span / (d_span + age if d_span + age < window else window)
        e = dev - sd
        if seen_daily:
            e = _clip(e, bc * f1)
        pr[s, d0] = _f32(pr[s, d0] + ad * (1.0 - dw) * e)
        pr[s, d1] = _f32(pr[s, d1] + ad * dw * e)
        w_span = WEEKLY_BUCKETS * step
        aw = w_span / (w_span + age if w_span + age < week_window else week_window)
        e = dev - sw
        if age >= tun.weekly_min_days * DAY:
            e = _clip(e, bc * f2)
        pr[s, DAILY_BUCKETS + w0] = _f32(pr[s, DAILY_BUCKETS + w0] + aw * (1.0 - ww) * e)
        pr[s, DAILY_BUCKETS + w1] = _f32(pr[s, DAILY_BUCKETS + w1] + aw * ww * e)

        # tail models learn after warm-up (one side sees the point, the other a non-exceedance)
        if n >= tun.tail_warmup:
            xi_was_up = sc[s, _XI]
            xi_was_dn = sc[s, _XI + 1]
            # declustered: the points of a burst after its first teach the quantile, not the index
            q0, q1 = _tail_learn(z1, q0, q1, sc, s, _XI, 0.0 if in_cluster else a_xi, q_up, q_dn, tun)
            q2, q3 = _tail_learn(z2, q2, q3, sc, s, _XI + 2, a_xi, q_up, q_dn, tun)
            q4, q5 = _tail_learn(z3, q4, q5, sc, s, _XI + 4, a_xi, q_up, q_dn, tun)
            q6, q7 = _tail_learn(z4, q6, q7, sc, s, _XI + 6, a_xi, q_up, q_dn, tun)
            if sc[s, _XI] != xi_was_up:     # the expected range moves with the point model's tails
                sc[s, _F_UP] = _range_factor(s_thr, 1.0, sc[s, _XI], ln_inv_f)
            if sc[s, _XI + 1] != xi_was_dn:
                sc[s, _F_DN] = _range_factor(s_thr, 1.0, sc[s, _XI + 1], ln_inv_f)

        # seasonal model selection (auto): the best ready model, the incumbent favoured
        if seas == 3:
            best = 0
            best_sp = sp0 * (tun.select_margin if model == 0 else 1.0)
            if seen_daily:
                v = sp1 * (tun.select_margin if model == 1 else 1.0)
                if v < best_sp:
                    best = 1
                    best_sp = v
            if age >= tun.weekly_min_days * DAY:
                v = sp2 * (tun.select_margin if model == 2 else 1.0)
                if v < best_sp:
                    best = 2
            if best != model:
                model = best
                short = 0.0
                long = 0.0
                slow_base = bs0 if best == 0 else (bs1 if best == 1 else bs2)

        n += 1
        last_ts = t
        prev_x = x

    # ---- locals back into the state
    sc[s, _COUNT] = n
    sc[s, _LAST_TS] = last_ts
    sc[s, _FIRST_TS] = first_ts
    sc[s, _STEP] = step
    sc[s, _RATE_STEP] = rate_step
    sc[s, _QUANTUM] = quantum
    sc[s, _PREV_X] = prev_x
    sc[s, _SLOW] = slow
    sc[s, _SHORT] = short
    sc[s, _SHORT_SCALE] = short_scale
    sc[s, _LONG] = long
    sc[s, _LONG_SCALE] = long_scale
    sc[s, _DRIFT_SCALE] = drift_scale
    sc[s, _SLOW_BASE] = slow_base
    sc[s, _RUN] = run
    sc[s, _MODEL] = model
    sc[s, _LV], sc[s, _LV + 1], sc[s, _LV + 2] = lv0, lv1, lv2
    sc[s, _BS], sc[s, _BS + 1], sc[s, _BS + 2] = bs0, bs1, bs2
    sc[s, _SP], sc[s, _SP + 1], sc[s, _SP + 2] = sp0, sp1, sp2
    sc[s, _Q], sc[s, _Q + 1], sc[s, _Q + 2] = q0, q1, q2
    sc[s, _Q + 3], sc[s, _Q + 4], sc[s, _Q + 5] = q3, q4, q5
    sc[s, _Q + 6], sc[s, _Q + 7] = q6, q7
    if not need_rates:              # rates derived in this call (or loaded) are kept for the next
        sc[s, _RATES_STEP] = rate_step
        sc[s, _RATES_WINDOW] = window
        sc[s, _A_FAST], sc[s, _A_FAST + 1], sc[s, _A_FAST + 2] = a_fast, a_base, a_spread
        sc[s, _A_FAST + 3], sc[s, _A_FAST + 4] = a_short, a_long
        sc[s, _A_FAST + 5], sc[s, _A_FAST + 6] = a_drift, a_min
        sc[s, _A_FAST + 7], sc[s, _A_FAST + 8], sc[s, _A_FAST + 9] = q_up, q_dn, a_xi
    sc[s, _RANGE_THR] = s_thr
