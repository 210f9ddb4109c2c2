# syntax=docker/dockerfile:1
# AnomalyWatch: one image for every service. The entrypoint is the `anomalywatch` command, so a pod
# picks its service with `args: ["serve", "<catalog|ingest|detect|forecast|gateway>"]`.
# Build: docker build -t anomalywatch:dev .   (docs/deploy.md)
ARG PYTHON_IMAGE=python:3.11-slim

# ---- builder: resolve pinned dependencies, generate the gRPC code, install into a venv ----------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# A compiler only in case a pinned dependency has no wheel for the target platform; it never
# reaches the runtime stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, from pyproject's pinned list alone: a source change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt

# Exactly the packages pyproject's [tool.setuptools.packages.find] installs, plus the protos.
COPY protos ./protos
COPY cli ./cli
COPY services ./services
COPY gateway ./gateway
# What `make proto` does (grpcio-tools is a runtime dependency, already in the venv); generated
# code is never committed, so it is made here from the protos of this very commit.
RUN python -m grpc_tools.protoc -Iprotos --python_out=. --pyi_out=. --grpc_python_out=. \
      $(find protos -name '*.proto') \
 && pip install . \
 && pip check

# ---- runtime: the venv and nothing else ------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# Fixed UID/GID so Kubernetes can enforce runAsNonRoot/runAsUser (deploy/k8s uses 10001).
RUN groupadd --system --gid 10001 anomalywatch \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
      --shell /usr/sbin/nologin anomalywatch
COPY --from=builder /opt/venv /opt/venv
# LLVM CPU the numba kernels are compiled for. numba keys its cache by CPU name and features, so a
# cache built for the build machine's own CPU would miss on every other node and each detect pod
# would compile again at start; `generic` makes the cache built below load on any node of the
# architecture. A homogeneous node pool may pass its CPU (--build-arg NUMBA_CPU_NAME=skylake-avx512).
ARG NUMBA_CPU_NAME=generic
# The root filesystem is read-only in Kubernetes: every write goes to /tmp (an emptyDir there).
# NUMBA_CACHE_DIR keeps numba's compiled kernels across container restarts within a pod;
# bytecode was compiled at install time, so Python writes none.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    NUMBA_CPU_NAME=${NUMBA_CPU_NAME} \
    NUMBA_CACHE_DIR=/tmp/numba-cache
# Fail the build, not the rollout, if the entry point or a sub-command's module cannot load.
RUN anomalywatch --help > /dev/null
# Compile detect's kernels now (20-30 s of CPU), into /opt/numba-cache: numba only uses a cache
# directory it can write, so the detect pod's init container copies this into NUMBA_CACHE_DIR on
# its /tmp emptyDir, and the shard loads the kernels at start instead of compiling them. Done here,
# in the runtime stage, because the cache records the source files' path and modification time.
RUN NUMBA_CACHE_DIR=/opt/numba-cache python -c \
      "from services.detect.engine import DetectionEngine; DetectionEngine().warm_up()" \
 && chmod -R a+rX /opt/numba-cache
WORKDIR /app
USER 10001:10001
# gateway HTTP; catalog, ingest, detect, forecast gRPC; Prometheus metrics of the gRPC services
EXPOSE 8080 50051 50052 50053 50054 9100
# Exec form: the service is PID 1 and receives SIGTERM itself (graceful drain, AW_SHUTDOWN_GRACE).
ENTRYPOINT ["anomalywatch"]
CMD ["--help"]
