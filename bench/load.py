"""Sustained load on the running system, beside the ceilings of its frameworks, on loopback.

    .venv/bin/python -m bench.load [--duration 15] [--clients 2] [--connections 8] [--concurrency 8]
    .venv/bin/python -m bench.load --postgres [postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
    .venv/bin/python -m bench.load --url http://127.0.0.1:8080 --key aw_live_... [--grpc 127.0.0.1:50052]

By default it starts its own system (every service as its own process, as `make run` does, on
free loopback ports, SQLite under a temporary directory, or with --postgres scratch databases),
creates an account and a key through the command-line tool and stops everything at the end. With
--url it drives a system already running (the key's plan limits then apply; the gRPC phase needs
--grpc, the ingest service's address).

Phases, each bounded by a request count and by time (whichever comes first), after a warm-up whose
requests are not counted:
  bare Flask route   a Flask route that parses the same single-point body and answers JSON, under
                     the gateway's own gunicorn settings (gateway.server.serve_wsgi): the REST ceiling
  REST single point  POST /v1/ingest, one point per request
  REST batch         POST /v1/ingest with --batch points per request
  bare gRPC echo     a gRPC server built like the services' (services.common.grpc_server, the ingest
                     service's thread count) that parses the same IngestRequest and sends it back
  bare storage       the points table alone on catalog's database settings, 5000 rows per transaction
                     (catalog's largest group write), in the bench's own process: the storage ceiling
  gRPC batch         IngestService.Ingest with --batch points per call: validated, stored in catalog,
                     scored by detect, episodes applied, answered per point
  anomaly listing    GET /v1/anomalies?limit=50

Load generators are separate processes (--clients), each with asyncio: REST over keep-alive
connections with pre-encoded requests and a minimal HTTP/1.1 reader, gRPC with concurrent calls
of pre-serialized requests. Every series is written by one connection or call slot only, in
chronological order, so every point is accepted. The `cores` columns are the CPU the clients and
(when started here) each service used per second of the phase, so a saturated generator shows.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.scratch_db import DEFAULT_ADMIN_URL, create_database, drop_database
from cli.ports import free_port, free_port_block

REPO = Path(__file__).resolve().parents[1]
BENCH_PLAN = "bench"  # a plan without practical limits, so the limiter counts but never refuses
BENCH_PLANS = json.dumps({BENCH_PLAN: {"per_minute": 1_000_000_000, "burst_per_second": 1_000_000_000,
                                       "max_series": None}})
INGEST_METHOD = "/anomalywatch.ingest.v1.IngestService/Ingest"
ECHO_METHOD = "/bench.v1.Echo/Echo"
T0_AGO = 20 * 86400  # points start 20 days back (within the 30-day retention) and advance 1 s each
SPIKE_EVERY = 397  # now and then a spike, so detection opens episodes and the listing has anomalies


# ---------------------------------------------------------------------------------------- ceilings
def bare_flask_app():
    """The REST ceiling: what any Flask route under gunicorn costs (parse JSON, answer JSON)."""
    from flask import Flask, jsonify, request

    app = Flask("bench.bare")

    @app.post("/ingest")
    def ingest():
        body = request.get_json()
        return jsonify({"status": "ingested", "metric": body.get("metric")})

    @app.get("/readyz")
    def ready():
        return jsonify({"status": "ready"})

    return app


def serve_bare_flask() -> int:
    from gateway.server import serve_wsgi
    from services.common.config import load_settings

    return serve_wsgi(bare_flask_app, load_settings(), "bench-flask")


def serve_echo() -> int:
    """The gRPC ceiling: the services' server (options, interceptors, health) with one method that
    parses an IngestRequest and answers it back, at the ingest service's thread count."""
    import grpc

    from anomalywatch.ingest.v1 import ingest_pb2
    from services.common.config import load_settings
    from services.common.grpc_server import ServiceSpec, run
    from services.ingest.server import MAX_WORKERS

    def register(server) -> None:
        handler = grpc.unary_unary_rpc_method_handler(
            lambda request, context: request, request_deserializer=ingest_pb2.IngestRequest.FromString,
            response_serializer=ingest_pb2.IngestRequest.SerializeToString)
        echo = grpc.method_handlers_generic_handler("bench.v1.Echo", {"Echo": handler})
        server.add_generic_rpc_handlers((echo,))

    return run(ServiceSpec(name="bench-echo", register=register, service_names=("bench.v1.Echo",),
                           max_workers=MAX_WORKERS), load_settings(), os.environ["BENCH_ECHO_ADDR"])


# ---------------------------------------------------------------------------------------- payloads
def value_at(n: int) -> float:
    """A noisy daily-ish signal with a spike every SPIKE_EVERY points."""
    base = 100.0 + 10.0 * math.sin(n / 50.0) + ((n * 7919) % 13) - 6
    return base * 8.0 if n % SPIKE_EVERY == SPIKE_EVERY - 1 else base


def point_json(metric: str, ts: int, n: int) -> dict:
    return {"metric": metric, "value": round(value_at(n), 3), "timestamp": ts, "tags": {"host": "bench"}}


def http_request(method: str, path: str, host: str, key: str | None, body: bytes = b"") -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    if key:
        head.append(f"Authorization: Bearer {key}")
    if body or method == "POST":
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


class GrpcBatches:
    """Serialized IngestRequests of `batch` points over `series` series of one call slot, each
    series advancing one second per point. Encoded by hand (the wire format of ingest.v1.Point:
    metric=1, value=2, time=3, tags=4), which costs the client a tenth of building messages; checked
    against the protobuf encoding once."""

    def __init__(self, run: str, worker: int, slot: int, batch: int, series: int, t0: int):
        self.batch, self.t0 = batch, t0
        self.per_series = max(1, batch // series)
        names = [f"bench.{run}.grpc.w{worker}.c{slot}.s{s}" for s in range(series)]
        tags = _field(4, _field(1, b"host") + _field(2, b"bench"))
        self.heads = [_field(1, n.encode()) for n in names]
        self.tail = tags
        self.names = names
        self.number = 0

    def next(self) -> bytes:
        parts = []
        b = self.number
        self.number += 1
        for k in range(self.per_series):
            n = b * self.per_series + k
            # Every series of the slot shares the point's time and value: encode those once.
            stamp = _field(3, b"\x08" + _varint(self.t0 + n))
            suffix = b"\x11" + struct.pack("<d", value_at(n)) + stamp + self.tail
            parts += [b"\x0a" + _varint(len(head) + len(suffix)) + head + suffix for head in self.heads]
        return b"".join(parts[:self.batch])

    def check(self) -> None:
        """The hand encoding equals protobuf's (a batch at the current position, not consumed)."""
        from google.protobuf.timestamp_pb2 import Timestamp

        from anomalywatch.ingest.v1 import ingest_pb2

        number = self.number
        raw = self.next()
        self.number = number
        expected = []
        for k in range(self.per_series):
            n = number * self.per_series + k
            expected += [ingest_pb2.Point(metric=name, value=value_at(n), time=Timestamp(seconds=self.t0 + n),
                                          tags={"host": "bench"}) for name in self.names]
        if ingest_pb2.IngestRequest(points=expected[:self.batch]).SerializeToString() != raw:
            raise AssertionError("hand-encoded IngestRequest differs from protobuf's")


# ---------------------------------------------------------------------------------------- workers
@dataclass
class Job:
    phase: str
    run: str  # in every series name, so repeated runs against one system never collide
    kind: str  # flask | single | batch | list | echo | ingest
    address: str  # host:port
    key: str | None
    worker: int
    streams: int  # connections (REST) or concurrent calls (gRPC)
    max_requests: int  # per worker, warm-up included
    duration: float
    warmup: float
    batch: int
    series: int
    t0: int


@dataclass
class WorkerResult:
    ok: int = 0
    errors: int = 0
    points: int = 0
    first_error: str = ""
    latencies: list[float] = field(default_factory=list)
    started: float = 0.0  # when counting began (after warm-up), monotonic
    ended: float = 0.0
    cpu: float = 0.0  # the worker's CPU seconds while counting


class Meter:
    """Counts requests that finish after the warm-up; stops at the request or time bound."""

    def __init__(self, job: Job, result: WorkerResult):
        self.job, self.result = job, result
        now = time.monotonic()
        self.count_from = now + job.warmup
        self.deadline = self.count_from + job.duration
        self.sent = 0
        self.cpu_at_start: float | None = None

    def take(self) -> bool:
        """May another request start?"""
        if self.sent >= self.job.max_requests or time.monotonic() >= self.deadline:
            return False
        self.sent += 1
        return True

    def done(self, started: float, ok: bool, points: int, error: str = "") -> None:
        now = time.monotonic()
        if now < self.count_from:
            return
        r = self.result
        if self.cpu_at_start is None:
            self.cpu_at_start, r.started = time.process_time(), self.count_from
        if ok:
            r.ok += 1
            r.points += points
            r.latencies.append(now - started)
        else:
            r.errors += 1
            r.first_error = r.first_error or error
        r.ended = now

    def finish(self) -> None:
        if self.cpu_at_start is not None:
            self.result.cpu = time.process_time() - self.cpu_at_start


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


def _rest_body(job: Job, stream: int, n: int) -> tuple[bytes, int]:
    """(JSON body, points) of request n of one connection."""
    if job.kind in ("flask", "single"):
        metric = f"bench.{job.run}.rest.w{job.worker}.c{stream}"
        return json.dumps(point_json(metric, job.t0 + n, n)).encode(), 1
    per_series = max(1, job.batch // job.series)
    points = [point_json(f"bench.{job.run}.batch.w{job.worker}.c{stream}.s{s}", job.t0 + n * per_series + k,
                         n * per_series + k) for k in range(per_series) for s in range(job.series)]
    return json.dumps({"points": points[:job.batch]}).encode(), min(job.batch, len(points))


async def _rest_stream(job: Job, stream: int, meter: Meter) -> None:
    host, port = job.address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    path = {"flask": "/ingest", "single": "/v1/ingest", "batch": "/v1/ingest",
            "list": "/v1/anomalies?limit=50"}
    n = 0
    try:
        while meter.take():
            if job.kind == "list":
                request, points = http_request("GET", path["list"], job.address, job.key), 0
            else:
                body, points = _rest_body(job, stream, n)
                request = http_request("POST", path[job.kind], job.address, job.key, body)
            n += 1
            started = time.monotonic()
            writer.write(request)
            status, answer = await _read_response(reader)
            ok = status == 200
            meter.done(started, ok, points, "" if ok else f"HTTP {status}: {answer[:200]!r}")
    finally:
        writer.close()


async def _grpc_stream(job: Job, batches: GrpcBatches, channel, meter: Meter) -> None:
    from anomalywatch.ingest.v1 import ingest_pb2

    method = INGEST_METHOD if job.kind == "ingest" else ECHO_METHOD
    call = channel.unary_unary(method)  # bytes in, bytes out: the client does not re-encode
    metadata = (("authorization", f"Bearer {job.key}"),) if job.key else None
    while meter.take():
        request = batches.next()
        started = time.monotonic()
        try:
            answer = await call(request, metadata=metadata, timeout=60)
        except Exception as error:  # noqa: BLE001 - every failed call is counted and shown
            meter.done(started, False, 0, str(error)[:200])
            continue
        if job.kind == "ingest":
            response = ingest_pb2.IngestResponse.FromString(answer)
            ok = response.rejected == 0
            reason = "" if ok else next(r.error for r in response.results if r.error)
            meter.done(started, ok, response.accepted, reason)
        else:
            meter.done(started, answer == request, job.batch, "" if answer == request else "echo differs")


async def _run_job(job: Job, result: WorkerResult) -> None:
    if job.kind in ("echo", "ingest"):
        import grpc

        slots = [GrpcBatches(job.run, job.worker, s, job.batch, job.series, job.t0)
                 for s in range(job.streams)]
        slots[0].check()
        options = [("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)]
        async with grpc.aio.insecure_channel(job.address, options=options) as channel:
            meter = Meter(job, result)
            await asyncio.gather(*(_grpc_stream(job, b, channel, meter) for b in slots))
    else:
        meter = Meter(job, result)
        await asyncio.gather(*(_rest_stream(job, s, meter) for s in range(job.streams)))
    meter.finish()


def worker_main(job: Job, barrier, results) -> None:
    result = WorkerResult()
    barrier.wait()
    try:
        asyncio.run(_run_job(job, result))
    except Exception as error:  # noqa: BLE001 - reported, never hangs the run
        result.errors += 1
        result.first_error = result.first_error or f"{type(error).__name__}: {error}"[:300]
    results.put(result)


# ---------------------------------------------------------------------------------------- the run
@dataclass
class PhaseResult:
    name: str
    kind: str
    requests: int
    errors: int
    seconds: float
    rate: float
    points_rate: float
    p50_ms: float
    p99_ms: float
    client_cores: float
    service_cores: dict[str, float]
    first_error: str


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of a process and its descendants (gunicorn workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, stack = 0.0, [pid]
    while stack:
        p = stack.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


def run_phase(name: str, kind: str, address: str, key: str | None, args: argparse.Namespace,
              processes: dict[str, int], t0: int, run: str) -> PhaseResult:
    ctx = mp.get_context("spawn")  # never fork a process that holds gRPC state
    streams = args.connections if kind in ("flask", "single", "batch", "list") else args.concurrency
    per_worker = max(1, args.max_requests // args.clients)
    barrier, results = ctx.Barrier(args.clients + 1), ctx.Queue()
    jobs = [Job(name, run, kind, address, key, w, streams, per_worker, args.duration, args.warmup, args.batch,
                args.series, t0) for w in range(args.clients)]
    workers = [ctx.Process(target=worker_main, args=(job, barrier, results), daemon=True) for job in jobs]
    for w in workers:
        w.start()
    barrier.wait(timeout=120)
    time.sleep(args.warmup)
    before = {n: cpu_seconds(pid) for n, pid in processes.items()}
    wall_start = time.monotonic()
    collected = [results.get(timeout=args.duration + args.warmup + 300) for _ in workers]
    wall = time.monotonic() - wall_start
    after = {n: cpu_seconds(pid) for n, pid in processes.items()}
    for w in workers:
        w.join(timeout=30)
    latencies = np.array([x for r in collected for x in r.latencies]) * 1000.0
    started = min((r.started for r in collected if r.ok), default=0.0)
    ended = max((r.ended for r in collected if r.ok), default=0.0)
    seconds = max(ended - started, 1e-9)
    ok = sum(r.ok for r in collected)
    return PhaseResult(
        name=name, kind=kind, requests=ok, errors=sum(r.errors for r in collected), seconds=seconds,
        rate=ok / seconds if ok else 0.0,
        points_rate=sum(r.points for r in collected) / seconds if ok else 0.0,
        p50_ms=float(np.percentile(latencies, 50)) if ok else math.nan,
        p99_ms=float(np.percentile(latencies, 99)) if ok else math.nan,
        client_cores=sum(r.cpu for r in collected) / seconds if ok else 0.0,
        service_cores={n: (after[n] - before[n]) / wall for n in processes},
        first_error=next((r.first_error for r in collected if r.first_error), ""))


def run_storage_ceiling(url: str, args: argparse.Namespace) -> PhaseResult:
    """The storage ceiling: the points table alone, in this process, on the catalog's own database
    settings (services.catalog.db.Database), written the way catalog writes a group of ingest
    calls: one bulk append of 5000 rows (executemany on SQLite, COPY on PostgreSQL) and a commit,
    as fast as it goes. No series, rules, configs, gRPC or scoring: what is left for the rest."""
    from services.catalog.db import Database, execute_many, insert_rows, migrate
    from services.catalog.models import PointRow
    from services.catalog.series import next_numbers
    from services.ingest.coalescer import MAX_GROUP

    migrate(url)
    db = Database(url)
    n_series = args.series * args.clients * args.concurrency
    ids = [f"met_{i:024x}" for i in range(n_series)]
    with db.transaction() as session:
        execute_many(session, "INSERT INTO accounts (id, name, plan, created_at) VALUES (?, ?, ?, ?)",
                     [("acct_bench", "bench", BENCH_PLAN, 0.0)])
        numbers = next_numbers(session, n_series)
        execute_many(session, "INSERT INTO series (id, number, account_id, environment, name, series_key, "
                              "tags_json, created_at, point_count, step_seconds) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     [(sid, number, "acct_bench", "live", sid, sid, "{}", 0.0, 0, 0.0)
                      for sid, number in zip(ids, numbers, strict=True)])
    latencies, points, k = [], 0, 0
    cpu0, until = time.process_time(), time.monotonic() + args.warmup + args.duration
    counting = time.monotonic() + args.warmup
    started = None
    while time.monotonic() < until:
        rows = []
        while len(rows) < MAX_GROUP:
            rows += [(number, 1.0e9 + k, value_at(k)) for number in numbers[:MAX_GROUP - len(rows)]]
            k += 1
        t = time.monotonic()
        with db.transaction() as session:
            insert_rows(session, PointRow.__tablename__, ("series_number", "ts", "value"), rows)
        if t >= counting:
            if started is None:
                started, cpu0 = t, time.process_time()
            latencies.append(time.monotonic() - t)
            points += len(rows)
    seconds = time.monotonic() - started
    cores = (time.process_time() - cpu0) / seconds
    db.dispose()
    ms = np.array(latencies) * 1000.0
    backend = "PostgreSQL COPY" if url.startswith("postgresql") else "SQLite insert"
    return PhaseResult(name=f"bare {backend} ({MAX_GROUP}/tx)", kind="store", requests=len(latencies),
                       errors=0, seconds=seconds, rate=len(latencies) / seconds, points_rate=points / seconds,
                       p50_ms=float(np.percentile(ms, 50)), p99_ms=float(np.percentile(ms, 99)),
                       client_cores=cores, service_cores={}, first_error="")


def system_env(tmp: Path, database_url: str) -> dict[str, str]:
    names = ("gateway", "catalog", "ingest", "detect", "forecast")
    ports = {n: free_port() for n in names}
    return {
        "AW_DATABASE_URL": database_url,
        **{f"AW_{n.upper()}_ADDR": f"127.0.0.1:{ports[n]}" for n in names if n != "detect"},
        "AW_DETECT_ADDRS": f"127.0.0.1:{ports['detect']}",
        "AW_METRICS_PORT_BASE": str(free_port_block()),
        "AW_PLANS": BENCH_PLANS,
        "AW_LOG_DIR": str(tmp / "log"),
        "AW_LOG_LEVEL": "WARNING",
        "AW_SHUTDOWN_GRACE": "5",
        "NUMBA_CACHE_DIR": str(REPO / "var" / "numba-cache"),
    }


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=REPO, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"anomalywatch {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout.strip().splitlines()[-1]


def start_ceilings(env: dict[str, str], log_dir: Path):
    """The bare Flask route and the bare gRPC echo, each its own process like the services."""
    from cli.local_system import LocalSystem, Process

    flask_addr, echo_addr = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    ceilings = LocalSystem(env={**env, "AW_GATEWAY_ADDR": flask_addr, "BENCH_ECHO_ADDR": echo_addr,
                                "AW_METRICS_ADDR": ""}, workdir=REPO, log_dir=log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    for name, kind, address in (("bench-flask", "http", flask_addr), ("bench-echo", "grpc", echo_addr)):
        process = Process(name, {}, kind, address)
        log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        process.popen = subprocess.Popen([sys.executable, "-m", "bench.load", f"--serve-{name[6:]}"],
                                         cwd=REPO, env={**os.environ, **ceilings.env}, stdout=log,
                                         stderr=log, start_new_session=True)
        ceilings.processes.append(process)
        ceilings.wait_ready(process)
    return ceilings, flask_addr, echo_addr


def print_table(results: list[PhaseResult], services: list[str]) -> None:
    head = (f"{'phase':<30}{'requests':>9}{'req/s':>10}{'points/s':>11}{'p50 ms':>9}{'p99 ms':>9}"
            f"{'errors':>8}{'client cores':>14}{'server us/pt':>14}")
    extra = "".join(f"{s:>9}" for s in services)
    print(head + extra)
    print("-" * (len(head) + len(extra)))
    for r in results:
        per = r.points_rate or r.rate
        server = sum(r.service_cores.values()) / per * 1e6 if per and r.service_cores else math.nan
        line = (f"{r.name:<30}{r.requests:>9}{r.rate:>10.0f}{r.points_rate:>11.0f}{r.p50_ms:>9.2f}"
                f"{r.p99_ms:>9.2f}{r.errors:>8}{r.client_cores:>14.2f}{server:>14.1f}")
        print(line + "".join(f"{r.service_cores.get(s, math.nan):>9.2f}" for s in services))
    if services:
        print("(server us/pt: CPU microseconds the serving processes spent per point (per request for the "
              "listing), a measure that holds on a busy machine; service columns: CPU cores each process "
              "used during the phase)")
    for r in results:
        if r.first_error:
            print(f"  {r.name}: first error: {r.first_error}")


def print_ratios(by: dict[str, PhaseResult]) -> None:
    def ratio(a: str, b: str, points: bool = False) -> float:
        x, y = by.get(a), by.get(b)
        if not x or not y:
            return math.nan
        top, bottom = (x.points_rate, y.points_rate) if points else (x.rate, y.rate)
        return top / bottom if bottom else math.nan

    single, grpc_ingest = by.get("single"), by.get("ingest")
    print("\nratios and targets")
    if single:
        share = ratio("single", "flask")
        print(f"  REST single point / bare Flask route   {share:7.1%}   (target >= 25 %: "
              f"{'met' if share >= 0.25 else 'NOT met'})")
        print(f"  REST single point p99                  {single.p99_ms:7.2f} ms (target < 25 ms: "
              f"{'met' if single.p99_ms < 25 else 'NOT met'})")
    if by.get("batch"):
        print(f"  REST batch points/s / bare Flask req/s {ratio('batch', 'flask', points=True):7.1f}x")
    if grpc_ingest:
        print(f"  gRPC batch / bare gRPC echo (points/s) {ratio('ingest', 'echo', points=True):7.1%}")
        if by.get("store"):
            print(f"  gRPC batch / bare storage append       {ratio('ingest', 'store', points=True):7.1%}")
        met = "met" if grpc_ingest.points_rate >= 250_000 else "NOT met"
        print(f"  gRPC batch ingest                      {grpc_ingest.points_rate:7.0f} points/s "
              f"(target >= 250000: {met})")
    if by.get("list"):
        print(f"  anomaly listing / bare Flask route     {ratio('list', 'flask'):7.1%}")


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an already running gateway (default: start a system here)")
    parser.add_argument("--key", help="API key (scopes ingest, read) for --url")
    parser.add_argument("--grpc", help="the ingest service's gRPC address for --url")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds counted per phase (default 15)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds not counted at each phase's start")
    parser.add_argument("--max-requests", type=int, default=200_000, help="requests per phase at most")
    parser.add_argument("--clients", type=int, default=2, help="load-generator processes (default 2)")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections per REST client")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent gRPC calls per client")
    parser.add_argument("--batch", type=int, default=500, help="points per batch request (default 500)")
    parser.add_argument("--series", type=int, default=100, help="series per batch (default 100)")
    parser.add_argument("--phases", default="flask,single,batch,echo,store,ingest,list",
                        help="comma-separated subset of flask,single,batch,echo,store,ingest,list")
    parser.add_argument("--postgres", metavar="ADMIN_URL", nargs="?", const=DEFAULT_ADMIN_URL,
                        help="store in scratch PostgreSQL databases of this server (default SQLite)")
    parser.add_argument("--serve-flask", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-echo", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_flask:
        return serve_bare_flask()
    if args.serve_echo:
        return serve_echo()
    if args.url and not args.key:
        parser.error("--url needs --key")

    tmp = Path(tempfile.mkdtemp(prefix="aw-bench-load-"))
    scratch = [create_database(args.postgres, "aw_bench_load") for _ in range(2)] if args.postgres else []
    system_url, ceiling_url = scratch or (f"sqlite:///{tmp / 'bench.db'}", f"sqlite:///{tmp / 'ceiling.db'}")
    env = system_env(tmp, system_url)
    system = None
    ceilings = None
    processes: dict[str, int] = {}
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if args.url:
            gateway, key, ingest_addr = args.url.removeprefix("http://").rstrip("/"), args.key, args.grpc
        else:
            from cli.local_system import LocalSystem

            print(f"starting the system (SQLite and logs under {tmp}) ...", flush=True)
            system = LocalSystem.from_env(env, REPO)
            system.start()
            account = cli(env, "accounts", "create", "--name", "bench-load", "--plan", BENCH_PLAN)
            key = cli(env, "keys", "create", "--account", account, "--environment", "live", "--scopes",
                      "ingest,read", "--name", "bench-load")
            gateway, ingest_addr = env["AW_GATEWAY_ADDR"], env["AW_INGEST_ADDR"]
            processes = {p.name: p.popen.pid for p in system.processes if p.name != "forecast"}
        ceilings, flask_addr, echo_addr = start_ceilings(env, tmp / "log")
        t0, run = int(time.time()) - T0_AGO, f"{os.getpid():x}{int(time.time()) % 100000:x}"
        plan = {"flask": ("bare Flask route (ceiling)", flask_addr, None),
                "single": ("REST single-point ingest", gateway, key),
                "batch": (f"REST batch ingest ({args.batch}/req)", gateway, key),
                "echo": ("bare gRPC echo (ceiling)", echo_addr, None),
                "ingest": (f"gRPC batch ingest ({args.batch}/call)", ingest_addr, key),
                "list": ("anomaly listing (limit 50)", gateway, key)}
        ceiling_pids = {"flask": {"flask": ceilings.processes[0].popen.pid},
                        "echo": {"echo": ceilings.processes[1].popen.pid}}
        results: list[PhaseResult] = []
        for kind in [k.strip() for k in args.phases.split(",") if k.strip()]:
            if kind == "store":
                print("running the bare storage append (ceiling) ...", flush=True)
                results.append(run_storage_ceiling(ceiling_url, args))
                continue
            if kind not in plan:
                parser.error(f"unknown phase {kind}")
            name, address, phase_key = plan[kind]
            if address is None:
                print(f"skipping {name}: give --grpc with --url", flush=True)
                continue
            print(f"running {name} ...", flush=True)
            watched = ceiling_pids.get(kind, processes)
            results.append(run_phase(name, kind, address, phase_key, args, watched, t0, run))
        print()
        columns = [n for n in processes] + ["flask", "echo"]
        print_table(results, columns if processes else ["flask", "echo"])
        print_ratios({r.kind: r for r in results})
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        for running in (ceilings, system):
            if running is not None:
                running.stop()
        for url in scratch:
            drop_database(args.postgres, url)


if __name__ == "__main__":
    sys.exit(main())
