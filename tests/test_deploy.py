"""The Dockerfile and deploy/kubernetes/ against the server they deploy: valid
YAML, flags `botflow serve` has, the ports it serves, the health service name
its probes ask for, and a termination grace that outlasts its shutdown.

No container engine or cluster runs here (docs/deploy.md): these checks are
what keeps the files from drifting away from the code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from botflow.server import defaults
from botflow.server.app import SERVICE_NAME
from botflow.server.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
KUBERNETES = ROOT / "deploy" / "kubernetes"
DOCKERFILE = ROOT / "Dockerfile"
# Seconds Kubernetes should leave between the end of botflow's drain and SIGKILL.
MIN_MARGIN_SECONDS = 5
NON_ROOT_UID = 10001


def documents() -> dict[str, dict[str, Any]]:
    """Every manifest document, by "Kind/name"."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            found[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return found


def container() -> dict[str, Any]:
    spec = documents()["Deployment/botflow"]["spec"]["template"]["spec"]
    (only,) = spec["containers"]
    result: dict[str, Any] = only
    return result


def serve_flags() -> dict[str, str]:
    """The container's `--flag=value` arguments after `serve`."""
    args = container()["args"]
    assert args[0] == "serve"
    pairs = [arg.removeprefix("--").split("=", 1) for arg in args[1:]]
    assert all(len(pair) == 2 for pair in pairs), "write every flag as --flag=value"
    return dict((name, value) for name, value in pairs)


def serve_options() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    serve = sub.choices["serve"]  # type: ignore[index]
    return {o.removeprefix("--") for a in serve._actions for o in a.option_strings}


def test_every_manifest_is_yaml_of_a_known_kind() -> None:
    kinds = {key.split("/")[0] for key in documents()}
    assert kinds == {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}


def test_every_flag_exists_in_botflow_serve() -> None:
    unknown = set(serve_flags()) - serve_options()
    assert unknown == set()


def test_ports_are_the_ones_the_server_binds() -> None:
    flags, ports = serve_flags(), {p["name"]: p["containerPort"] for p in container()["ports"]}
    assert int(flags["port"]) == ports["grpc"] == defaults.DEFAULT_PORT
    assert int(flags["metrics-port"]) == ports["metrics"]
    assert flags["host"] == "0.0.0.0"  # a pod's probes and peers are not loopback


def test_probes_ask_the_health_service_for_flowservice() -> None:
    probes = {k: v for k, v in container().items() if k.endswith("Probe")}
    assert set(probes) == {"readinessProbe", "livenessProbe", "startupProbe"}
    assert all(p["grpc"]["port"] == defaults.DEFAULT_PORT for p in probes.values())
    assert probes["readinessProbe"]["grpc"]["service"] == SERVICE_NAME == "botflow.v1.FlowService"


def test_readiness_fails_within_the_shutdown_delay() -> None:
    """The endpoint must be removed while botflow still accepts calls."""
    readiness = container()["readinessProbe"]
    noticed = readiness["periodSeconds"] * readiness["failureThreshold"]
    assert noticed < float(serve_flags()["shutdown-delay-seconds"])


def test_termination_grace_outlasts_delay_and_drain() -> None:
    flags = serve_flags()
    spec = documents()["Deployment/botflow"]["spec"]["template"]["spec"]
    needed = float(flags["shutdown-delay-seconds"]) + float(flags["grace-seconds"])
    assert spec["terminationGracePeriodSeconds"] >= needed + MIN_MARGIN_SECONDS


def test_one_worker_per_pod_and_connections_age() -> None:
    flags = serve_flags()
    assert flags["workers"] == "1"
    assert float(flags["max-connection-age-seconds"]) > 0


def test_services_target_the_container_ports() -> None:
    names = {p["name"] for p in container()["ports"]}
    headless = documents()["Service/botflow-headless"]["spec"]
    assert headless["clusterIP"] == "None"
    for key in ("Service/botflow-headless", "Service/botflow"):
        assert {p["targetPort"] for p in documents()[key]["spec"]["ports"]} <= names


def test_pod_runs_as_the_image_user() -> None:
    security = documents()["Deployment/botflow"]["spec"]["template"]["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == NON_ROOT_UID


def dockerfile_instruction(name: str) -> list[str]:
    """The arguments of every `name` instruction (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [line.split(None, 1)[1] for line in text.splitlines() if line.startswith(name + " ")]


def test_dockerfile_user_expose_and_healthcheck_agree() -> None:
    assert dockerfile_instruction("USER") == [f"{NON_ROOT_UID}:{NON_ROOT_UID}"]
    exposed = {int(p) for p in dockerfile_instruction("EXPOSE")[0].split()}
    assert exposed == {p["containerPort"] for p in container()["ports"]}
    (check,) = dockerfile_instruction("HEALTHCHECK")
    assert f"service='{SERVICE_NAME}'" in check
    assert "BOTFLOW_PORT', '" + str(defaults.DEFAULT_PORT) in check


def test_dockerfile_installs_the_server_distribution_only() -> None:
    (install,) = [r for r in dockerfile_instruction("RUN") if "pip install" in r]
    assert install.rstrip().endswith("botflow-server")
    assert "--no-index" in install
    assert len(dockerfile_instruction("FROM")) == 2  # builder + runtime


def test_images_are_the_release_on_python_3_11_slim() -> None:
    version = (ROOT / "VERSION").read_text().strip()
    assert container()["image"] == f"botflow-server:{version}"
    assert {line.split()[1] for line in dockerfile_instruction_lines("FROM")} == {
        "python:3.11-slim"
    }


def dockerfile_instruction_lines(name: str) -> list[str]:
    return [f"{name} {args}" for args in dockerfile_instruction(name)]
