# The shop image: build a wheel, install it into a clean runtime as a non-root user, run one
# process. A `loadtest` target adds locust and the scenarios for the compose load generator.
ARG PYTHON=python:3.11.11-slim-bookworm

FROM ${PYTHON} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
RUN pip install --no-cache-dir --prefix=/install .

FROM ${PYTHON} AS runtime
RUN useradd --system --uid 10001 --home-dir /app shop
COPY --from=build /install /usr/local
WORKDIR /app
USER shop
ENV SHOP_HOST=0.0.0.0 SHOP_PORT=8081 PYTHONUNBUFFERED=1
EXPOSE 8081
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8081/healthz', timeout=2).status != 200)"]
# Migrations and seeding are a one-shot job (compose: `migrate`), never a replica's start-up.
CMD ["python", "-m", "shop", "serve"]

FROM runtime AS loadtest
USER root
RUN pip install --no-cache-dir "locust>=2.47"
COPY loadtest /app/loadtest
USER shop
ENV PYTHONPATH=/app
EXPOSE 8089
HEALTHCHECK NONE
ENTRYPOINT ["python", "-m", "locust", "-f", "/app/loadtest/locustfile.py"]

# The default target is the service itself.
FROM runtime
