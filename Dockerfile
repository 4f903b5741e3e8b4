# One image for every Bearwatch service (ingest, worker); the compose file picks the command.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PIP_NO_CACHE_DIR=1 MALLOC_ARENA_MAX=2
WORKDIR /app
# CPU torch from the PyTorch CPU index keeps the image small; use a CUDA base image for GPU workers.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY consumers ./consumers
COPY alerts ./alerts
COPY dashboards ./dashboards
COPY models ./models
RUN pip install . && useradd --create-home bearwatch
USER bearwatch
EXPOSE 6066 8080 9108
CMD ["bearwatch", "worker"]
