# The shop service image: one process per container, configured by SHOP_* variables.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --system --uid 10001 shop
COPY --from=build /install /usr/local
USER shop
ENV SHOP_HOST=0.0.0.0 SHOP_PORT=8081 PYTHONUNBUFFERED=1
EXPOSE 8081
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8081/healthz').status != 200)"
CMD ["sh", "-c", "python -m shop migrate && exec python -m shop serve"]
