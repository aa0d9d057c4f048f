# falco-rules-bot: the GitHub App (`serve`) and the queue consumer (`worker`) in one image.
#
#   docker build -t falco-rules-bot:0.1.0 .
#   docker run -p 8000:8000 -v falco-rules-bot-data:/data -e GITHUB_APP_ID=... -e GITHUB_WEBHOOK_SECRET=... \
#              -e GITHUB_PRIVATE_KEY_PATH=/run/secrets/github-app.pem -v $PWD/app.pem:/run/secrets/github-app.pem:ro \
#              falco-rules-bot:0.1.0
#
# The default command is the web process (embedded mode: SQLite store and queue under DATA_DIR=/data, a volume);
# `falco-rules-bot worker` is the other process of scale-out mode (docs/deployment.md, deploy/).

# --- build: a virtual environment with the package and its dependencies (no dev extras) -------------------------
FROM python:3.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot/ bot/
COPY config/ config/
COPY templates/ templates/

# An editable install: the code finds config/ and templates/ beside bot/ (they are not package data), so the
# package stays in /app, where the runtime stage puts it again, and the venv points at it. pip and setuptools are
# not needed at run time (the editable finder is plain importlib).
RUN pip install --editable . \
    && python -m pip uninstall --yes setuptools pip \
    && python -m compileall -q /app/bot

# --- runtime ---------------------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS runtime

# git fetches pull request heads into the mirrors; gpg verifies commit signatures (python-gnupg runs it).
RUN apt-get update \
    && apt-get install -y --no-install-recommends git gnupg \
    && rm -rf /var/lib/apt/lists/*

# A fixed numeric uid/gid, so that Kubernetes' runAsNonRoot can check it (deploy/kubernetes uses the same ids).
RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid bot --home-dir /home/bot --create-home --shell /usr/sbin/nologin bot \
    && mkdir -p /data \
    && chown bot:bot /data

COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATA_DIR=/data

WORKDIR /app
USER 10001:10001
# The embedded store (SQLite), the queue, git mirrors and the credentials /setup writes live here.
VOLUME ["/data"]

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]

CMD ["falco-rules-bot", "serve", "--host", "0.0.0.0", "--port", "8000"]
