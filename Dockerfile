# The civicloop worker, API and CLI image used by docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY civicloop civicloop
COPY schemas schemas
COPY streams streams
COPY projections projections
COPY api api
COPY tools tools
# mypyc compiles the per-event path (civicloop/compiled.py, docs/DESIGN.md §8) with gcc; the
# install is editable so the build sits beside the sources, as `make compiled` puts it. Should
# the build fail, the image runs the pure Python (its health's per_event_path says so).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir -e . mypy==2.4.1 \
    && (python -c "from civicloop.compiled import build; build()" \
        || echo "mypyc could not build the compiled modules: the image runs the pure Python")
ENV CIVICLOOP_HOME=/var/lib/civicloop
VOLUME /var/lib/civicloop
ENTRYPOINT ["civicloop"]
CMD ["worker"]
