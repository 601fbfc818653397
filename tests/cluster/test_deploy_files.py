"""The deploy/ examples parse, and their pieces reference each other (they are not run here: no containers)."""

from __future__ import annotations

from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_compose_file_parses_and_names_every_piece() -> None:
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "minio", "engine", "sora-mcp-1", "sora-mcp-2", "caddy"} <= set(services)
    for name in ("sora-mcp-1", "sora-mcp-2"):
        replica = services[name]  # the YAML anchor merged in
        assert "--stateless" in replica["command"] and "--log-format=json" in replica["command"]
        assert replica["environment"]["SORA_MCP_DATABASE_URL"].startswith("postgresql://")
        assert "/readyz" in " ".join(replica["healthcheck"]["test"])
    volumes = set(compose["volumes"])
    for service in services.values():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            assert source.startswith(".") or source in volumes, source
    caddyfile = (DEPLOY / "compose" / "Caddyfile").read_text()
    assert "sora-mcp-1:8765" in caddyfile and "sora-mcp-2:8765" in caddyfile
    assert (DEPLOY / "compose" / "Dockerfile").is_file()


def test_kubernetes_example_parses_with_two_replicas_probes_and_secret_refs() -> None:
    docs = [d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / "sora-mcp.yaml").read_text()) if d]
    kinds = {d["kind"]: d for d in docs}
    assert set(kinds) == {"Deployment", "Service", "PersistentVolumeClaim"}
    deployment = kinds["Deployment"]
    assert deployment["spec"]["replicas"] == 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    secret_refs = [
        e["valueFrom"]["secretKeyRef"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})
    ]
    assert {r["key"] for r in secret_refs} >= {"database-url", "auth-token"}
    assert "--stateless" in container["args"]
    assert kinds["Service"]["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
