#!/usr/bin/env bash
# Build the project's Dockerfile, unchanged, without a Docker engine, run the image and
# check it as a classroom would use it. Run as root on Debian 12 with buildah, debootstrap
# and iproute2 installed (.ci/run installs them):
#
#     scripts/container_check.sh
#
# 1. A stand-in for python:3.11-slim: debootstrap's Debian 12 (minbase + python3 3.11,
#    python3-venv, passwd, ca-certificates) with a venv at /usr/local, so that python, pip
#    and site-packages sit where the real image has them (/usr/local/bin,
#    /usr/local/lib/python3.11/site-packages) and pip needs no PEP 668 override. Tagged
#    docker.io/library/python:3.11-slim in a private buildah store; the rootfs is cached
#    as a tarball under $CACHE_DIR (delete it to rebuild from Debian's mirror).
# 2. buildah bud of ./Dockerfile (vfs storage, chroot isolation, docker format so that
#    HEALTHCHECK is kept), never pulling; pip inside the build gets this machine's pip
#    configuration (what `pip config list` resolves, as one /etc/pip.conf) and every local
#    file or directory that configuration names (certificates, constraints, wheel dirs and
#    file:// indexes), mounted read-only.
# 3. The image's CMD in a private network namespace that holds only a loopback device,
#    listening on 127.0.0.1:8000 (the CMD's --host narrowed to 127.0.0.1; 8000 is free
#    there by construction, and it is the port the HEALTHCHECK asks), with
#    BACKPROP_MAX_UNITS=4 and BACKPROP_MAX_HIDDEN_LAYERS=1 given with -e. Checked:
#    /healthz, / and its assets, one session and one step (scripts/container_probe.py),
#    the two -e settings (422 naming the lowered limit), that the listening process and
#    every id it holds is not root, that it listens on 127.0.0.1 only, that the
#    Dockerfile's HEALTHCHECK command exits 0 within its timeout (and non-zero once the
#    server is stopped), and that the server logged no error.
# Every step is bounded by `timeout`; containers, images, the store, the namespace and the
# temporary directory are removed on exit, whatever happened.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE_DIR=${BACKPROP_CONTAINER_CACHE:-/var/cache/backprop-lab/container-check}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
STANDIN_PACKAGES=passwd,python3,python3-venv,ca-certificates
# Bump when the stand-in's recipe changes, so that a cached tarball is not reused.
STANDIN_RECIPE="$SUITE $STANDIN_PACKAGES venv-at-usr-local 1"
BASE_IMAGE=docker.io/library/python:3.11-slim
IMAGE=localhost/backprop-lab:container-check
PORT=8000            # inside the private namespace; the HEALTHCHECK asks this port
MAX_UNITS=4          # given with -e; the default network (2-4-1) fits, 2-5-1 must not
MAX_HIDDEN_LAYERS=1

START=$SECONDS
say() { printf '[%4ds] %s\n' "$((SECONDS - START))" "$*"; }
die() {
    say "FAILED: $*"
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root (buildah's chroot isolation and ip netns need it)"
for tool in buildah debootstrap ip ss python3 timeout findmnt; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install buildah debootstrap iproute2)"
done

WORK=$(mktemp -d /var/tmp/backprop-container-check.XXXXXX)
tarball=""
NETNS=backprop-check-$$
STEP_LOG=""
SERVER_PID=""
STEP_PID=""
CONTAINER=""
# buildah on this run's own store (removed at exit), each call bounded in time.
bh() {
    timeout --kill-after=10 600 \
        buildah --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs "$@"
}

descendants() {
    local kid
    for kid in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        echo "$kid"
        descendants "$kid"
    done
}

# Kill a process we started and all its descendants, listed before any of them dies
# (TERM, then KILL whatever is left after 5 s).
kill_tree() {
    local pid=$1 pids p
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    pids="$pid $(descendants "$pid")"
    for p in $pids; do kill -TERM "$p" 2>/dev/null; done
    for _ in $(seq 50); do
        for p in $pids; do
            if kill -0 "$p" 2>/dev/null; then
                sleep 0.1
                continue 2
            fi
        done
        return 0
    done
    for p in $pids; do kill -KILL "$p" 2>/dev/null; done
    return 0
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [ "$rc" -ne 0 ] && [ -n "$STEP_LOG" ] && [ -s "$STEP_LOG" ]; then
        echo "--- last lines of $(basename "$STEP_LOG") ---"
        tail -n 40 "$STEP_LOG"
        echo "---"
    fi
    kill_tree "$STEP_PID"
    kill_tree "$SERVER_PID"
    [ -n "$SERVER_PID" ] && wait "$SERVER_PID" 2>/dev/null
    if [ -d "$WORK/storage" ]; then
        timeout 120 buildah --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs \
            rm --all >/dev/null 2>&1
        timeout 120 buildah --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs \
            rmi --all --force >/dev/null 2>&1
    fi
    ip netns del "$NETNS" 2>/dev/null
    [ -n "$tarball" ] && rm -f "$tarball.tmp.$$"
    # Never rm -rf through a mount that is still there (a bind mount of the host's files).
    findmnt -rn -o TARGET | grep -F "$WORK" | sort -r | while read -r m; do umount -l "$m"; done
    if findmnt -rn -o TARGET | grep -qF "$WORK"; then
        echo "left $WORK in place: something is still mounted under it" >&2
    else
        rm -rf "$WORK"
    fi
    if [ "$rc" -eq 0 ]; then
        say "container check passed; cleaned up"
    else
        say "container check FAILED (exit $rc); cleaned up"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Run a step bounded in time, its output in a log that is shown if it fails.
run_logged() {
    local name=$1 limit=$2
    shift 2
    STEP_LOG="$WORK/$name.log"
    # In the background, so that a signal to this script runs the cleanup at once.
    timeout --kill-after=10 "$limit" "$@" >"$STEP_LOG" 2>&1 &
    STEP_PID=$!
    wait "$STEP_PID" || die "$name (see its log below)"
    STEP_PID=""
}

# ------------------------------------------------------------- 1. the base image
key=$(printf '%s' "$STANDIN_RECIPE" | sha256sum | cut -c1-16)
tarball="$CACHE_DIR/python-3.11-slim-standin-$key.tar.gz"
if [ -s "$tarball" ]; then
    say "stand-in for $BASE_IMAGE: cached $tarball"
else
    say "stand-in for $BASE_IMAGE: debootstrap $SUITE ($STANDIN_PACKAGES) from $MIRROR"
    rootfs="$WORK/rootfs"
    run_logged debootstrap 900 debootstrap --variant=minbase \
        --include="$STANDIN_PACKAGES" "$SUITE" "$rootfs" "$MIRROR"
    # python:3.11-slim has python, pip and site-packages under /usr/local: a venv there.
    run_logged venv 120 chroot "$rootfs" /usr/bin/python3 -m venv /usr/local
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
        "$rootfs"/usr/local/bin/Activate.ps1 "$rootfs"/usr/local/bin/activate*
    findmnt -rn -o TARGET | grep -qF "$rootfs" && die "debootstrap left mounts under $rootfs"
    mkdir -p "$CACHE_DIR"
    rm -f "$CACHE_DIR"/python-3.11-slim-standin-*.tar.gz # older recipes
    run_logged tar 300 tar -C "$rootfs" --numeric-owner -czf "$tarball.tmp.$$" .
    mv -f "$tarball.tmp.$$" "$tarball"
    rm -rf "$rootfs"
    say "cached the stand-in's rootfs as $tarball ($(du -h "$tarball" | cut -f1))"
fi
STEP_LOG="$WORK/base-image.log"
{
    base=$(bh from scratch)
    bh add "$base" "$tarball" /
    bh config --env PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
        --env LANG=C.UTF-8 --cmd python3 "$base"
    bh commit --format docker --rm "$base" "$BASE_IMAGE"
    probe=$(bh from --pull=never "$BASE_IMAGE")
    bh run --isolation chroot "$probe" -- sh -c 'python --version && pip --version' >"$WORK/base-versions"
    bh rm "$probe"
} >"$STEP_LOG" 2>&1 || die "importing the stand-in as $BASE_IMAGE"
say "tagged $BASE_IMAGE locally: $(tr '\n' ' ' <"$WORK/base-versions" | cut -c1-90)"

# ------------------------------------------------------------- 2. build the Dockerfile
# What pip on this machine would use, resolved (files and PIP_* variables), as one file.
python3 -m pip config list >"$WORK/pip-config-list" 2>/dev/null || true
python3 - "$WORK/pip-config-list" "$WORK/pip.conf" "$WORK/pip-mounts" <<'PY'
import ast, configparser, os, sys, urllib.parse
sections = {}
for line in open(sys.argv[1]):
    key, sep, value = line.rstrip("\n").partition("=")
    if not sep:
        continue
    section, _, name = key.rpartition(".")
    sections.setdefault(section, {})[name] = ast.literal_eval(value)
env = sections.pop(":env:", {})  # PIP_* variables beat every file
sections.setdefault("global", {}).update(env)
for name, options in sections.items():
    if name != "global":
        for option in env:
            options.pop(option, None)
config = configparser.ConfigParser(interpolation=None)
config.read_dict(sections)
with open(sys.argv[2], "w") as f:
    config.write(f)
paths = set()
for options in sections.values():
    for value in options.values():
        for token in value.split():
            path = token
            if token.startswith("file:"):
                path = urllib.parse.urlparse(token).path.rstrip("/")
                # A PEP 503 index's pages link to files beside simple/ (../../files/...).
                if os.path.basename(path) == "simple":
                    path = os.path.dirname(path)
            if path.startswith("/") and os.path.exists(path):
                paths.add(os.path.normpath(path))
with open(sys.argv[3], "w") as f:
    f.writelines(p + "\n" for p in sorted(paths))
PY
chmod 600 "$WORK/pip.conf"
mounts=(-v "$WORK/pip.conf:/etc/pip.conf:ro")
while read -r path; do mounts+=(-v "$path:$path:ro"); done <"$WORK/pip-mounts"
say "building ./Dockerfile with buildah (mounted for pip: /etc/pip.conf$(
    while read -r path; do printf ', %s' "$path"; done <"$WORK/pip-mounts"))"
run_logged build 900 buildah --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs \
    bud --format docker --isolation chroot --network host --pull=never \
    "${mounts[@]}" -t "$IMAGE" -f "$ROOT/Dockerfile" "$ROOT"
say "built $IMAGE: $(($(grep -o 'Successfully installed.*' "$STEP_LOG" | wc -w) - 2)) packages installed by pip, $(
    bh images --format '{{.Size}}' "$IMAGE")"

# ------------------------------------------------------------- 3. run and check it
bh inspect --type image "$IMAGE" >"$WORK/image.json"
# The CMD with --host narrowed to 127.0.0.1, and the HEALTHCHECK as argv plus its timeout.
mapfile -t cmd < <(python3 - "$WORK/image.json" "$PORT" <<'PY'
import json, sys
cmd = json.load(open(sys.argv[1]))["Docker"]["config"]["Cmd"] or []
if not {"--host", "--port"} <= set(cmd) or cmd[cmd.index("--port") + 1] != sys.argv[2]:
    sys.exit(f"the CMD {cmd} has changed: this script expects --host ... --port {sys.argv[2]}")
cmd[cmd.index("--host") + 1] = "127.0.0.1"
print("\n".join(cmd))
PY
)
[ "${#cmd[@]}" -gt 0 ] || die "reading the image's CMD"
mapfile -t healthcheck < <(python3 - "$WORK/image.json" <<'PY'
import json, sys
hc = json.load(open(sys.argv[1]))["Docker"]["config"].get("Healthcheck") or {}
test = hc.get("Test") or ["NONE"]
if test[0] == "CMD":
    argv = test[1:]
elif test[0] == "CMD-SHELL":
    argv = ["/bin/sh", "-c", test[1]]
else:
    sys.exit(f"the image has no HEALTHCHECK: {test}")
print(hc.get("Timeout", 30 * 10**9) / 10**9)
print("\n".join(argv))
PY
)
[ "${#healthcheck[@]}" -gt 1 ] || die "reading the image's HEALTHCHECK"
hc_timeout=${healthcheck[0]%.*}
healthcheck=("${healthcheck[@]:1}")

ip netns add "$NETNS"
ip netns exec "$NETNS" ip link set lo up
CONTAINER=$(bh from --pull=never "$IMAGE")
settings=(-e "BACKPROP_MAX_UNITS=$MAX_UNITS" -e "BACKPROP_MAX_HIDDEN_LAYERS=$MAX_HIDDEN_LAYERS")
in_ns() { ip netns exec "$NETNS" "$@"; }
say "running: ${cmd[*]}  (${settings[*]}; private network namespace, loopback only)"
timeout --kill-after=10 600 ip netns exec "$NETNS" \
    buildah --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs \
    run --isolation chroot --network host "${settings[@]}" "$CONTAINER" -- "${cmd[@]}" \
    >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
STEP_LOG="$WORK/server.log"

if ! timeout 180 ip netns exec "$NETNS" python3 "$ROOT/scripts/container_probe.py" \
    --url "http://127.0.0.1:$PORT" --max-units "$MAX_UNITS" \
    --max-hidden-layers "$MAX_HIDDEN_LAYERS" --start-timeout 90 |
    while IFS= read -r line; do say "$line"; done; then
    die "the HTTP checks (scripts/container_probe.py)"
fi

listeners=$(in_ns ss -Hltnp)
if [ -z "$listeners" ] || [ "$(wc -l <<<"$listeners")" -ne 1 ]; then
    die "expected one listening socket, got: ${listeners:-none}"
fi
grep -q " 127.0.0.1:$PORT " <<<"$listeners" || die "not on 127.0.0.1:$PORT only: $listeners"
server=$(grep -o 'pid=[0-9]*' <<<"$listeners" | head -1 | cut -d= -f2)
uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$server/status")
gids=$(awk '/^Gid:/ {print $2, $3, $4, $5}' "/proc/$server/status")
for id in $uids $gids; do [ "$id" -ne 0 ] || die "the server (pid $server) runs as root: uid $uids gid $gids"; done
say "ok: the server (pid $server: $(tr '\0' ' ' <"/proc/$server/cmdline")) is not root:" \
    "uid $uids, gid $gids (real, effective, saved, fs); it listens on 127.0.0.1:$PORT only"

healthcheck_run() {
    # As Docker runs it: in the container, as its user, with its environment.
    timeout --kill-after=5 "$((hc_timeout + 10))" ip netns exec "$NETNS" \
        buildah --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs \
        run --isolation chroot --network host "${settings[@]}" "$CONTAINER" -- "${healthcheck[@]}"
}
t0=$(date +%s.%N)
healthcheck_run >"$WORK/healthcheck.log" 2>&1 || {
    STEP_LOG="$WORK/healthcheck.log"
    die "the HEALTHCHECK command exited non-zero with the server up"
}
took=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$t0" "$(date +%s.%N)")
python3 -c "import sys; sys.exit(float(sys.argv[1]) > float(sys.argv[2]))" "$took" "$hc_timeout" ||
    die "the HEALTHCHECK took ${took} s, over its timeout of ${hc_timeout} s"
say "ok: HEALTHCHECK (${healthcheck[*]:0:2} ...) exits 0 in ${took} s (timeout ${hc_timeout} s)"

if grep -E -q 'Traceback|" 5[0-9][0-9] |ERROR' "$WORK/server.log"; then
    die "the server logged an error"
fi
say "ok: the server's log has no error or 5xx ($(grep -c 'HTTP/1.1"' "$WORK/server.log") requests)"

kill -TERM "$server"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
grep -q "Finished server process" "$WORK/server.log" || die "the server did not stop cleanly on SIGTERM"
if healthcheck_run >"$WORK/healthcheck-down.log" 2>&1; then
    die "the HEALTHCHECK command exits 0 with the server stopped: it checks nothing"
fi
say "ok: the server stops on SIGTERM, and then the HEALTHCHECK command exits non-zero"
