# The shop image: the locked dependency set (uv.lock) installed into a virtual environment at
# /opt/venv in a build stage, copied into a clean runtime that runs one process as a non-root
# user. The venv makes the image independent of where the base keeps its Python (the official
# python image's /usr/local, Debian's /usr: compose.local.yaml builds on the latter).
# A `loadtest` target adds the [loadtest] extra, the scenarios and the built Shop tab.
ARG PYTHON=python:3.11.11-slim-bookworm

FROM ${PYTHON} AS build
ENV UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv UV_NO_CACHE=1
WORKDIR /src
COPY pyproject.toml uv.lock ./
# uv itself at the version the lock names (as `make install` does), outside the shop's venv.
RUN python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install -q --no-cache-dir \
       "uv==$(sed -n '/^name = "uv"$/{n;s/^version = "\(.*\)"$/\1/p;}' uv.lock)"
# The dependencies first: this layer is reused until the lock changes.
RUN /opt/uv/bin/uv sync --locked --no-dev --no-editable --no-install-project
COPY README.md ./
COPY service ./service
RUN /opt/uv/bin/uv sync --locked --no-dev --no-editable

# What both images run on: the bare Python, a user without privileges, no compilers.
FROM ${PYTHON} AS base
RUN useradd --system --uid 10001 --home-dir /app shop
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1

FROM base AS runtime
COPY --from=build /opt/venv /opt/venv
USER shop
# Production unless told otherwise: default secrets are refused, user tokens are required.
ENV SHOP_ENV=prod SHOP_HOST=0.0.0.0 SHOP_PORT=8081
EXPOSE 8081
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8081/healthz', timeout=2).status != 200)"]
# Migrations and seeding are a one-shot job (compose: `migrate`), never a replica's start-up.
CMD ["python", "-m", "shop", "serve"]

FROM build AS build-loadtest
RUN /opt/uv/bin/uv sync --locked --no-dev --no-editable --extra loadtest

# locust with the scenarios and the Shop tab already built (`make webui`); .dockerignore leaves
# out the benchmarks and the tab's npm sources.
FROM base AS loadtest
COPY --from=build-loadtest /opt/venv /opt/venv
COPY loadtest /app/loadtest
USER shop
ENV PYTHONPATH=/app
EXPOSE 8089
HEALTHCHECK NONE
ENTRYPOINT ["python", "-m", "locust", "-f", "/app/loadtest/locustfile.py"]
CMD []

# The default target is the service itself.
FROM runtime
