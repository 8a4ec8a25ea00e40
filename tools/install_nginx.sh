#!/usr/bin/env bash
# nginx for the load-balancing test (tests/integration/test_load_balancing.py)
# and `make bench`: its gRPC proxy (grpc_pass) is the "real load balancer" the
# replicas run behind. Debian's nginx-light has the http_v2 and grpc modules;
# plain `nginx` is the fallback on releases without nginx-light. Does nothing
# when nginx is already installed; needs root (CI runs as root).
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_nginx.sh: no nginx and no apt-get: install nginx by hand" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends nginx-light \
    || $SUDO apt-get install -y -qq --no-install-recommends nginx
# The test runs its own nginx (its own config, prefix and port): the
# distribution's service, started by the package on some systems, is not needed.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
    $SUDO systemctl stop nginx || true
fi
