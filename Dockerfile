# One image for both app services: `videocache serve` (the proxy) and `videocache simulate`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# torch first, from the CPU-only index: otherwise sentence-transformers pulls a CUDA build
# of several GB. Its own layer, so code changes do not re-download it.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

COPY pyproject.toml ./
COPY proxy ./proxy
COPY cache ./cache
COPY config ./config
COPY metrics ./metrics
COPY simulator ./simulator
RUN pip install .

RUN useradd --create-home --uid 10001 videocache \
    && mkdir -p /data \
    && chown videocache /data
USER videocache
ENV VIDEOCACHE_DATA_DIR=/data
VOLUME ["/data"]

EXPOSE 8080 8081
ENTRYPOINT ["videocache"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
