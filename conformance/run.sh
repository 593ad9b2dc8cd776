#!/usr/bin/env bash
# Runs the HTTP caching test suite cache-tests (github.com/http-tests/cache-tests)
# against fibercache (or Fiber's own cache) behind Fiber's proxy middleware,
# in Fiber v2 or Fiber v3,
# saves the suite's JSON results and prints the cache-tests.fyi counts.
# Everything listens on 127.0.0.1 only; see conformance/README.md.
#
#   conformance/run.sh [-o FILE] [-i TEST_ID]
#
# Environment:
#   IMPL=fibercache|fiber   cache under test (default fibercache)
#   ADAPTER=v2|v3           Fiber version of the proxy and of the cache under test:
#                           v2 (the root module, Fiber v2's middleware/cache) or v3
#                           (fiberv3, Fiber v3's middleware/cache); default v2
#   STORE=mem|redis         its store (default mem)
#   REDIS_ADDR=host:port    loopback Redis for STORE=redis (default 127.0.0.1:6379;
#                           when the default answers nothing and redis-server is
#                           on PATH, a throwaway one is started on a free port)
#   CACHE_TESTS_DIR=DIR     a cache-tests checkout (default: clone the repository
#                           at the commit in conformance/COMMIT)
#   FIBERCACHE_REF=REV      build the proxy against this committed revision of
#                           the module (git archive into a temp dir) instead of
#                           the work tree, e.g. while the work tree does not build
#   FIBER_CONFIG=rfc|plain  with IMPL=fiber: rfc (default: lifetime from the response's
#                           Cache-Control/Expires, key with query) or plain (fixed
#                           1-minute Expiration, key = path); see proxy/main.go
#   OUT=FILE                same as -o (default conformance/results/IMPL-STORE.json
#                           for v2, conformance/results/IMPL-v3-STORE.json for v3)
#   RUN_TIMEOUT=SECONDS     bound on the whole run (default 1200)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/conformance"
RUN_TIMEOUT="${RUN_TIMEOUT:-1200}"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

# Bound the whole run: re-run this script under timeout(1) once.
if [ -z "${CONFORMANCE_BOUNDED:-}" ]; then
  export CONFORMANCE_BOUNDED=1
  exec timeout --foreground -k 30 "$RUN_TIMEOUT" bash "${BASH_SOURCE[0]}" "$@"
fi

IMPL="${IMPL:-fibercache}"
ADAPTER="${ADAPTER:-v2}"
STORE="${STORE:-mem}"
OUT="${OUT:-}"
TEST_ID=""
while getopts "o:i:h" opt; do
  case "$opt" in
    o) OUT="$OPTARG" ;;
    i) TEST_ID="$OPTARG" ;;
    h) usage 0 ;;
    *) usage 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { echo "run.sh: unexpected arguments: $*" >&2; usage 2; }

die() { echo "run.sh: $*" >&2; exit 1; }
log() { echo "run.sh: $*" >&2; }

case "$IMPL" in fibercache|fiber) ;; *) die "IMPL=$IMPL: want fibercache or fiber" ;; esac
case "$STORE" in mem|redis) ;; *) die "STORE=$STORE: want mem or redis" ;; esac
case "$ADAPTER" in v2|v3) ;; *) die "ADAPTER=$ADAPTER: want v2 or v3" ;; esac
# The results' name: IMPL for v2 (as before v3 existed), IMPL-v3 for v3.
IMPL_NAME="$IMPL"
[ "$ADAPTER" = v2 ] || IMPL_NAME="$IMPL-$ADAPTER"
for tool in go node npm tar; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not on PATH"
done
[ -n "$OUT" ] || OUT="$HERE/results/$IMPL_NAME-$STORE.json"
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac

WORK="$(mktemp -d "${TMPDIR:-/tmp}/fibercache-conformance.XXXXXX")"
ORIGIN_PGID=""
PROXY_PID=""
REDIS_PID=""
CLIENT_PID=""

stop_pid() { # pid [signal-target...]: TERM, wait up to 10 s, then KILL
  local pid="$1" i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -z "$CLIENT_PID" ] || stop_pid "$CLIENT_PID"
  [ -z "$PROXY_PID" ] || stop_pid "$PROXY_PID"
  if [ -n "$ORIGIN_PGID" ]; then
    kill -TERM -- "-$ORIGIN_PGID" 2>/dev/null || true
    if [ -f "$WORK/origin.pid" ]; then stop_pid "$(cat "$WORK/origin.pid")"; fi
    stop_pid "$ORIGIN_PGID"
  fi
  [ -z "$REDIS_PID" ] || stop_pid "$REDIS_PID"
  wait 2>/dev/null || true
  if [ "$rc" -ne 0 ] && [ -d "$WORK" ]; then
    for f in origin.log proxy.log client.err redis.log; do
      if [ -s "$WORK/$f" ]; then
        echo "---- last lines of $f" >&2
        tail -n 20 "$WORK/$f" >&2
      fi
    done
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_ports N: N distinct free TCP ports on 127.0.0.1.
free_ports() {
  node -e '
    const net = require("net"); const n = Number(process.argv[1]); const ss = [];
    (function next () {
      if (ss.length === n) { console.log(ss.map(s => s.address().port).join(" ")); ss.forEach(s => s.close()); return }
      const s = net.createServer(); ss.push(s); s.listen(0, "127.0.0.1", next)
    })()' "$1"
}

# answers HOST PORT: something accepts TCP connections there.
answers() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# wait_for NAME HOST PORT PID SECONDS: until it answers, bounded, and fail
# early when its process has died.
wait_for() {
  local name="$1" host="$2" port="$3" pid="$4" secs="$5" i
  for i in $(seq 1 $((secs * 5))); do
    if answers "$host" "$port"; then return 0; fi
    kill -0 "$pid" 2>/dev/null || die "$name exited before answering on $host:$port"
    sleep 0.2
  done
  die "$name did not answer on $host:$port within ${secs}s"
}

is_loopback_hostport() {
  local host="${1%:*}"
  host="${host#[}"; host="${host%]}"
  case "$host" in 127.*|localhost|::1) return 0 ;; *) return 1 ;; esac
}

# ---- the suite: a writable copy with its dependencies, in $WORK
PINNED="$(tr -d ' \n' < "$HERE/COMMIT")"
if [ -z "${CACHE_TESTS_DIR:-}" ]; then
  command -v git >/dev/null 2>&1 || die "git is not on PATH (or set CACHE_TESTS_DIR)"
  log "cloning github.com/http-tests/cache-tests at $PINNED"
  timeout 300 git clone --quiet https://github.com/http-tests/cache-tests "$WORK/clone" \
    || die "cannot clone cache-tests; set CACHE_TESTS_DIR to a checkout"
  git -C "$WORK/clone" -c advice.detachedHead=false checkout --quiet "$PINNED"
  echo "$PINNED" > "$WORK/clone/COMMIT"
  SRC_SUITE="$WORK/clone"
else
  SRC_SUITE="$CACHE_TESTS_DIR"
  [ -f "$SRC_SUITE/tests/index.mjs" ] && [ -f "$SRC_SUITE/test-engine/cli.mjs" ] \
    || die "CACHE_TESTS_DIR=$SRC_SUITE is not a cache-tests checkout"
  have=""
  if [ -f "$SRC_SUITE/COMMIT" ]; then
    have="$(tr -d ' \n' < "$SRC_SUITE/COMMIT")"
  elif [ -e "$SRC_SUITE/.git" ]; then
    have="$(git -C "$SRC_SUITE" rev-parse HEAD 2>/dev/null || true)"
  fi
  if [ -n "$have" ] && [ "$have" != "$PINNED" ]; then
    log "warning: CACHE_TESTS_DIR is at $have, conformance/COMMIT pins $PINNED; totals may differ"
  fi
fi
SUITE="$WORK/cache-tests"
mkdir -p "$SUITE"
tar -C "$SRC_SUITE" --exclude=./node_modules --exclude=./.git -cf - . | tar -C "$SUITE" -xf -
chmod -R u+w "$SUITE"
log "npm install --omit=dev (in $SUITE)"
(cd "$SUITE" && timeout 300 npm install --omit=dev --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1) \
  || { cat "$WORK/npm.log" >&2; die "npm install failed"; }
cp "$HERE/loopback.mjs" "$WORK/loopback.mjs"

# ---- the proxy binary
if [ -n "${FIBERCACHE_REF:-}" ]; then
  command -v git >/dev/null 2>&1 || die "git is not on PATH (needed for FIBERCACHE_REF)"
  BUILD_DIR="$WORK/src"
  mkdir -p "$BUILD_DIR"
  git -C "$ROOT" archive "$FIBERCACHE_REF" | tar -C "$BUILD_DIR" -xf - \
    || die "FIBERCACHE_REF=$FIBERCACHE_REF: git archive failed"
  rm -rf "$BUILD_DIR/conformance/proxy"
  mkdir -p "$BUILD_DIR/conformance"
  cp -R "$HERE/proxy" "$BUILD_DIR/conformance/proxy"
  REV="$(git -C "$ROOT" rev-parse --short "$FIBERCACHE_REF")"
else
  BUILD_DIR="$ROOT"
  REV="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  if [ -n "$(git -C "$ROOT" status --porcelain -- . ':!conformance' 2>/dev/null || true)" ]; then
    REV="$REV+work-tree"
  fi
fi
log "building conformance/proxy (fibercache $REV)"
(cd "$BUILD_DIR" && timeout 600 go build -o "$WORK/proxy" ./conformance/proxy) \
  || die "go build ./conformance/proxy failed (while the work tree does not build, try FIBERCACHE_REF=<a commit that does>)"

# ---- Redis
PROXY_ARGS=(-impl "$IMPL" -adapter "$ADAPTER")
if [ "$IMPL" = fiber ]; then
  case "${FIBER_CONFIG:-rfc}" in rfc|plain) ;; *) die "FIBER_CONFIG=$FIBER_CONFIG: want rfc or plain" ;; esac
  PROXY_ARGS+=(-fiber-config "${FIBER_CONFIG:-rfc}")
fi
if [ "$STORE" = redis ]; then
  if [ -n "${REDIS_ADDR:-}" ]; then
    is_loopback_hostport "$REDIS_ADDR" || die "REDIS_ADDR=$REDIS_ADDR is not a loopback address"
    answers "${REDIS_ADDR%:*}" "${REDIS_ADDR##*:}" || die "nothing answers at REDIS_ADDR=$REDIS_ADDR"
  elif answers 127.0.0.1 6379; then
    REDIS_ADDR=127.0.0.1:6379
  else
    command -v redis-server >/dev/null 2>&1 \
      || die "no Redis at 127.0.0.1:6379 and redis-server is not on PATH; set REDIS_ADDR"
    read -r rport < <(free_ports 1)
    redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
    REDIS_PID=$!
    wait_for redis-server 127.0.0.1 "$rport" "$REDIS_PID" 20
    REDIS_ADDR="127.0.0.1:$rport"
    log "started a throwaway redis-server on $REDIS_ADDR"
  fi
  PROXY_ARGS+=(-redis "$REDIS_ADDR")
fi

# ---- origin and proxy, on free loopback ports
read -r ORIGIN_PORT PROXY_PORT < <(free_ports 2)
log "origin on 127.0.0.1:$ORIGIN_PORT, proxy ($IMPL, Fiber $ADAPTER, $STORE) on 127.0.0.1:$PROXY_PORT"
(cd "$SUITE" && NODE_OPTIONS="--import=$WORK/loopback.mjs" exec setsid npm run --silent server \
  --port="$ORIGIN_PORT" --pidfile="$WORK/origin.pid" >"$WORK/origin.log" 2>&1) &
ORIGIN_PGID=$!
wait_for "origin server" 127.0.0.1 "$ORIGIN_PORT" "$ORIGIN_PGID" 30

PREFIX="conformance:$IMPL_NAME-$STORE-$(date +%s)-$$:"
"$WORK/proxy" "${PROXY_ARGS[@]}" -listen "127.0.0.1:$PROXY_PORT" \
  -origin "http://127.0.0.1:$ORIGIN_PORT" -prefix "$PREFIX" >"$WORK/proxy.log" 2>&1 &
PROXY_PID=$!
wait_for proxy 127.0.0.1 "$PROXY_PORT" "$PROXY_PID" 30

# ---- the client
if [ -n "$TEST_ID" ]; then
  (cd "$SUITE" && timeout 120 npm run --silent cli --base="http://127.0.0.1:$PROXY_PORT" --id="$TEST_ID") &
  CLIENT_PID=$!
  wait "$CLIENT_PID"
  CLIENT_PID=""
  exit 0
fi
log "running the client (takes about a minute)"
(cd "$SUITE" && exec timeout 600 npm run --silent cli --base="http://127.0.0.1:$PROXY_PORT" --id=) \
  >"$WORK/results.json" 2>"$WORK/client.err" &
CLIENT_PID=$!
wait "$CLIENT_PID" || die "the client failed (exit $?)"
CLIENT_PID=""
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  if (Object.keys(r).length === 0) { console.error("no results"); process.exit(1) }' "$WORK/results.json" \
  || die "the client printed no JSON results"
mkdir -p "$(dirname "$OUT")"
cp "$WORK/results.json" "$OUT"
log "results: $OUT"

# ---- stop the proxy (so its Redis keys are removed) and summarise
stop_pid "$PROXY_PID"
PROXY_PID=""
grep -h 'removed\|removing' "$WORK/proxy.log" >&2 || true

echo
NAME="$IMPL_NAME ($STORE)"
if [ "$IMPL" = fiber ]; then
  NAME="fiber $ADAPTER cache, ${FIBER_CONFIG:-rfc} config ($STORE)"
fi
echo "fibercache $REV; IMPL=$IMPL ADAPTER=$ADAPTER STORE=$STORE"
node "$HERE/summary.mjs" --suite "$SUITE" --published --fails "$NAME=$OUT"
