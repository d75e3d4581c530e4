# Backprop Lab for a classroom: one container, every student's browser gets a session.
#   docker build -t backprop-lab .
#   docker run --rm -p 8000:8000 backprop-lab
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The service's limits, at their defaults; override any with `docker run -e NAME=value`.
# README.md ("Settings") says what each one bounds.
ENV BACKPROP_SESSION_TTL_SECONDS=7200 \
    BACKPROP_MAX_SESSIONS=1000 \
    BACKPROP_MAX_HIDDEN_LAYERS=16 \
    BACKPROP_MAX_UNITS=64 \
    BACKPROP_MAX_SAMPLES=2000 \
    BACKPROP_MAX_STEPS_PER_CALL=10000 \
    BACKPROP_TRAIN_TIME_LIMIT_SECONDS=2.0 \
    BACKPROP_MAX_GRID_RESOLUTION=101 \
    BACKPROP_MAX_HISTORY_POINTS=4096 \
    BACKPROP_UNDO_DEPTH=50 \
    BACKPROP_MAX_UNDO_BYTES=4000000 \
    BACKPROP_MAX_BODY_BYTES=1000000 \
    BACKPROP_MAX_GRADCHECK_WEIGHTS=5000 \
    BACKPROP_MAX_FOLLOWERS_PER_SESSION=250 \
    BACKPROP_MAX_FOLLOWERS=2000 \
    BACKPROP_FOLLOW_BUFFER_BYTES=1000000 \
    BACKPROP_MAX_BATCH=256 \
    BACKPROP_MAX_SESSION_BYTES=8000000 \
    BACKPROP_MAX_RESPONSE_BYTES=8000000 \
    BACKPROP_GRADCHECK_TIME_LIMIT_SECONDS=2.0 \
    BACKPROP_MAX_CONNECTIONS=4000 \
    BACKPROP_KEEP_ALIVE_SECONDS=5.0 \
    BACKPROP_BODY_TIMEOUT_SECONDS=10.0 \
    BACKPROP_COMPUTE_THREADS=2

RUN useradd --create-home --uid 10001 --user-group lab

# Install from a copy of the sources, then drop them: only site-packages is used.
COPY pyproject.toml README.md /tmp/src/
COPY engine /tmp/src/engine
COPY app /tmp/src/app
COPY static /tmp/src/static
RUN pip install --no-cache-dir /tmp/src && rm -rf /tmp/src

# Numeric, so that a runtime can check it is not root without reading /etc/passwd.
USER 10001:10001
WORKDIR /home/lab
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["backprop-lab", "--host", "0.0.0.0", "--port", "8000"]
