# syntax=docker/dockerfile:1.7
# The monitor's image: `safety-monitor serve` with the classifiers baked in and uvloop, without the
# training dependencies (the `train` extra). The Helm chart's default image is built from this file.
#
#   docker build -t ghcr.io/llm-safety-monitor/llm-safety-monitor:0.1.0 .
#
# It runs as UID 10001 and writes nothing outside /tmp and the checkpoint folder, so it works with
# a read-only root filesystem (`docker run --read-only --tmpfs /tmp ...`).

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY detectors ./detectors
COPY dashboards ./dashboards
# A regular (not editable) install: the ONNX models are package data, so they land in site-packages.
RUN /opt/venv/bin/pip install '.[fast]' \
 && /opt/venv/bin/python -c "import monitor.scoring.scorer, uvloop" \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib \
 && /opt/venv/bin/pip uninstall -y -q pip setuptools

FROM python:${PYTHON_VERSION}-slim
LABEL org.opencontainers.image.title="llm-safety-monitor" \
      org.opencontainers.image.description="Sidecar proxy that watches a deployed LLM for safety regressions" \
      org.opencontainers.image.source="https://github.com/llm-safety-monitor/llm-safety-monitor" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 monitor \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin monitor \
 && install -d -o 10001 -g 10001 /var/lib/safety-monitor
# Same path as in the build stage, so the venv's scripts keep their interpreter.
COPY --from=build /opt/venv /opt/venv
# The entry point runs the CLI on uvloop's event loop. serve and tap pick uvloop up by themselves
# (monitor/eventloop.py); this wrapper, which replaces the console script pip wrote, covers the rest.
COPY --chmod=755 <<'EOF' /opt/venv/bin/safety-monitor
#!/opt/venv/bin/python
"""safety-monitor on uvloop's event loop (the image's entry point)."""
import sys

import uvloop

from monitor.cli import main

if __name__ == "__main__":  # the scoring worker re-imports this file under spawn
    uvloop.install()
    sys.exit(main())
EOF
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LANG=C.UTF-8
USER 10001:10001
WORKDIR /var/lib/safety-monitor
EXPOSE 8080 9464
HEALTHCHECK --interval=10s --timeout=3s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=2)"]
ENTRYPOINT ["safety-monitor"]
CMD ["serve", "--host", "0.0.0.0", "--admin-host", "0.0.0.0"]
