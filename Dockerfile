# The auditlens image (deploy/k8s runs it; docs/deploy.md). Build: docker build -t auditlens .
# Its install steps are the Makefile's (`make demo`, `make test`: a venv, pip upgraded, the
# package) without the editable flag and the dev extras; tests/deploy/test_dockerfile.py
# keeps them the same, so CI, which cannot build images, runs these steps on every push.
FROM python:3.11-slim-bookworm

# Korean glyphs in report charts (the font .ci/run installs for the same reason)
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-nanum \
    && rm -rf /var/lib/apt/lists/*

# Non-root, the uid/gid deploy/k8s runs as (runAsUser 10001)
RUN groupadd --gid 10001 auditlens \
    && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin auditlens

WORKDIR /opt/auditlens
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv .venv
RUN .venv/bin/python -m pip install --no-cache-dir --disable-pip-version-check --upgrade pip
RUN .venv/bin/python -m pip install --no-cache-dir --disable-pip-version-check .

ENV PATH="/opt/auditlens/.venv/bin:${PATH}" \
    AUDITLENS_CONFIG=/etc/auditlens/auditlens.toml \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
# auditlens serve api / auditlens serve dashboard
EXPOSE 8000 8501
ENTRYPOINT ["auditlens"]
CMD ["--help"]
