# Asterisk 22 for the ACD: docker build -f docker/asterisk.Dockerfile .
# Debian sid's packages (Debian 12 has none; ../shared/ASTERISK.md), the same ones
# `acd asterisk install` puts in its sid root. The configuration is asterisk-config/, rendered
# at each start by the compose service `asterisk-config` from the controller's secrets.

FROM debian:sid-20251117-slim
COPY docker/install-asterisk.sh /usr/local/lib/acd/install-asterisk.sh
RUN sh /usr/local/lib/acd/install-asterisk.sh
COPY docker/asterisk-entrypoint.sh /usr/local/bin/asterisk-entrypoint.sh
# SIP (UDP), RTP (asterisk-config/rtp.conf's range as rendered), AMI (the controllers only).
EXPOSE 5060/udp 10000-10199/udp 5038/tcp
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/sbin/asterisk", "-C", "/var/lib/acd-asterisk/etc/asterisk.conf", "-rx", "core waitfullybooted 3"]
# Starts as root to own this start's etc/ and directories, then Asterisk runs as `asterisk`.
ENTRYPOINT ["/usr/local/bin/asterisk-entrypoint.sh"]
