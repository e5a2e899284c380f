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
RUN pip install --no-cache-dir .
ENV CIVICLOOP_HOME=/var/lib/civicloop
VOLUME /var/lib/civicloop
ENTRYPOINT ["civicloop"]
CMD ["worker"]
