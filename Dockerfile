# syntax=docker/dockerfile:1
# (BuildKit: the runtime stage bind-mounts the builder's wheels instead of copying them into a layer.)
# botflow-server image: `docker build -t botflow-server:$(cat VERSION) .`
# Two stages: the builder turns the work tree into wheels (botflow-client from
# clients/python, botflow-server from the root, every dependency at the version
# pinned in constraints.txt); the runtime stage installs those wheels only: no
# compiler, no sources, no tests, no client tools, no pip cache.
# Written and checked by tests/test_deploy.py; see docs/deploy.md for what was
# built where.

FROM python:3.11-slim AS builder
WORKDIR /src
# The client first: the server's dependency on botflow-client is met from
# this wheel, not from a package index.
COPY VERSION README.md constraints.txt ./
COPY clients/python clients/python
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels ./clients/python
COPY pyproject.toml ./
COPY server server
COPY providers providers
RUN pip wheel --no-cache-dir --wheel-dir /wheels --find-links /wheels \
        --constraint constraints.txt .

FROM python:3.11-slim
# A fixed uid/gid (10001) the Kubernetes securityContext names too.
RUN groupadd --system --gid 10001 botflow \
    && useradd --system --uid 10001 --gid botflow --no-create-home \
        --shell /usr/sbin/nologin botflow
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels botflow-server
# One worker per container: replicas scale by pods (the autoscaler counts a
# pod's CPU), and the pod's CPU request is one core. Override with
# BOTFLOW_WORKERS for a single big container.
ENV BOTFLOW_HOST=0.0.0.0 \
    BOTFLOW_PORT=50051 \
    BOTFLOW_WORKERS=1 \
    BOTFLOW_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
EXPOSE 50051 9090
# The standard gRPC health service, for botflow.v1.FlowService: NOT_SERVING
# (exit 1) from the first SIGTERM on, as a balancer should see it. Plaintext
# only: with --tls-cert use the orchestrator's probes instead.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, sys, grpc; from grpc_health.v1 import health_pb2 as h, health_pb2_grpc as g; c = grpc.insecure_channel('127.0.0.1:' + os.environ.get('BOTFLOW_PORT', '50051')); r = g.HealthStub(c).Check(h.HealthCheckRequest(service='botflow.v1.FlowService'), timeout=2); sys.exit(r.status != h.HealthCheckResponse.SERVING)"]
ENTRYPOINT ["botflow"]
CMD ["serve", "--metrics-port", "9090"]
