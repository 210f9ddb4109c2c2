"""Offline checks of the container image recipe and the Kubernetes manifests (deploy/k8s).

Each kustomization is built with `kubectl kustomize`, every object is validated against the
Kubernetes JSON schemas bundled with kubernetes-validate (no network), and the properties the
deployment relies on are pinned: security, probes, shutdown, sharding, autoscaling, secrets and
the network flows of docs/architecture.md.
"""
from __future__ import annotations

import functools
import json
import re
import shutil
import socket
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBECTL = shutil.which("kubectl") or ("/usr/bin/kubectl" if Path("/usr/bin/kubectl").exists() else None)

# Oldest Kubernetes the manifests support (pod-index label: 1.28, preStop sleep: 1.30) and the newest
# whose schemas kubernetes-validate ships, so removed or renamed fields show up too.
MIN_K8S = "1.30"

BUILDS = ["base", "overlays/dev", "overlays/prod"]
OVERLAYS = ["overlays/dev", "overlays/prod"]
GRPC_PORTS = {"catalog": 50051, "ingest": 50052, "detect": 50053, "forecast": 50054}
GATEWAY_PORT = 8080
METRICS_PORT = 9100
AUTOSCALED = {"gateway", "ingest", "forecast"}
SLOW_START = {"detect", "forecast", "catalog"}  # numba compilation / migrations before SERVING
# (caller, callee) gRPC flows of docs/architecture.md.
FLOWS = {
    ("gateway", "catalog"), ("gateway", "ingest"), ("gateway", "forecast"),
    ("ingest", "catalog"), ("ingest", "detect"),
    ("detect", "catalog"),
    ("forecast", "catalog"),
}
COMPONENTS = ["gateway", *GRPC_PORTS]
PORT_OF = {**GRPC_PORTS, "gateway": GATEWAY_PORT}

needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl not found on PATH or at /usr/bin/kubectl")


@functools.cache
def build(target: str) -> tuple[dict, ...]:
    """`kubectl kustomize` of a directory under deploy/k8s (or an absolute path)."""
    path = Path(target) if Path(target).is_absolute() else K8S / target
    out = subprocess.run([KUBECTL, "kustomize", str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"kubectl kustomize {target} failed:\n{out.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(out.stdout) if doc)


def objects(target: str, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in build(target) if o["kind"] == kind}


def workloads(target: str) -> dict[str, dict]:
    """The AnomalyWatch Deployments and StatefulSets, by component."""
    found = {}
    for o in build(target):
        if o["kind"] in ("Deployment", "StatefulSet"):
            labels = o["spec"]["template"]["metadata"]["labels"]
            if labels.get("app.kubernetes.io/name") == "anomalywatch":
                found[labels["app.kubernetes.io/component"]] = o
    return found


def pod_specs(target: str) -> list[tuple[str, dict]]:
    return [(f'{o["kind"]}/{o["metadata"]["name"]}', o["spec"]["template"]["spec"])
            for o in build(target) if o["kind"] in ("Deployment", "StatefulSet")]


def container(workload: dict) -> dict:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return only


def config(target: str) -> dict[str, str]:
    (cm,) = [o for o in build(target)
             if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("anomalywatch-config")]
    return cm["data"]


def env_of(c: dict) -> dict[str, dict]:
    return {e["name"]: e for e in c.get("env", [])}


# ---------------------------------------------------------------- builds and schemas

@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_builds(target):
    kinds = {o["kind"] for o in build(target)}
    assert {"Deployment", "StatefulSet", "Service", "ConfigMap", "NetworkPolicy"} <= kinds


@pytest.fixture
def no_network(monkeypatch):
    """Schema validation must work offline: any connection attempt fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("kubernetes-validate tried to use the network")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def _versions() -> list[str]:
    utils = pytest.importorskip("kubernetes_validate.utils")
    return [MIN_K8S, utils.latest_version()]


@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_every_object_validates_against_the_kubernetes_schemas(target, no_network):
    kv = pytest.importorskip("kubernetes_validate")
    for version in _versions():
        for obj in build(target):
            try:
                kv.validate(obj, version, strict=True)
            except kv.ValidationError as e:
                pytest.fail(f'{target}: {obj["kind"]}/{obj["metadata"]["name"]} invalid for '
                            f'Kubernetes {version}: {e.message} at {"/".join(map(str, e.path))}')


# ---------------------------------------------------------------- pod security and resources

@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_every_container_is_non_root_read_only_and_unprivileged(target):
    for name, spec in pod_specs(target):
        pod_sc = spec.get("securityContext", {})
        assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        assert spec.get("automountServiceAccountToken") is False, name
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c.get("securityContext", {})
            where = f'{name} container {c["name"]}'
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, where
            assert sc.get("runAsUser", pod_sc.get("runAsUser", 0)) != 0, where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("privileged", False) is False, where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not sc.get("capabilities", {}).get("add"), where
            res = c.get("resources", {})
            assert {"cpu", "memory"} <= set(res.get("requests", {})), f"{where}: requests"
            assert {"cpu", "memory"} <= set(res.get("limits", {})), f"{where}: limits"


@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_writable_tmp_for_numba_cache_and_temp_files(target):
    for component, w in workloads(target).items():
        mounts = {m["mountPath"] for m in container(w).get("volumeMounts", [])}
        assert "/tmp" in mounts, f"{component}: read-only root needs an emptyDir on /tmp (NUMBA_CACHE_DIR)"


@needs_kubectl
@pytest.mark.parametrize("target", OVERLAYS)
def test_namespace_enforces_the_restricted_pod_security_standard(target):
    (ns,) = objects(target, "Namespace").values()
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert all(o["metadata"].get("namespace") == ns["metadata"]["name"]
               for o in build(target) if o["kind"] != "Namespace")


# ---------------------------------------------------------------- ports, probes, shutdown

@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_grpc_services_have_native_grpc_probes_on_their_port(target):
    ws = workloads(target)
    for component, port in GRPC_PORTS.items():
        c = container(ws[component])
        assert c["args"] == ["serve", component]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert ports == {"grpc": port, "metrics": METRICS_PORT}, component
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert c[probe].get("grpc", {}).get("port") == port, f"{component} {probe}"
        # liveness tolerates more than readiness: a slow moment takes a pod out, it does not kill it
        live, ready = c["livenessProbe"], c["readinessProbe"]
        assert (live["failureThreshold"] * live["periodSeconds"]
                > ready["failureThreshold"] * ready["periodSeconds"]), component


@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_slow_starting_services_have_startup_probes_of_minutes(target):
    ws = workloads(target)
    for component in SLOW_START:
        probe = container(ws[component])["startupProbe"]
        assert probe["failureThreshold"] * probe["periodSeconds"] >= 300, component


@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_gateway_http_probes(target):
    c = container(workloads(target)["gateway"])
    assert c["args"] == ["serve", "gateway"]
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"http": GATEWAY_PORT}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert env_of(c)["AW_GATEWAY_ADDR"]["value"] == f"0.0.0.0:{GATEWAY_PORT}"


@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_each_grpc_service_listens_on_all_interfaces_and_clients_use_service_names(target):
    cfg = config(target)
    services = objects(target, "Service")
    for component in ("catalog", "ingest", "forecast"):
        port = GRPC_PORTS[component]
        var = f"AW_{component.upper()}_ADDR"
        assert cfg[var] == f"{component}:{port}"
        assert env_of(container(workloads(target)[component]))[var]["value"] == f"0.0.0.0:{port}"
        svc_ports = {p["name"]: p["port"] for p in services[component]["spec"]["ports"]}
        assert svc_ports == {"grpc": port, "metrics": METRICS_PORT}
    assert cfg["AW_METRICS_ADDR"] == f"0.0.0.0:{METRICS_PORT}"


@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_termination_grace_exceeds_shutdown_grace_plus_prestop(target):
    grace = float(config(target)["AW_SHUTDOWN_GRACE"])
    for component, w in workloads(target).items():
        spec = w["spec"]["template"]["spec"]
        pre_stop = container(w).get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        assert spec["terminationGracePeriodSeconds"] > grace + pre_stop, component


@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_every_pod_reads_the_generated_config_map(target):
    (cm_name,) = [n for n in objects(target, "ConfigMap") if n.startswith("anomalywatch-config-")]
    for component, w in workloads(target).items():
        refs = [e["configMapRef"]["name"] for e in container(w)["envFrom"]]
        assert refs == [cm_name], component


# ---------------------------------------------------------------- detect shards

@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_detect_is_a_statefulset_behind_a_headless_service(target):
    sts = objects(target, "StatefulSet")["detect"]
    assert "detect" not in objects(target, "Deployment")
    svc = objects(target, "Service")["detect"]
    assert sts["spec"]["serviceName"] == "detect"
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["selector"].items() <= sts["spec"]["template"]["metadata"]["labels"].items()
    shard = env_of(container(sts))["AW_DETECT_SHARD"]
    assert shard["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.labels['apps.kubernetes.io/pod-index']"
    assert not sts["spec"].get("volumeClaimTemplates"), "detect keeps state in memory + catalog"


@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_detect_replicas_equal_the_shard_count_and_addresses(target):
    cfg = config(target)
    shards = int(cfg["AW_DETECT_SHARDS"])
    assert objects(target, "StatefulSet")["detect"]["spec"]["replicas"] == shards
    addrs = cfg["AW_DETECT_ADDRS"].split(",")
    assert addrs == [f"detect-{i}.detect:{GRPC_PORTS['detect']}" for i in range(shards)]


def test_prod_sets_the_shard_count_explicitly():
    kust = yaml.safe_load((K8S / "overlays/prod/kustomization.yaml").read_text())
    (gen,) = kust["configMapGenerator"]
    keys = {lit.split("=", 1)[0] for lit in gen["literals"]}
    assert {"AW_DETECT_SHARDS", "AW_DETECT_ADDRS"} <= keys
    for target in OVERLAYS:
        kust = yaml.safe_load((K8S / target / "kustomization.yaml").read_text())
        assert "../../components/detect-shards" in kust.get("components", []), target


# ---------------------------------------------------------------- scaling and disruption

@needs_kubectl
@pytest.mark.parametrize("target", ["base", "overlays/prod"])
def test_hpas_for_gateway_ingest_and_forecast(target):
    hpas = objects(target, "HorizontalPodAutoscaler")
    assert set(hpas) == AUTOSCALED
    deployments = objects(target, "Deployment")
    for name, hpa in hpas.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert hpa["spec"]["minReplicas"] >= 2
        # the HPA owns the count: a replicas field would be reset by every `kubectl apply`
        assert "replicas" not in deployments[name]["spec"], name


@needs_kubectl
@pytest.mark.parametrize("target", ["base", "overlays/prod"])
def test_pdbs_and_zero_unavailable_rollouts(target):
    pdbs = objects(target, "PodDisruptionBudget")
    for component, w in workloads(target).items():
        labels = w["spec"]["template"]["metadata"]["labels"]
        covered = [p for p in pdbs.values() if p["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert covered, component
        if w["kind"] == "Deployment":
            assert w["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, component


def test_prod_is_bigger_than_base():
    if KUBECTL is None:
        pytest.skip("kubectl not found")
    base, prod = workloads("base"), workloads("overlays/prod")
    assert prod["detect"]["spec"]["replicas"] > base["detect"]["spec"]["replicas"]
    assert prod["catalog"]["spec"]["replicas"] > base["catalog"]["spec"]["replicas"]
    base_hpa = objects("base", "HorizontalPodAutoscaler")
    prod_hpa = objects("overlays/prod", "HorizontalPodAutoscaler")
    for name in AUTOSCALED:
        assert prod_hpa[name]["spec"]["maxReplicas"] > base_hpa[name]["spec"]["maxReplicas"]
    assert (container(prod["detect"])["resources"]["limits"]["memory"]
            != container(base["detect"])["resources"]["limits"]["memory"])


@needs_kubectl
def test_dev_runs_one_replica_of_everything_without_autoscaling():
    assert not objects("overlays/dev", "HorizontalPodAutoscaler")
    assert not objects("overlays/dev", "PodDisruptionBudget")
    for component, w in workloads("overlays/dev").items():
        assert w["spec"]["replicas"] == 1, component


# ---------------------------------------------------------------- images

@needs_kubectl
def test_prod_pins_the_image():
    for component, w in workloads("overlays/prod").items():
        image = container(w)["image"]
        assert "/" in image, f"{component}: prod pulls from a registry"
        assert "@sha256:" in image or re.search(r":[^/:]+$", image), f"{component}: unpinned {image}"
        assert not image.endswith(":latest"), component
    images = {container(w)["image"] for w in workloads("overlays/prod").values()}
    assert len(images) == 1, "one image for every service"


@needs_kubectl
def test_dev_uses_the_locally_built_image():
    for component, w in workloads("overlays/dev").items():
        assert container(w)["image"] == "anomalywatch:dev", component
        assert container(w)["imagePullPolicy"] == "IfNotPresent", component


# ---------------------------------------------------------------- secrets

@needs_kubectl
@pytest.mark.parametrize("target", ["base", "overlays/prod"])
def test_no_secret_values_in_base_or_prod(target):
    assert not objects(target, "Secret")
    text = json.dumps(build(target))
    assert not re.search(r"\w+://[^/\s\"]*:[^@/\s\"]+@", text), "credentials in a URL"
    assert "AW_DATABASE_URL=" not in text and "AW_REDIS_URL=" not in text


@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_secret_references_go_only_where_needed(target):
    refs = {}
    for component, w in workloads(target).items():
        for e in container(w).get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                refs[(component, e["name"])] = (ref["name"], ref["key"])
        assert "secretRef" not in json.dumps(container(w).get("envFrom", [])), component
    assert refs == {
        ("catalog", "AW_DATABASE_URL"): ("anomalywatch-secrets", "database-url"),
        ("gateway", "AW_REDIS_URL"): ("anomalywatch-secrets", "redis-url"),
        ("catalog", "AW_OPERATOR_TOKEN"): ("anomalywatch-secrets", "operator-token"),
    }


@needs_kubectl
def test_dev_example_secret_is_marked_and_complete():
    secret = objects("overlays/dev", "Secret")["anomalywatch-secrets"]
    assert secret["metadata"]["labels"]["anomalywatch.io/example"] == "true"
    assert {"database-url", "redis-url"} <= set(secret["stringData"])
    assert secret["stringData"]["database-url"].startswith("postgresql+psycopg://")
    assert "EXAMPLE" in (K8S / "overlays/dev/secret.example.yaml").read_text()


# ---------------------------------------------------------------- network policies

def _selects(selector: dict, labels: dict) -> bool:
    assert not selector.get("matchExpressions"), "evaluator handles matchLabels only"
    return selector.get("matchLabels", {}).items() <= labels.items()


def _peer_allows(peer: dict, labels: dict) -> bool:
    # peers in this namespace only; a namespaceSelector peer targets other namespaces
    if "ipBlock" in peer or "namespaceSelector" in peer:
        return False
    return _selects(peer["podSelector"], labels)


def _rule_allows(rule: dict, key: str, peer_labels: dict, port: int) -> bool:
    ports = rule.get("ports")
    if ports and not any(p.get("port") == port for p in ports):
        return False
    peers = rule.get(key)
    return not peers or any(_peer_allows(p, peer_labels) for p in peers)


def _allowed(policies: list[dict], src: dict, dst: dict, port: int) -> bool:
    """Would a connection src -> dst:port be let out of src and into dst?"""
    def side(pod: dict, other: dict, ptype: str, key: str) -> bool:
        applying = [p["spec"] for p in policies
                    if ptype in p["spec"]["policyTypes"] and _selects(p["spec"]["podSelector"], pod)]
        if not applying:
            return True
        rules = [r for spec in applying for r in spec.get(ptype.lower(), [])]
        return any(_rule_allows(r, key, other, port) for r in rules)
    return side(src, dst, "Egress", "to") and side(dst, src, "Ingress", "from")


@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_network_policies_allow_exactly_the_architecture_flows(target):
    policies = list(objects(target, "NetworkPolicy").values())
    default = objects(target, "NetworkPolicy")["default-deny"]["spec"]
    assert default["podSelector"] == {} and set(default["policyTypes"]) == {"Ingress", "Egress"}
    labels = {c: w["spec"]["template"]["metadata"]["labels"] for c, w in workloads(target).items()}
    for src in COMPONENTS:
        for dst in COMPONENTS:
            if src == dst:
                continue
            allowed = _allowed(policies, labels[src], labels[dst], PORT_OF[dst])
            assert allowed == ((src, dst) in FLOWS), f"{src} -> {dst}:{PORT_OF[dst]}"
    # the gateway is open to anyone on 8080: an ingress rule without `from`
    gw = objects(target, "NetworkPolicy")["gateway"]["spec"]
    assert any(not r.get("from") and [p["port"] for p in r["ports"]] == [GATEWAY_PORT] for r in gw["ingress"])


@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_network_policies_allow_dns_datastores_and_scraping(target):
    pols = objects(target, "NetworkPolicy")
    everyone = pols["allow-dns-and-otlp-egress"]["spec"]
    assert everyone["podSelector"] == {}
    dns_ports = {(p["protocol"], p["port"]) for r in everyone["egress"] for p in r["ports"]}
    assert {("UDP", 53), ("TCP", 53)} <= dns_ports
    assert any(p["port"] == 5432 for r in pols["catalog"]["spec"]["egress"] for p in r.get("ports", []))
    assert any(p["port"] == 6379 for r in pols["gateway"]["spec"]["egress"] for p in r.get("ports", []))
    scrape = pols["allow-metrics-scrape"]["spec"]
    (rule,) = scrape["ingress"]
    monitoring = {"kubernetes.io/metadata.name": "monitoring"}
    assert rule["from"][0]["namespaceSelector"]["matchLabels"] == monitoring
    assert [p["port"] for p in rule["ports"]] == [METRICS_PORT]
    # no other AnomalyWatch component may reach the database or Redis port
    for name, pol in pols.items():
        if name in ("catalog", "gateway") or name.startswith("dev-"):
            continue
        ports = {p.get("port") for r in pol["spec"].get("egress", []) for p in r.get("ports", [])}
        assert not ports & {5432, 6379, 6380}, name


# ---------------------------------------------------------------- optional ServiceMonitor

@needs_kubectl
def test_servicemonitor_component_scrapes_every_service(tmp_path):
    # enable it the way docs/deploy.md says: add the component to the prod overlay (in a copy)
    tree = shutil.copytree(K8S, tmp_path / "k8s")
    kust_file = tree / "overlays/prod/kustomization.yaml"
    kust = yaml.safe_load(kust_file.read_text())
    kust["components"].append("../../components/servicemonitor")
    kust_file.write_text(yaml.safe_dump(kust))
    built = build(str(tree / "overlays/prod"))
    (sm,) = [o for o in built if o["kind"] == "ServiceMonitor"]
    assert sm["metadata"]["namespace"] == "anomalywatch"
    wanted = {e["port"] for e in sm["spec"]["endpoints"]}
    for svc in (o for o in built if o["kind"] == "Service"):
        assert _selects(sm["spec"]["selector"], svc["metadata"]["labels"]), svc["metadata"]["name"]
        names = {p["name"] for p in svc["spec"]["ports"]}
        assert len(names & wanted) == 1, f'{svc["metadata"]["name"]} is scraped exactly once'


# ---------------------------------------------------------------- Dockerfile

def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, args = line.partition(" ")
            out.append((instruction.upper(), args.strip()))
    return out


def _final_stage() -> list[tuple[str, str]]:
    steps = _dockerfile()
    last_from = max(i for i, (ins, _) in enumerate(steps) if ins == "FROM")
    return steps[last_from:]


def test_dockerfile_runs_as_a_numeric_non_root_user_matching_the_manifests():
    users = [args for ins, args in _final_stage() if ins == "USER"]
    assert users, "the runtime stage sets USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0, "numeric UID so runAsNonRoot can verify it"
    assert not gid or gid.isdigit()
    manifests = [p for p in (K8S / "base").glob("*.yaml")]
    run_as = {int(m) for p in manifests for m in re.findall(r"runAsUser: (\d+)", p.read_text())}
    assert run_as == {int(uid)}


def test_dockerfile_entrypoint_is_the_anomalywatch_command():
    (entry,) = [args for ins, args in _final_stage() if ins == "ENTRYPOINT"]
    assert json.loads(entry) == ["anomalywatch"], "exec form, so the service is PID 1 and gets SIGTERM"


def test_dockerfile_is_multi_stage_slim_and_generates_the_protos():
    steps = _dockerfile()
    args = {a.split("=", 1)[0]: a.split("=", 1)[1] for ins, a in steps if ins == "ARG" and "=" in a}
    froms = [a.split()[0].replace("${PYTHON_IMAGE}", args.get("PYTHON_IMAGE", "")) for ins, a in steps
             if ins == "FROM"]
    assert len(froms) >= 2 and all(f.startswith("python:3.11-slim") for f in froms)
    runs = " ".join(a for ins, a in steps if ins == "RUN")
    assert runs.index("grpc_tools.protoc") < runs.index("pip install ."), "generated code is in the wheel"
    final = _final_stage()
    assert any(ins == "COPY" and "--from=builder" in a for ins, a in final)
    assert not any(ins == "COPY" and "--from" not in a for ins, a in final), "runtime copies only the venv"
    env = " ".join(a for ins, a in final if ins == "ENV")
    assert re.search(r"NUMBA_CACHE_DIR=/tmp/", env), "numba may only write under /tmp"


def test_dockerignore_admits_exactly_what_the_image_installs():
    lines = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert lines[0] == "*", "allow-list: nothing enters the build context unless named"
    admitted = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    copied = {a.split()[0] for ins, a in _dockerfile() if ins == "COPY" and "--from" not in a}
    assert copied <= admitted
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    # ./anomalywatch is generated inside the image, never copied from the working tree
    assert packages - {"anomalywatch"} <= copied
    assert "anomalywatch" not in admitted


def _env_value(final: list[tuple[str, str]], name: str) -> str | None:
    found = None
    for ins, args in final:
        if ins == "ENV":
            match = re.search(rf"(?:^|\s){name}=(\S+)", args)
            found = match.group(1) if match else found
    return found


@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_detect_starts_from_the_numba_cache_built_into_the_image(target):
    """A cold compile of detect's kernels takes half a minute of CPU at every pod start (more at a
    500m request); the image compiles them once. numba only uses a cache directory it can write, and
    keys its cache by CPU, so the image builds for a named CPU and the pod copies the cache onto /tmp."""
    final = _final_stage()
    cpu = _env_value(final, "NUMBA_CPU_NAME")
    assert cpu, "NUMBA_CPU_NAME set in the image, or the cache is keyed by the build machine's CPU"
    if cpu.startswith("${"):
        args = dict(a.split("=", 1) for ins, a in final if ins == "ARG" and "=" in a)
        assert args.get(cpu.strip("${}")), "the NUMBA_CPU_NAME build argument has a default"
    built = [a for ins, a in final if ins == "RUN" and "DetectionEngine().warm_up()" in a]
    assert built, "the runtime stage compiles detect's kernels"
    baked = re.search(r"NUMBA_CACHE_DIR=(\S+)", built[0]).group(1)
    assert not baked.startswith("/tmp"), "the pod's /tmp emptyDir would hide a cache built there"
    runtime_dir = _env_value(final, "NUMBA_CACHE_DIR")
    sts = objects(target, "StatefulSet")["detect"]
    spec = sts["spec"]["template"]["spec"]
    tmp = {m["name"] for m in container(sts)["volumeMounts"] if m["mountPath"] == "/tmp"}
    copies = [c for c in spec.get("initContainers", [])
              if c["image"] == container(sts)["image"] and baked in " ".join(c.get("command", []))
              and runtime_dir in " ".join(c.get("command", []))
              and {m["name"] for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"} == tmp]
    assert copies, f"an init container copies {baked} into {runtime_dir} on the shared /tmp volume"


def _egress_ports(policy: dict) -> set[int]:
    return {p["port"] for r in policy["spec"].get("egress", []) for p in r.get("ports", [])}


@needs_kubectl
@pytest.mark.parametrize("target", ["base", "overlays/prod"])
def test_the_datastore_urls_of_the_deploy_guide_are_reachable(target):
    """The Secret docs/deploy.md tells a platform team to create must work with the policies as
    shipped: the port of each URL is one its component may connect to."""
    from urllib.parse import urlsplit
    guide = (ROOT / "docs/deploy.md").read_text()
    urls = dict(re.findall(r"--from-literal=(database-url|redis-url)='([^']+)'", guide))
    assert set(urls) == {"database-url", "redis-url"}
    pols = objects(target, "NetworkPolicy")
    defaults = {"postgresql": 5432, "redis": 6379, "rediss": 6379}
    for key, component in (("database-url", "catalog"), ("redis-url", "gateway")):
        url = urlsplit(urls[key])
        port = url.port or defaults[url.scheme.split("+")[0]]
        assert port in _egress_ports(pols[component]), f"{component} may not reach {key} port {port}"


@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_an_operator_pod_reaches_catalog_and_nothing_else(target):
    """The operator token (docs/deploy.md) is for running the tool outside the catalog pod; the
    policies must let such a pod, labelled anomalywatch.io/operator=true, reach catalog, or the
    token cannot be used anywhere in the cluster."""
    policies = list(objects(target, "NetworkPolicy").values())
    labels = {c: w["spec"]["template"]["metadata"]["labels"] for c, w in workloads(target).items()}
    operator = {"anomalywatch.io/operator": "true"}
    for dst in COMPONENTS:
        assert _allowed(policies, operator, labels[dst], PORT_OF[dst]) == (dst == "catalog"), dst
    assert not _allowed(policies, {"app": "other"}, labels["catalog"], PORT_OF["catalog"])


@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_pods_spread_across_nodes_and_zones(target):
    """Own topologySpreadConstraints replace the scheduler's default ones (which include zones),
    so a workload that names only nodes may put every replica, or every shard, in one zone."""
    for component, w in workloads(target).items():
        labels = w["spec"]["template"]["metadata"]["labels"]
        keys = set()
        for c in w["spec"]["template"]["spec"].get("topologySpreadConstraints", []):
            assert _selects(c["labelSelector"], labels), component
            assert c["whenUnsatisfiable"] == "ScheduleAnyway", f"{component}: a small cluster still schedules"
            keys.add(c["topologyKey"])
        assert {"kubernetes.io/hostname", "topology.kubernetes.io/zone"} <= keys, component


@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_detect_memory_is_guaranteed(target):
    """A shard's memory is its series' state: one using more than it requests is the first the
    kubelet evicts under node memory pressure, and every eviction is a full restore and catch-up."""
    res = container(objects(target, "StatefulSet")["detect"])["resources"]
    assert res["requests"]["memory"] == res["limits"]["memory"]


def _pod_env(target: str, w: dict, pod_name: str, pod_index: int | None = None) -> dict[str, str]:
    """The environment a container of `w` starts with: the ConfigMap (envFrom), then its own env
    (which wins), with the downward API resolved for a pod named `pod_name`."""
    c = container(w)
    env = {"HOSTNAME": pod_name, "KUBERNETES_SERVICE_HOST": "10.96.0.1", **config(target)}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
            continue
        source = e["valueFrom"]
        if "fieldRef" in source and "pod-index" in source["fieldRef"]["fieldPath"]:
            env[e["name"]] = str(pod_index)
        elif "fieldRef" in source:
            env[e["name"]] = pod_name
        elif "resourceFieldRef" in source:
            env[e["name"]] = "1"
    return env


@needs_kubectl
@pytest.mark.parametrize("target", BUILDS)
def test_every_pod_loads_its_settings_whatever_its_name(target):
    """Settings take a StatefulSet ordinal from a `-<digits>` HOSTNAME suffix when AW_DETECT_SHARD is
    unset; a Deployment pod's random suffix is all digits now and then (`gateway-5d8f7c9b6d-48295`),
    and that pod would refuse to start for good (shard 48295 of 2)."""
    from services.common.config import load_settings
    shards = int(config(target)["AW_DETECT_SHARDS"])
    for component, w in workloads(target).items():
        if w["kind"] == "StatefulSet":
            for i in range(shards):
                settings = load_settings(_pod_env(target, w, f"{component}-{i}", i))
                assert settings.detect_shard == i, component
                assert settings.detect_listen_addr == "0.0.0.0:50053"
        else:
            for suffix in ("x2k9z", "48295"):
                load_settings(_pod_env(target, w, f"{component}-5d8f7c9b6d-{suffix}"))
