# The ACD controller (`acd serve`): docker build -f docker/controller.Dockerfile .
# Every install step is a script under docker/ that tests/docker run the same way.

FROM python:3.11.14-slim-bookworm AS build
# The build stage is thrown away (only /opt/acd is kept): no pip cache, no version check.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md /src/
COPY acd /src/acd
COPY api /src/api
COPY agi /src/agi
COPY asterisk-config /src/asterisk-config
COPY docker/install-controller.sh docker/render_asterisk_config.py docker/controller-entrypoint.sh /src/docker/
RUN sh /src/docker/install-controller.sh /src /opt/acd

FROM python:3.11.14-slim-bookworm
# Not root: uid 10001 owns only its var dir and the rendered Asterisk config's volume.
RUN groupadd --system --gid 10001 acd \
    && useradd --system --uid 10001 --gid acd --home-dir /var/lib/acd --create-home acd \
    && install -d -m 0700 -o acd -g acd /var/lib/acd-asterisk/rendered
COPY --from=build /opt/acd /opt/acd
ENV PATH=/opt/acd/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ACD_ASTERISK_CONFIG=/opt/acd/share/acd/asterisk-config \
    ACD_STORAGE_VAR_DIR=/var/lib/acd \
    ACD_HTTP_HOST=0.0.0.0 \
    ACD_AGI_HOST=0.0.0.0
USER 10001:10001
WORKDIR /var/lib/acd
# HTTP API, wallboard and /metrics; FastAGI (Asterisk connects to it).
EXPOSE 8080/tcp 4573/tcp
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('ACD_HTTP_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["/opt/acd/share/acd/controller-entrypoint.sh"]
CMD ["acd", "serve"]
