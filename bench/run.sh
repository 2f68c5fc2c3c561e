#!/usr/bin/env bash
# Benchmarks weir against nginx and HAProxy on loopback, in front of one nginx
# backend: throughput and latency with wrk, then instructions and syscalls
# per request with callgrind and strace; TLS termination in modes tls and
# tls-idle.
#
# Usage: bench/run.sh [throughput|counts|idle|tls|tls-idle|all]
#   (all = throughput and counts)
# Environment (defaults in brackets):
#   WORKERS [1; tls modes 2]   worker processes (weir, nginx) / threads (HAProxy)
#   THREADS [1] CONNS [50] DURATION [10s] WARMUP [2s] ROUNDS [3]   wrk
#   COUNT_REQS [20000] COUNT_CONNS [8]   fixed-count load for callgrind/strace
#   IDLE_CONNS [5000] FLOOD_CONNS [10000] SETTLE [60]   idle: memory per idle
#     keep-alive connection, and each worker's RSS SETTLE s after a flood
#   TLS_CLIENTS [4]   parallel openssl s_time clients (tls: handshakes/s)
#   RESUME_CONNS [200]   tls: connections of the resumption-rate test
#   TARGETS   the proxies measured: tls [weir nginx haproxy], idle and
#     tls-idle [weir nginx]
#   (tls-idle: IDLE_CONNS defaults to 10000 and FLOOD_CONNS to 0)
#   WEIR_BIN [./weir]   WEIR_BENCH_KEEP=1 keeps the temp dir (kept on failure)
#   WEIR_CONF_EXTRA   lines added to weir's [frontend] (e.g. header rules)
# Every port is picked at run time; everything started here is stopped on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WEIR=${WEIR_BIN:-$(dirname "$HERE")/weir}
MODE=${1:-all}
TLS_MODE=0
[[ $MODE == tls || $MODE == tls-idle ]] && TLS_MODE=1
WORKERS=${WORKERS:-$((TLS_MODE ? 2 : 1))}
THREADS=${THREADS:-1}
CONNS=${CONNS:-50}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-3}
COUNT_REQS=${COUNT_REQS:-20000}
COUNT_CONNS=${COUNT_CONNS:-8}
IDLE_CONNS=${IDLE_CONNS:-$((TLS_MODE ? 10000 : 5000))}
FLOOD_CONNS=${FLOOD_CONNS:-$((TLS_MODE ? 0 : 10000))}
TLS_CLIENTS=${TLS_CLIENTS:-4}
RESUME_CONNS=${RESUME_CONNS:-200}
if [[ $MODE == tls ]]; then
	read -ra TARGETS <<<"${TARGETS:-weir nginx haproxy}"
else
	read -ra TARGETS <<<"${TARGETS:-weir nginx}"
fi
SETTLE=${SETTLE:-60}
KEEP=${WEIR_BENCH_KEEP:-0}

case $MODE in
throughput | counts | idle | tls | tls-idle | all) ;;
*) echo "usage: $0 [throughput|counts|idle|tls|tls-idle|all]" >&2; exit 2 ;;
esac
for tool in nginx haproxy wrk valgrind strace curl python3 openssl; do
	command -v "$tool" >/dev/null || { echo "$0: $tool not found" >&2; exit 1; }
done
[[ -x $WEIR ]] || { echo "$0: $WEIR not built (make weir)" >&2; exit 1; }
# An ASan build cannot run under valgrind and is several times slower.
if ldd "$WEIR" | grep -q libasan; then
	echo "$0: $WEIR is an ASan build; configure without --enable-asan (or set WEIR_BIN)" >&2
	exit 1
fi

exec 3>&2 # cleanup's messages, whatever redirection is active when it runs
TMP=$(mktemp -d "${TMPDIR:-/tmp}/weir-bench.XXXXXX")
PIDS=()
# The tls modes set these: proxies then listen with TLS (see make_cert).
SCHEME=http
TLS_PEM=
TLS_SUITE=TLS_AES_128_GCM_SHA256

# Stop what we started (TERM, then KILL after 5 s), and their children.
cleanup() {
	local rc=$? pid kids=() i
	trap - EXIT INT TERM
	# Newest first: load generators, then proxies, the backend last.
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		pid=${PIDS[i]}
		[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || continue
		kids+=($(pgrep -P "$pid" || true))
		kill -TERM "$pid" 2>/dev/null || true
	done
	for ((i = 0; i < 50; i++)); do
		alive "${PIDS[@]}" "${kids[@]}" || break
		sleep 0.1
	done
	for pid in "${PIDS[@]}" "${kids[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [[ $rc -ne 0 || $KEEP == 1 ]]; then
		echo "bench: logs kept in $TMP" >&3
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Say where set -e stopped the run (die says why where it is used).
set -E
trap 'echo "bench: line $LINENO: $BASH_COMMAND failed" >&2' ERR

# True if any of the given pids is still running.
alive() {
	local pid
	for pid in "$@"; do
		[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && return 0
	done
	return 1
}

# Drop PID from PIDS once it has been stopped.
forget() {
	local pid keep=()
	for pid in "${PIDS[@]}"; do
		[[ $pid == "$1" ]] || keep+=("$pid")
	done
	PIDS=("${keep[@]}")
}

die() {
	echo "bench: $*" >&2
	exit 1
}

# Print N free loopback ports (bound together so they differ).
free_ports() {
	python3 - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# Start a command in the background, logging to $TMP/NAME.log; sets $LAST_PID.
start() {
	local name=$1
	shift
	"$@" >"$TMP/$name.log" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
}

# Run a command in the background and wait for it, so a TERM or INT to this
# script stops it at once instead of after the command ends.
run_fg() {
	local pid rc=0
	"$@" &
	pid=$!
	PIDS+=("$pid")
	wait "$pid" || rc=$?
	forget "$pid"
	return "$rc"
}

# Wait until SCHEME://127.0.0.1:PORT/ answers 200 (through the proxy to the
# backend), failing if PID dies or TIMEOUT seconds pass.
wait_http() {
	local port=$1 pid=$2 name=$3 timeout=${4:-10} scheme=${5:-http} i
	for ((i = 0; i < timeout * 20; i++)); do
		kill -0 "$pid" 2>/dev/null || { tail -20 "$TMP/$name.log" >&2; die "$name exited"; }
		curl -skf -o /dev/null --max-time 5 "$scheme://127.0.0.1:$port/" && return 0
		sleep 0.05
	done
	tail -20 "$TMP/$name.log" >&2
	die "$name not answering on port $port after ${timeout}s"
}

# Send TERM to PID and wait for it (up to TIMEOUT s), then drop it from PIDS.
stop() {
	local pid=$1 timeout=${2:-10} i
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < timeout * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	forget "$pid"
}

# Largest VmRSS (KiB) among the given pids.
max_rss() {
	local pid max=0 v
	for pid in "$@"; do
		v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
		[[ -n $v && $v -gt $max ]] && max=$v
	done
	echo "$max"
}

# wait_line NAME PID REGEX: print the first line of $TMP/NAME.log matching
# REGEX once there is one, failing if PID (the writer) dies or 2 minutes pass.
wait_line() {
	local i
	for ((i = 0; i < 1200; i++)); do
		grep -s -m1 "$3" "$TMP/$1.log" && return 0
		kill -0 "$2" 2>/dev/null || die "$1 died: $(tail -5 "$TMP/$1.log")"
		sleep 0.1
	done
	die "$1: no line matching $3 after 2 minutes"
}

# workers_sum MASTER FILE PROG: the sum over MASTER's workers of the number
# the awk program PROG prints from /proc/PID/FILE.
workers_sum() {
	local pid sum=0 v
	for pid in $(workers_of "$1"); do
		v=$(awk "$3" "/proc/$pid/$2" 2>/dev/null || true)
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

# The worker pids of master PID (its direct children); none is no error
# (a master between generations).
workers_of() {
	pgrep -P "$1" | tr '\n' ' ' || true
}

# ---------------------------------------------------------------- configs

NGINX_USER=
[[ $EUID -eq 0 ]] && NGINX_USER="user $(id -un) $(id -gn);"

# nginx temp paths default to /var/lib/nginx; keep everything in $TMP.
nginx_common() {
	local name=$1
	mkdir -p "$TMP/$name"
	cat <<EOF
$NGINX_USER
pid $TMP/$name/nginx.pid;
error_log stderr warn;
EOF
}

nginx_http_common() {
	local name=$1
	cat <<EOF
	access_log off;
	client_body_temp_path $TMP/$name/body;
	proxy_temp_path $TMP/$name/proxy;
	keepalive_requests 100000;
	keepalive_timeout 65s;
EOF
}

write_backend_conf() {
	cat >"$TMP/backend.conf" <<EOF
$(nginx_common backend)
daemon off;
worker_processes 1;
events { worker_connections 4096; }
http {
$(nginx_http_common backend)
	server {
		listen 127.0.0.1:$1 reuseport backlog=4096;
		location / {
			default_type text/plain;
			return 200 "hello world\n";
		}
	}
}
EOF
}

# write_nginx_conf FILE PORT WORKERS [single]: single = master_process off.
write_nginx_conf() {
	local file=$1 port=$2 workers=$3 single=${4:-}
	cat >"$file" <<EOF
$(nginx_common "$(basename "$file" .conf)")
daemon off;
${single:+master_process off;}
worker_processes $workers;
worker_rlimit_nofile 65536;
events { worker_connections 25000; }
http {
$(nginx_http_common "$(basename "$file" .conf)")
	upstream app {
		least_conn;
		zone upstream 64k;
		server 127.0.0.1:$BACKEND_PORT;
		keepalive 64;
	}
	server {
		listen 127.0.0.1:$port${TLS_PEM:+ ssl} backlog=4096;
		${TLS_PEM:+ssl_certificate $TLS_PEM;}
		${TLS_PEM:+ssl_certificate_key $TLS_PEM;}
		${TLS_PEM:+ssl_protocols TLSv1.3;}
		${TLS_PEM:+ssl_conf_command Ciphersuites $TLS_SUITE;}
		${TLS_PEM:+ssl_session_tickets on;}
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
EOF
}

# write_weir_conf FILE PORT WORKERS [ACCESS_LOG] [ROUTES]: with a JSON access
# log at ACCESS_LOG when given (target "weirlog"), and ROUTES [route]
# sections (target "weirroutes") that a request for / passes over, all of
# them, to reach the frontend's backend: the worst case of matching.
write_weir_conf() {
	local file=$1 port=$2 workers=$3 alog=${4:-} routes=${5:-0} i
	cat >"$file" <<EOF
[global]
workers = $workers
log_level = warn
[frontend web]
listen = 127.0.0.1:$port${TLS_PEM:+ tls}
${TLS_PEM:+tls_cert = $TLS_PEM}
${TLS_PEM:+tls_min_version = TLSv1.3}
${TLS_PEM:+tls_ciphersuites = $TLS_SUITE}
backend = app
${WEIR_CONF_EXTRA:-}
${alog:+access_log = $alog}
${alog:+access_log_format = json}
[backend app]
balance = roundrobin
server = 127.0.0.1:$BACKEND_PORT
keepalive = 64
EOF
	for ((i = 1; i <= routes; i++)); do
		printf '[route r%d]\nfrontend = web\n%s\npath_prefix = /r%d/\nbackend = app\n' \
			"$i" "$( ((i % 5)) && echo "method = GET" || echo "host = *.r$i.test")" "$i"
	done >>"$file"
}

write_haproxy_conf() {
	local file=$1 port=$2 threads=$3
	cat >"$file" <<EOF
global
	nbthread $threads
	maxconn 4096
defaults
	mode http
	timeout connect 5s
	timeout client 30s
	timeout server 30s
	timeout http-keep-alive 30s
frontend web
	bind 127.0.0.1:$port${TLS_PEM:+ ssl crt $TLS_PEM ssl-min-ver TLSv1.3 ciphersuites $TLS_SUITE}
	default_backend app
backend app
	balance leastconn
	http-reuse always
	server s1 127.0.0.1:$BACKEND_PORT
EOF
}

start_backend() {
	BACKEND_PORT=$(free_ports 1)
	write_backend_conf "$BACKEND_PORT"
	start backend nginx -p "$TMP/backend" -c "$TMP/backend.conf" -e stderr
	BACKEND_PID=$LAST_PID
	wait_http "$BACKEND_PORT" "$BACKEND_PID" backend
}

# start_proxy TARGET PORT WORKERS: sets PROXY_PID (the master / single process).
start_proxy() {
	local t=$1 port=$2 workers=$3
	case $t in
	weir)
		write_weir_conf "$TMP/weir.ini" "$port" "$workers"
		start weir "$WEIR" -c "$TMP/weir.ini" ;;
	weirlog)
		write_weir_conf "$TMP/weirlog.ini" "$port" "$workers" \
			"$TMP/access-$port.log"
		start weirlog "$WEIR" -c "$TMP/weirlog.ini" ;;
	weirroutes)
		write_weir_conf "$TMP/weirroutes.ini" "$port" "$workers" "" 50
		start weirroutes "$WEIR" -c "$TMP/weirroutes.ini" ;;
	nginx)
		write_nginx_conf "$TMP/nginx.conf" "$port" "$workers"
		start nginx nginx -p "$TMP/nginx" -c "$TMP/nginx.conf" -e stderr ;;
	haproxy)
		write_haproxy_conf "$TMP/haproxy.cfg" "$port" "$workers"
		# Master-worker, as it is run in production: the reload is USR2.
		start haproxy haproxy -W -db -f "$TMP/haproxy.cfg" ;;
	esac
	PROXY_PID=$LAST_PID
	wait_http "$port" "$PROXY_PID" "$t" 10 "$SCHEME"
}

# ---------------------------------------------------------------- header

header() {
	local wv nv hv
	wv=$("$WEIR" -V 2>&1 | head -1)
	nv=$(nginx -v 2>&1 | sed 's/^nginx version: //')
	hv=$(haproxy -v 2>&1 | awk 'NR == 1 { print "haproxy/" $3 }')
	echo "**weir bench** $(date -u '+%Y-%m-%d %H:%M UTC') · Linux $(uname -r) · nproc $(nproc)" \
		"· $wv · $nv · $hv · $({ wrk -v 2>&1 || true; } | awk 'NR == 1 { print "wrk " $2 }')" \
		"· $(valgrind --version) · $(strace -V | awk 'NR == 1 { print "strace " $4 }')"
	echo
}

# ---------------------------------------------------------------- throughput

# run_wrk PORT DURATION OUT [WRK_ARGS...]: wrk at $SCHEME://127.0.0.1:PORT/.
run_wrk() {
	local port=$1 dur=$2 out=$3
	shift 3
	run_fg wrk -t"$THREADS" -c"$CONNS" -d"$dur" --latency "$@" \
		"$SCHEME://127.0.0.1:$port/" >"$out" 2>&1 ||
		{ cat "$out" >&2; die "wrk failed"; }
}

# Start each proxy TARGET with $WORKERS workers on a port of its own, filling
# the caller's port and master arrays.
start_targets() {
	local t
	for t in "$@"; do
		port[$t]=$(free_ports 1)
		start_proxy "$t" "${port[$t]}" "$WORKERS"
		master[$t]=$PROXY_PID
	done
}

# Call FN TARGET ROUND for every target, ROUNDS times, rotating the order
# each round so no target always runs first.
alternate() {
	local fn=$1 r t order
	shift
	local targets=("$@") n=$#
	for ((r = 1; r <= ROUNDS; r++)); do
		order=("${targets[@]:$(((r - 1) % n))}" "${targets[@]:0:$(((r - 1) % n))}")
		for t in "${order[@]}"; do
			echo "bench: round $r/$ROUNDS $t" >&2
			"$fn" "$t" "$r"
		done
	done
}

# One throughput round of TARGET: wrk, then the workers' RSS right after it.
throughput_round() {
	run_wrk "${port[$1]}" "$DURATION" "$TMP/wrk-$1-$2.txt"
	max_rss $(workers_of "${master[$1]}") >"$TMP/rss-$1"
}

throughput() {
	local -A port master
	local t targets=(weir weirlog weirroutes nginx haproxy direct)
	port[direct]=$BACKEND_PORT
	master[direct]=$BACKEND_PID
	start_targets weir weirlog weirroutes nginx haproxy
	for t in "${targets[@]}"; do
		run_wrk "${port[$t]}" "$WARMUP" "$TMP/warmup-$t.txt"
	done
	alternate throughput_round "${targets[@]}"
	for t in weir weirlog weirroutes nginx haproxy; do
		stop "${master[$t]}"
	done
	echo "wrk -t$THREADS -c$CONNS -d$DURATION --latency, $ROUNDS rounds (medians), $WARMUP warmup," \
		"$WORKERS worker(s)/thread(s) per proxy, backend: nginx 1 worker \`return 200\` (12-byte body);" \
		"weir with access log = weir writing a JSON access_log to a file in the temp dir;" \
		"weir with 50 routes = 50 [route] sections every request passes over to the default backend;" \
		"direct = wrk straight to the backend; RSS = max worker VmRSS after the last round;" \
		"weir/X rows: req/s above 1 = weir faster, latency and RSS below 1 = weir lower"
	echo
	python3 "$HERE/report.py" throughput "$TMP" "${targets[@]}"
	report_logs weir weirlog weirroutes nginx haproxy backend
	echo
}

# Say which servers wrote to stderr (warnings and errors only are configured).
report_logs() {
	local t n
	for t in "$@"; do
		n=$(grep -cv '^\[NOTICE\]' "$TMP/$t.log" || true)
		((n == 0)) && continue
		echo "- $t stderr, $n line(s); first: \`$(grep -v '^\[NOTICE\]' "$TMP/$t.log" | head -1)\`"
	done
}

# ---------------------------------------------------------------- counts

# One proxy under callgrind, REQS requests, stopped: callgrind.out.* in DIR.
callgrind_run() {
	local t=$1 reqs=$2 dir="$TMP/cg-$1-$2" port cmd alog= routes=0
	mkdir -p "$dir"
	port=$(free_ports 1)
	if [[ $t == weir* ]]; then
		[[ $t == weirlog ]] && alog=$dir/access.log
		[[ $t == weirroutes ]] && routes=50
		write_weir_conf "$dir/weir.ini" "$port" 1 "$alog" "$routes"
		cmd=("$WEIR" -c "$dir/weir.ini")
	else
		write_nginx_conf "$dir/nginx.conf" "$port" 1 single
		cmd=(nginx -p "$dir" -c "$dir/nginx.conf" -e stderr)
	fi
	start "cg-$t-$reqs" valgrind --tool=callgrind --trace-children=yes \
		--callgrind-out-file="$dir/callgrind.out.%p" "${cmd[@]}"
	echo "$LAST_PID" >"$dir/master.pid"
	wait_http "$port" "$LAST_PID" "cg-$t-$reqs" 60
	if ((reqs > 0)); then
		run_fg python3 "$HERE/client.py" "127.0.0.1:$port" "$reqs" "$COUNT_CONNS" >"$dir/client.txt" ||
			{ cat "$dir/client.txt" >&2; die "client failed against $t under callgrind"; }
	fi
	stop "$LAST_PID" 60
}

# One proxy (1 worker) with strace -c attached to its worker for REQS requests.
strace_run() {
	local t=$1 reqs=$2 port wpid spid i
	port=$(free_ports 1)
	start_proxy "$t" "$port" 1
	wpid=$(workers_of "$PROXY_PID")
	wpid=${wpid%% *}
	[[ -n $wpid ]] || die "no $t worker"
	strace -c -U name,calls,errors -f -o "$TMP/strace-$t.txt" -p "$wpid" 2>"$TMP/strace-$t.err" &
	spid=$!
	PIDS+=("$spid")
	for ((i = 0; i < 100; i++)); do
		grep -q attached "$TMP/strace-$t.err" && break
		sleep 0.05
	done
	run_fg python3 "$HERE/client.py" "127.0.0.1:$port" "$reqs" "$COUNT_CONNS" >"$TMP/strace-$t.client" ||
		{ cat "$TMP/strace-$t.client" >&2; die "client failed against $t under strace"; }
	kill -INT "$spid"
	wait "$spid" || true
	forget "$spid"
	stop "$PROXY_PID"
}

counts() {
	local t
	for t in weir weirlog weirroutes nginx; do
		echo "bench: callgrind $t" >&2
		callgrind_run "$t" 0
		callgrind_run "$t" "$COUNT_REQS"
		echo "bench: strace $t" >&2
		strace_run "$t" "$COUNT_REQS"
	done
	echo "Fixed load: $COUNT_REQS GETs over $COUNT_CONNS keep-alive connections (bench/client.py), 1 worker;" \
		"instructions = worker's callgrind Ir minus a 0-request run (nginx: master_process off);" \
		"syscalls = strace -c -f on the worker pid;" \
		"weir with access log = weir writing a JSON access_log to a file;" \
		"weir with 50 routes = every request passes over 50 routes to the default backend"
	echo
	python3 "$HERE/report.py" counts "$TMP" "$COUNT_REQS" weir weirlog weirroutes nginx
	echo
}

# ---------------------------------------------------------------- idle

# Sum of the workers' VmRSS (KiB).
workers_rss() {
	workers_sum "$1" status '/^VmRSS:/ { print $2 }'
}

# idle_run TARGET: one line of the idle table for a proxy with 2 workers.
idle_run() {
	local t=$1 port base held per_conn peak settled idle_pid line
	port=$(free_ports 1)
	start_proxy "$t" "$port" 2
	if [[ -n $TLS_PEM ]]; then
		run_fg python3 "$HERE/idle.py" --tls "127.0.0.1:$port" 2000 >/dev/null
	else
		run_fg python3 "$HERE/client.py" "127.0.0.1:$port" 2000 8 >/dev/null
	fi || die "$t: warm-up failed"
	sleep 1
	base=$(workers_rss "$PROXY_PID")
	start "idle-$t" python3 "$HERE/idle.py" ${TLS_PEM:+--tls} "127.0.0.1:$port" "$IDLE_CONNS" hold
	idle_pid=$LAST_PID
	line=$(wait_line "idle-$t" "$idle_pid" '^ready')
	[[ $line == *"errors=0" ]] || die "$t: idle client: $line"
	sleep 2
	held=$(workers_rss "$PROXY_PID")
	per_conn=$(((held - base) * 1024 / IDLE_CONNS))
	stop "$idle_pid"
	line=$(printf '| %s | %d | %.1f | %d | %.1f |' "$t" "$per_conn" \
		"$(echo "($held - $base) / 1024" | bc -l)" "$IDLE_CONNS" \
		"$(echo "$base / 2048" | bc -l)")
	if ((FLOOD_CONNS == 0)); then
		echo "$line - | - |"
		stop "$PROXY_PID"
		return
	fi
	run_fg python3 "$HERE/idle.py" ${TLS_PEM:+--tls} "127.0.0.1:$port" "$FLOOD_CONNS" \
		>"$TMP/flood-$t.log" 2>&1 || die "$t: flood failed: $(cat "$TMP/flood-$t.log")"
	peak=$(max_rss $(workers_of "$PROXY_PID"))
	echo "bench: $t flooded; waiting ${SETTLE}s" >&2
	sleep "$SETTLE"
	settled=$(max_rss $(workers_of "$PROXY_PID"))
	printf '%s %.1f | %.1f |\n' "$line" "$(echo "$peak / 1024" | bc -l)" \
		"$(echo "$settled / 1024" | bc -l)"
	stop "$PROXY_PID"
}

idle() {
	local t
	local flood="then a flood of $FLOOD_CONNS connections (one request each, closed at once)"
	flood+=" and the largest worker's RSS right after it and ${SETTLE}s later."
	((FLOOD_CONNS == 0)) && flood="no flood (FLOOD_CONNS=0)."
	echo "Idle keep-alive ${TLS_PEM:+TLS (1.3, $TLS_SUITE, ECDSA P-256) }connections, 2 workers each:" \
		"RSS growth of the workers while $IDLE_CONNS connections that each made one request sit idle;" \
		"$flood"
	echo
	echo "| proxy | bytes per idle conn | growth (MB) | idle conns | worker idle RSS (MB, mean) | worker RSS after flood (MB) | ${SETTLE}s later (MB) |"
	echo "|---|---|---|---|---|---|---|"
	for t in "${TARGETS[@]}"; do
		echo "bench: idle $t" >&2
		idle_run "$t"
	done
	echo
}

# ---------------------------------------------------------------- tls

# One self-signed ECDSA P-256 certificate and its key in one PEM, used by
# every proxy; from here on the proxies listen with TLS and clients use https.
make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 2 -subj /CN=bench.test \
		-addext subjectAltName=DNS:bench.test >"$TMP/openssl-req.log" 2>&1 ||
		die "openssl req failed: $(cat "$TMP/openssl-req.log")"
	cat "$TMP/cert.pem" "$TMP/key.pem" >"$TMP/tls.pem"
	TLS_PEM=$TMP/tls.pem
	SCHEME=https
}

# What a default OpenSSL client negotiates with PORT, on one line.
tls_params() {
	timeout 10 openssl s_client -brief -connect "127.0.0.1:$1" </dev/null 2>&1 |
		sed -n 's/^\(Protocol version\|Ciphersuite\|Signature type\|Server Temp Key\): //p' |
		paste -sd ' ' -
}

# DURATION in whole seconds (wrk's 10s, 2m).
duration_s() {
	case $1 in
	*m) echo $((${1%m} * 60)) ;;
	*s) echo "${1%s}" ;;
	*) echo "$1" ;;
	esac
}

# timed_s_time PORT new|reuse: one sequential openssl s_time client for
# DURATION, then its wall time (s_time itself counts whole seconds).
# s_time sends "GET PATH HTTP/1.0" and no Host: the path smuggles one in.
timed_s_time() {
	local secs t0 rc=0
	secs=$(duration_s "$DURATION")
	t0=$(date +%s%N)
	timeout $((secs + 30)) openssl s_time -connect "127.0.0.1:$1" -"$2" \
		-time "$secs" -www $'/ HTTP/1.0\r\nHost: bench\r\nX-Bench: 1' || rc=$?
	echo
	echo "wall_ns $(($(date +%s%N) - t0))"
	return "$rc"
}

# s_time_run TARGET ROUND new|reuse: TLS_CLIENTS s_time clients at once.
s_time_run() {
	local name i pids=() pid
	for ((i = 0; i < TLS_CLIENTS; i++)); do
		name=st$3-$1-$2-$i
		start "$name" timed_s_time "${port[$1]}" "$3"
		pids+=("$LAST_PID")
	done
	for pid in "${pids[@]}"; do
		wait "$pid" || die "s_time -$3 against $1 failed: $(tail -3 "$TMP/st$3-$1-$2-0.log")"
		forget "$pid"
	done
}

# cpu_of NAME TARGET ROUND CMD...: run CMD, then write the CPU time (clock
# ticks) TARGET's workers spent meanwhile to cpu-NAME-TARGET-ROUND.
cpu_of() {
	local name=$1 t=$2 r=$3 before
	shift 3
	before=$(workers_sum "${master[$t]}" stat '{ print $14 + $15 }')
	"$@"
	echo $(($(workers_sum "${master[$t]}" stat '{ print $14 + $15 }') - before)) \
		>"$TMP/cpu-$name-$t-$r"
}

# One round of TARGET: keep-alive wrk, wrk with a new connection per
# request, then full and resumed handshakes with s_time; each with the CPU
# time its workers took.
tls_round() {
	cpu_of wrk "$1" "$2" run_wrk "${port[$1]}" "$DURATION" "$TMP/wrk-$1-$2.txt"
	max_rss $(workers_of "${master[$1]}") >"$TMP/rss-$1"
	cpu_of close "$1" "$2" run_wrk "${port[$1]}" "$DURATION" "$TMP/close-$1-$2.txt" \
		-H "Connection: close"
	cpu_of stnew "$1" "$2" s_time_run "$1" "$2" new
	cpu_of streuse "$1" "$2" s_time_run "$1" "$2" reuse
}

# Wait until MASTER's workers are all new: none of OLD (pids) is left.
wait_new_workers() {
	local master=$1 old=$2 now pid stale i
	for ((i = 0; i < 300; i++)); do
		now=" $(workers_of "$master") "
		stale=0
		for pid in $old; do
			[[ $now == *" $pid "* ]] && stale=1
		done
		((stale == 0)) && [[ -n ${now// /} ]] && return 0
		sleep 0.1
	done
	die "old workers of $master still there 30 s after the reload: $now"
}

# Resumption rate of TARGET: a chain of new connections each offering the
# previous session, then the same sessions again after a reload (SIGHUP;
# HAProxy's master-worker: USR2).
resume_run() {
	local t=$1 go="$TMP/resume-$1.go" sig=HUP old pid
	[[ $t == haproxy ]] && sig=USR2
	start "resume-$t" python3 "$HERE/tlsresume.py" "127.0.0.1:${port[$t]}" \
		"$RESUME_CONNS" "$go"
	pid=$LAST_PID
	wait_line "resume-$t" "$pid" '^before' >/dev/null
	old=$(workers_of "${master[$t]}")
	kill -"$sig" "${master[$t]}"
	wait_new_workers "${master[$t]}" "$old"
	wait_http "${port[$t]}" "${master[$t]}" "$t" 10 "$SCHEME"
	touch "$go"
	wait "$pid" || die "$t: resumption client: $(cat "$TMP/resume-$t.log")"
	forget "$pid"
}

tls() {
	local -A port master
	local t
	make_cert
	start_targets "${TARGETS[@]}"
	for t in "${TARGETS[@]}"; do
		tls_params "${port[$t]}" >"$TMP/tlsparams-$t"
		run_wrk "${port[$t]}" "$WARMUP" "$TMP/warmup-$t.txt"
	done
	alternate tls_round "${TARGETS[@]}"
	for t in "${TARGETS[@]}"; do
		echo "bench: resumption $t" >&2
		resume_run "$t"
		stop "${master[$t]}"
	done
	echo "TLS 1.3 only, $TLS_SUITE, one self-signed ECDSA P-256 certificate for all;" \
		"nginx: ssl_session_tickets on and no ssl_session_ticket_key (its default);" \
		"HAProxy: bind ... ssl crt, master-worker (-W); weir: listen ... tls, tls_cert;" \
		"$WORKERS worker(s)/thread(s) per proxy, backend as in throughput; $ROUNDS rounds (medians), $WARMUP warmup."
	echo "keep-alive: wrk -t$THREADS -c$CONNS -d$DURATION --latency https://...;" \
		"full / resumed handshakes: $TLS_CLIENTS \`openssl s_time -new\` / \`-reuse\` clients at once," \
		"$DURATION, one HTTP/1.0 GET per connection, rate = sum of connections / wall time of each;" \
		"wrk -H 'Connection: close': a new TCP+TLS connection per request, which wrk resumes (it SSL_clear()s and reuses its SSL object);" \
		"resumption: bench/tlsresume.py, $RESUME_CONNS connections one after another each offering the session of the one before" \
		"(landing on either worker; each ticket offered once, as browsers do: a resumption that brought no new ticket" \
		"leaves the next connection none to offer), then $RESUME_CONNS fresh sessions offered again after the reload;" \
		"worker CPU = utime + stime of the workers (HAProxy: its worker process) during the measurement" \
		"over its requests or connections, which a busy machine disturbs less than the rates;" \
		"weir/X: rates above 1 = weir faster, latency and CPU below 1 = weir lower"
	echo
	getconf CLK_TCK >"$TMP/clk_tck"
	python3 "$HERE/report.py" tls "$TMP" "${TARGETS[@]}"
	report_logs "${TARGETS[@]}" backend
	echo
}

# ---------------------------------------------------------------- main

WEIR_SUM=$(md5sum <"$WEIR")
header
start_backend
case $MODE in
throughput) throughput ;;
counts) counts ;;
idle) idle ;;
tls) tls ;;
tls-idle) make_cert; idle ;;
all) throughput; counts ;;
esac
[[ $(md5sum <"$WEIR") == "$WEIR_SUM" ]] ||
	echo "WARNING: $WEIR was rebuilt during the run; the figures mix two builds"
