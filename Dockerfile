# syntax=docker/dockerfile:1.7
# One image for both entry points:
#   engine:   fixplus run -c /etc/fixplus/engine.yaml   (the default command)
#   operator: fixplus-operator                          (set as the container command)
# The build stage compiles the optional C codec accelerator; the final stage
# carries only the virtual environment and the FIX dictionaries.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV VENV=/opt/fixplus \
    SPEC_DIR=/opt/fixplus/spec \
    QUICKFIX_VERSION=1.16.0 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# A base whose Python has no C headers (a Debian base with python3, as the
# test node builds) gets python3-dev; python:3.11-slim has them.
# hadolint ignore=DL3008,SC2086
RUN headers="$(python -c 'import os, sysconfig; print("" if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else "python3-dev")')" \
    && apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev $headers \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY engine ./engine
COPY operator ./operator
RUN python -m venv "$VENV" \
    && "$VENV/bin/pip" install --upgrade "pip>=24" "setuptools>=69" wheel \
    && "$VENV/bin/pip" install ".[postgres,redis,mysql,mongodb,otlp,uvloop]"
# The FIX data dictionaries come from the quickfix source distribution on PyPI.
RUN "$VENV/bin/pip" download --no-deps --no-binary :all: "quickfix==$QUICKFIX_VERSION" -d /tmp/quickfix \
    && mkdir -p "$SPEC_DIR" \
    && tar -xzf "/tmp/quickfix/quickfix-$QUICKFIX_VERSION.tar.gz" -C /tmp/quickfix \
    && cp "/tmp/quickfix/quickfix-$QUICKFIX_VERSION/spec/"FIX*.xml "$SPEC_DIR/" \
    && rm -rf /tmp/quickfix
RUN "$VENV/bin/fixplus" --version \
    && "$VENV/bin/python" -c "import pyfixmsg_plus.engine.codec._speedups"

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/fixplus/bin:$PATH \
    FIXPLUS_SPEC_DIR=/opt/fixplus/spec \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 fixplus \
    && useradd --system --uid 10001 --gid fixplus --no-create-home --home-dir /nonexistent fixplus
COPY --from=build /opt/fixplus /opt/fixplus
USER 10001:10001
WORKDIR /tmp
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["fixplus", "healthcheck"]
ENTRYPOINT []
CMD ["fixplus", "run", "-c", "/etc/fixplus/engine.yaml"]
