"""Plain-Python references of the detection kernels: slow and obvious, one point at a time.

They restate services/detect/kernels/{grouping,scoring}.py with lists and loops (no numba, no
arrays of state) so the tests can compare the compiled kernels with them on any data.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from services.detect.kernels.tunables import Tunables

DAY, WEEK = 86400.0, 7 * 86400.0
ND, NW = 48, 168
MAD_TO_STD = 1.2533141373155003
Z_CAP = 1e12
X_CAP = 1e150       # values are scored within +-X_CAP
RANGE_CAP = 1e300   # expected-range bounds within +-RANGE_CAP
T_LIMIT = 1e13      # times beyond +-T_LIMIT are skipped


def group_by_slot_ref(slots: list[int], n_slots: int) -> tuple[list[int], list[int]]:
    order = sorted(range(len(slots)), key=lambda i: (slots[i], i))
    starts = [0] * (n_slots + 1)
    for s in slots:
        starts[s + 1] += 1
    for s in range(n_slots):
        starts[s + 1] += starts[s]
    return order, starts


def clip(v: float, c: float) -> float:
    return min(max(v, -c), c)


def surprise(z: float, q: float, xi: float, ln_inv_f: float) -> float:
    return ln_inv_f * z / q if z <= q else ln_inv_f + math.log(z / q) / xi


def score_of_surprise(s: float, k: float) -> float:
    v = s / k
    return -math.expm1(-v) if v <= 30.0 else 1.0 - math.exp(-30.0) * 30.0 / v


def surprise_of_score(score: float, k: float) -> float:
    p = 1.0 - score
    return -k * math.log(p) if p >= math.exp(-30.0) else k * math.exp(-30.0) * 30.0 / p


def range_factor(s_thr: float, xi: float, ln_inv_f: float) -> float:
    return s_thr / ln_inv_f if s_thr <= ln_inv_f else math.exp(min((s_thr - ln_inv_f) * xi, 700.0))


def f32(v: float) -> np.float32:
    return np.float32(min(max(v, -3.0e38), 3.0e38))


def gap_rate(a: float, k: float) -> float:
    return a if k <= 1.5 else 1.0 - (1.0 - a) ** min(k, 1e6)


@dataclass
class RefConfig:
    enabled: bool = True
    spike_threshold: float = 3.0
    drop_threshold: float = 0.3
    min_data_points: int = 100
    window_seconds: float = 7 * 86400.0
    sensitivity: int = 1
    seasonality: int = 3


@dataclass
class RefSeries:
    """One series' state and its per-point update."""

    n: int = 0
    last_ts: float = 0.0
    first_ts: float = 0.0
    step: float = 0.0
    rate_step: float = 0.0
    quantum: float = 0.0
    prev_x: float = 0.0
    slow: float = 0.0
    stat: list[float] = field(default_factory=lambda: [0.0, 0.0])     # short, long
    scale: list[float] = field(default_factory=lambda: [0.0, 0.0])    # their normal sizes
    drift_scale: float = 0.0
    slow_base: float = 0.0
    run: int = 0
    model: int = 0
    level: list[float] = field(default_factory=lambda: [0.0] * 3)
    base: list[float] = field(default_factory=lambda: [0.0] * 3)
    spread: list[float] = field(default_factory=lambda: [0.0] * 3)
    q: list[float] = field(default_factory=lambda: [0.0] * 8)
    xi: list[float] = field(default_factory=lambda: [0.0] * 8)
    ep_open: bool = False
    ep_quiet: int = 0
    ep_quiet_ts: float = 0.0
    ep_peak: float = 0.0
    daily: list = field(default_factory=lambda: [np.float32(0.0)] * ND)
    weekly: list = field(default_factory=lambda: [np.float32(0.0)] * NW)
    rates: dict = field(default_factory=dict)

    def _rates(self, cfg: RefConfig, tun: Tunables) -> None:
        f = tun.tail_fraction
        w_pts = max(cfg.window_seconds, 3600.0) / self.rate_step
        eta = 1.0 / (f * max(1.0, min(tun.tail_points, w_pts)))
        self.rates = {
            "fast": 1.0 / max(1.0, min(tun.fast_points, 0.25 * w_pts)),
            "base": 1.0 / max(1.0, min(tun.base_points, 0.5 * w_pts)),
            "spread": 1.0 / max(1.0, min(tun.spread_points, 0.5 * w_pts)),
            "short": 1.0 / max(1.0, tun.short_points),
            "long": 1.0 / max(1.0, min(tun.long_points, 0.25 * w_pts)),
            "drift": 1.0 / max(1.0, min(tun.drift_points, 0.5 * w_pts)),
            "q_up": math.exp(min(eta, 1.0) * (1.0 - f)),
            "q_dn": math.exp(-min(eta, 1.0) * f),
            "xi": min(1.0, eta),
        }

    def point(self, t: float, x: float, cfg: RefConfig, tun: Tunables, thr: np.ndarray,
              new_batch: bool) -> dict:
        """Score one point; returns the kernel's outputs as a dict."""
        f = tun.tail_fraction
        ln_inv_f = -math.log(f)
        thr_info, thr_warn, thr_crit = (float(v) for v in thr[cfg.sensitivity])
        s_thr = surprise_of_score(thr_info, tun.score_k)
        window = max(cfg.window_seconds, 3600.0)
        learning = self.n < cfg.min_data_points
        res = {"skipped": 0, "end_ts": math.nan, "type": 0, "severity": 0, "event": 0, "peak": 0.0,
               "learning": int(learning)}
        if new_batch and self.rate_step > 0.0:
            self._rates(cfg, tun)
        if not (abs(t) <= T_LIMIT and math.isfinite(x)) or (self.n > 0 and t <= self.last_ts):
            res.update(skipped=1, score=0.0, mean=math.nan, std=math.nan, lower=math.nan, upper=math.nan)
            return res
        x = min(max(x, -X_CAP), X_CAP)
        if self.n == 0:
            self.first_ts = self.last_ts = t
            self.prev_x = self.slow = x
            self.level = [x] * 3
            self.base = [x] * 3
            self.q = [3.0] * 8
            self.xi = [0.3] * 8
            self.slow_base = x
            self.n = 1
            res.update(score=0.0, mean=x, std=0.0, lower=x, upper=x)
            return res

        dt = t - self.last_ts
        if self.step <= 0.0:
            self.step = dt
        elif dt > self.step:
            self.step *= 1.02
        elif dt < self.step:
            self.step *= 0.98
        k = dt / self.step
        if (self.rate_step <= 0.0
                or abs(self.step - self.rate_step) > tun.rate_step_tolerance * self.rate_step):
            self.rate_step = self.step
            self._rates(cfg, tun)
        r8 = self.rates
        inv_n = 1.0 / self.n
        af, ab, asp, ash, alg, adr = (max(gap_rate(r8[name], k), inv_n)
                                      for name in ("fast", "base", "spread", "short", "long", "drift"))

        # seasonal offsets, linearly interpolated between bucket centres
        pd = (t - math.floor(t / DAY) * DAY) * (ND / DAY) - 0.5
        d0 = math.floor(pd)
        dw = pd - d0
        d0 %= ND
        d1 = (d0 + 1) % ND
        pw = (t - math.floor(t / WEEK) * WEEK) * (NW / WEEK) - 0.5
        w0 = math.floor(pw)
        ww = pw - w0
        w0 %= NW
        w1 = (w0 + 1) % NW
        season = [0.0, (1.0 - dw) * float(self.daily[d0]) + dw * float(self.daily[d1]),
                  (1.0 - ww) * float(self.weekly[w0]) + ww * float(self.weekly[w1])]

        m = self.model if cfg.seasonality == 3 else cfg.seasonality
        pred = self.level[m] + season[m]
        floor = max(tun.quantum_floor * self.quantum, 1e-9 * abs(pred), 1e-300)
        spm = max(self.spread[m], floor)
        r = x - pred
        u = x - (self.base[m] + season[m])
        self.stat[0] += ash * (u - self.stat[0])
        self.stat[1] += alg * (u - self.stat[1])
        drift = self.base[m] - self.slow_base
        z = [clip(r / spm, Z_CAP), clip(self.stat[0] / max(self.scale[0], floor), Z_CAP),
             clip(self.stat[1] / max(self.scale[1], floor), Z_CAP),
             clip(drift / max(self.drift_scale, floor), Z_CAP)]
        s = []
        for j in range(4):
            side = 2 * j + (0 if z[j] >= 0.0 else 1)
            s.append(surprise(abs(z[j]), self.q[side], self.xi[side], ln_inv_f))
        if self.n * r8["drift"] < 1.0:      # the slow baseline has not seen its window yet
            s[3] = 0.0
        s_sustained = max(s[1], s[2], s[3])
        sv = max(s[0], s_sustained)
        score = 0.0 if learning else score_of_surprise(sv, tun.score_k)

        std = MAD_TO_STD * spm
        guard = 0
        on = cfg.enabled and not learning
        if on and pred > 0.0 and pred > tun.ratio_guard_k * std:
            if x >= cfg.spike_threshold * pred:
                guard = 1
            elif x <= cfg.drop_threshold * pred:
                guard = 2
        anomalous = on and (score >= thr_info or guard != 0)
        if anomalous:
            if guard:
                res["type"] = guard
            elif s[0] >= s_thr or s[0] >= s_sustained:
                res["type"] = 1 if r > 0.0 else 2
            else:
                res["type"] = 3 if abs(z[0]) < tun.trend_z else 4
            sev = 3 if score >= thr_crit else (2 if score >= thr_warn else 1)
            res["severity"] = max(sev, 2) if guard else sev

        # episodes
        if anomalous:
            res["event"] = 2 if self.ep_open else 1
            if not self.ep_open:
                self.ep_open, self.ep_peak = True, 0.0
            self.ep_quiet = 0
            self.ep_peak = max(self.ep_peak, score)
        elif self.ep_open:
            if not on:
                res["event"], res["end_ts"] = 4, t
                self.ep_open, self.ep_quiet = False, 0
            else:
                if self.ep_quiet == 0:
                    self.ep_quiet_ts = t
                self.ep_quiet += 1
                if self.ep_quiet >= tun.close_points or t - self.ep_quiet_ts >= tun.close_seconds:
                    res["event"], res["end_ts"] = 4, self.ep_quiet_ts
                    self.ep_open, self.ep_quiet = False, 0
                else:
                    res["event"] = 3
        res["peak"] = self.ep_peak if (self.ep_open or res["event"] == 4) else 0.0
        f_up = range_factor(s_thr, self.xi[0], ln_inv_f)
        f_dn = range_factor(s_thr, self.xi[1], ln_inv_f)
        res.update(score=score, mean=pred, std=std, lower=max(pred - self.q[1] * f_dn * spm, -RANGE_CAP),
                   upper=min(pred + self.q[0] * f_up * spm, RANGE_CAP))

        # learning
        d = abs(x - self.prev_x)
        if d > 1e-9 * (abs(x) + abs(self.prev_x)) and (self.quantum == 0.0 or d < self.quantum):
            self.quantum = d
        warm = self.n >= 10
        in_cluster = self.run != 0          # the previous point was big too
        if abs(z[0]) > tun.huber_clip and warm:
            if (z[0] > 0.0) == (self.run > 0):
                self.run += 1 if self.run > 0 else -1
            else:
                self.run = 1 if z[0] > 0.0 else -1
        else:
            self.run = 0
        accept = abs(self.run) >= tun.shift_run
        c, cs = tun.huber_clip, tun.spread_clip
        fl = [max(self.spread[j], floor) for j in range(3)]
        for j in range(3):
            e = x - season[j] - self.level[j]
            if accept:
                self.level[j] += 0.5 * e
            else:
                self.level[j] += af * (clip(e, c * fl[j]) if warm else e)
            self.spread[j] += asp * ((min(abs(e), cs * fl[j]) if warm else abs(e)) - self.spread[j])
        for j in range(3):
            e = x - season[j] - self.base[j]
            self.base[j] += ab * (clip(e, 4.0 * c * fl[j]) if warm else e)
        for j in range(2):
            a = abs(self.stat[j])
            self.scale[j] += asp * ((min(a, cs * max(self.scale[j], floor)) if warm else a) - self.scale[j])
        a = abs(drift)
        a = min(a, cs * max(self.drift_scale, floor)) if warm else a
        self.drift_scale += adr * (a - self.drift_scale)
        self.slow_base += adr * (x - season[m] - self.slow_base)
        if accept or (warm and s_sustained >= tun.reset_surprise):
            self.base = list(self.level)
            self.stat = [0.0, 0.0]

        self.slow += max(min(dt / min(window, tun.slow_seconds), 1.0), inv_n) * (x - self.slow)
        dev = x - self.slow
        age = t - self.first_ts
        ad = (ND * self.step) / min(ND * self.step + age, window)
        e = dev - season[1]
        if age >= tun.daily_min_days * DAY:
            e = clip(e, 4.0 * c * fl[1])
        self.daily[d0] = f32(float(self.daily[d0]) + ad * (1.0 - dw) * e)
        self.daily[d1] = f32(float(self.daily[d1]) + ad * dw * e)
        aw = (NW * self.step) / min(NW * self.step + age, max(window, WEEK))
        e = dev - season[2]
        if age >= tun.weekly_min_days * DAY:
            e = clip(e, 4.0 * c * fl[2])
        self.weekly[w0] = f32(float(self.weekly[w0]) + aw * (1.0 - ww) * e)
        self.weekly[w1] = f32(float(self.weekly[w1]) + aw * ww * e)

        if self.n >= tun.tail_warmup:
            for j in range(4):
                up, dn = 2 * j, 2 * j + 1
                side, other = (up, dn) if z[j] >= 0.0 else (dn, up)
                zz = abs(z[j])
                if zz > self.q[side]:
                    a_xi = 0.0 if (j == 0 and in_cluster) else r8["xi"]    # declustered point tails
                    self.xi[side] += a_xi * (min(math.log(zz / self.q[side]), tun.xi_cap) - self.xi[side])
                    self.xi[side] = min(max(self.xi[side], tun.xi_min), tun.xi_max)
                    self.q[side] *= r8["q_up"]
                else:
                    self.q[side] *= r8["q_dn"]
                self.q[other] *= r8["q_dn"]
            self.q = [max(v, tun.q_min) for v in self.q]

        if cfg.seasonality == 3:
            cands = [0]
            if age >= tun.daily_min_days * DAY:
                cands.append(1)
            if age >= tun.weekly_min_days * DAY:
                cands.append(2)
            best, best_v = 0, math.inf
            for j in cands:
                v = self.spread[j] * (tun.select_margin if j == self.model else 1.0)
                if v < best_v:
                    best, best_v = j, v
            if best != self.model:
                self.model = best
                self.stat = [0.0, 0.0]
                self.slow_base = self.base[best]

        self.n += 1
        self.last_ts = t
        self.prev_x = x
        return res


def score_reference(slots: list[int], ts: list[float], xs: list[float], configs: list[RefConfig],
                    series: list[RefSeries], tun: Tunables, thr: np.ndarray) -> list[dict]:
    """One batch, point by point in arrival order (series are independent)."""
    seen: set[int] = set()
    out = []
    for s, t, x in zip(slots, ts, xs, strict=True):
        out.append(series[s].point(t, x, configs[s], tun, thr, new_batch=s not in seen))
        seen.add(s)
    return out
