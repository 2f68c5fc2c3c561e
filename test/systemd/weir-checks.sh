#!/bin/sh
# weir.service checks under the systemd that systemd-ns-check.sh runs in
# namespaces (start it first: test/systemd/ns-check.sh start).
#   weir-checks.sh [DEB]    (default build/pkg/weir_*.deb of this checkout)
# Installs DEB with dpkg -i inside the namespaces (postinst starts weir),
# runs the checks with the shipped unit (no drop-in), then purges the
# package again and removes the weir user and group if this run created
# them. Prints ok:/FAILED: lines and a summary.
set -u
ns=$(cd "$(dirname "$0")" && pwd)/ns-check.sh
top=$(cd "$(dirname "$0")/../.." && pwd)
deb=${1:-$(ls "$top"/build/pkg/weir_*_amd64.deb 2>/dev/null | head -1)}
[ -f "$deb" ] || { echo "no .deb: $deb" >&2; exit 2; }
R() { "$ns" run "$@"; }
pass=0
fail=0
check() {	# check DESCRIPTION COMMAND...
	d=$1
	shift
	if "$@"; then
		echo "ok: $d"
		pass=$((pass + 1))
	else
		echo "FAILED: $d"
		fail=$((fail + 1))
	fi
}
show() { R systemctl show weir -p "$1" --value; }
code() { R curl -s -o /dev/null -w '%{http_code}' "$1"; }
status_field() {	# status_field PID FIELD -> value (first column)
	R awk -v f="$2:" '$1 == f { print $2 }' /proc/"$1"/status
}

R test -S /run/systemd/private || { echo "systemd not running in the namespaces" >&2; exit 2; }
created_user=no
getent passwd weir >/dev/null || created_user=yes
ini=/etc/weir/weir.ini

echo "== install $deb (dpkg -i inside; postinst starts weir)"
R sh -c 'cat > /run/weir.deb' <"$deb"
R dpkg -i /run/weir.deb >/tmp/systemd-ns-check.d/dpkg.log 2>&1
check "dpkg -i" [ $? -eq 0 ]
check "postinst started weir" [ "$(R systemctl is-active weir)" = active ]
R systemctl stop weir
R systemd-analyze log-target journal >/dev/null

echo "== systemctl start weir (Type=$(show Type), NotifyAccess=$(show NotifyAccess))"
R systemctl start weir
check "systemctl start weir" [ $? -eq 0 ]
check "is-active = active" [ "$(R systemctl is-active weir)" = active ]
R systemctl show weir -p StatusText -p MainPID -p NRestarts -p Result
check "StatusText generation 0" sh -c "'$ns' run systemctl show weir -p StatusText --value | grep -q '^generation 0: '"
uid=$(getent passwd weir | cut -d: -f3)

echo "== no backend: 502 and a warning"
t0=$(date +%s)
c=$(code http://127.0.0.1:8080/)
echo "curl :8080 -> $c"
check "502 without backends" [ "$c" = 502 ]
sleep 0.3
echo "-- journalctl -u weir -p warning:"
R journalctl -u weir -p warning --no-pager -o short --since "@$t0"
check "-p warning has the 502 line" sh -c "'$ns' run journalctl -u weir -p warning -o cat --since @$t0 | grep -q '502 Bad Gateway'"
check "-p warning has no info line" sh -c "! '$ns' run journalctl -u weir -p warning -o cat --since @$t0 | grep -q 'retrying on another server'"
check "-p info has the info lines" sh -c "'$ns' run journalctl -u weir -p info -o cat | grep -q 'servers up: serving'"

echo "== backend on 9001 (python3 -m http.server, transient unit)"
R systemd-run --unit=weir-check-backend -p WorkingDirectory=/usr/share/doc/weir \
	/usr/bin/python3 -m http.server 9001 --bind 127.0.0.1
sleep 1
c=$(code http://127.0.0.1:8080/)
echo "curl :8080 -> $c"
check "200 through weir" [ "$c" = 200 ]

procs() {
	m=$(show MainPID)
	echo "$m $(R pgrep -P "$m" | tr '\n' ' ')"
}
creds() {	# creds PORTDESC
	set -- $(procs)
	m=$1
	shift
	for p in "$m" "$@"; do
		echo "-- PID $p ($([ "$p" = "$m" ] && echo master || echo worker))"
		R grep -E '^(Uid|Gid|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/"$p"/status
	done
	check "master Uid $uid" [ "$(status_field "$m" Uid)" = "$uid" ]
	check "master CapEff 0000000000000400" [ "$(status_field "$m" CapEff)" = 0000000000000400 ]
	check "master CapPrm 0000000000000400" [ "$(status_field "$m" CapPrm)" = 0000000000000400 ]
	check "master CapAmb 0" [ "$(status_field "$m" CapAmb)" = 0000000000000000 ]
	check "master NoNewPrivs 1, Seccomp 2" [ "$(status_field "$m" NoNewPrivs)$(status_field "$m" Seccomp)" = 12 ]
	for w in "$@"; do
		check "worker $w Uid $uid, CapEff/CapPrm/CapAmb 0" [ \
		    "$(status_field "$w" Uid) $(status_field "$w" CapEff) $(status_field "$w" CapPrm) $(status_field "$w" CapAmb)" = \
		    "$uid 0000000000000000 0000000000000000 0000000000000000" ]
		check "worker $w NoNewPrivs 1, Seccomp 2" [ "$(status_field "$w" NoNewPrivs)$(status_field "$w" Seccomp)" = 12 ]
	done
}
echo "== credentials"
creds

echo "== reload"
m0=$(show MainPID)
t0=$(date +%s)
R systemctl reload weir
check "systemctl reload" [ $? -eq 0 ]
echo "StatusText=$(show StatusText)"
check "StatusText generation 1" sh -c "'$ns' run systemctl show weir -p StatusText --value | grep -q '^generation 1: '"
check "MainPID unchanged" [ "$(show MainPID)" = "$m0" ]
check "still active" [ "$(R systemctl is-active weir)" = active ]
R journalctl -u weir --no-pager -o short --since "@$t0"
check "journal shows the reload" sh -c "'$ns' run journalctl -u weir -o cat --since @$t0 | grep -q 'reload complete: generation 1'"

echo "== reload with 'bogus = 1' under [global]"
cp -p "$ini" /tmp/systemd-ns-check.d/weir.ini.orig
sed -i 's/^\[global\]$/[global]\nbogus = 1/' "$ini"
t0=$(date +%s)
R systemctl reload weir
check "systemctl reload fails (weir -t)" [ $? -ne 0 ]
check "still active" [ "$(R systemctl is-active weir)" = active ]
echo "StatusText=$(show StatusText) ReloadResult=$(show ReloadResult)"
check "StatusText still generation 1" sh -c "'$ns' run systemctl show weir -p StatusText --value | grep -q '^generation 1: '"
check "still serving (200)" [ "$(code http://127.0.0.1:8080/)" = 200 ]
echo "-- journal (PRIORITY MESSAGE) of the failed ExecReload:"
R journalctl -u weir -o json --since "@$t0" | python3 -c '
import sys, json
for l in sys.stdin:
    j = json.loads(l)
    if "bogus" in j.get("MESSAGE", ""): print(j.get("PRIORITY"), j.get("_COMM"), j.get("MESSAGE"))'
echo "-- SIGHUP straight to the master (no weir -t): reload fails inside"
R systemctl kill -s HUP --kill-whom=main weir
sleep 0.5
echo "StatusText=$(show StatusText)"
check "StatusText 'reload failed: FILE:LINE'" sh -c "'$ns' run systemctl show weir -p StatusText --value | grep -q '^reload failed: /etc/weir/weir.ini:[0-9]'"
check "still active, still 200" [ "$(R systemctl is-active weir) $(code http://127.0.0.1:8080/)" = "active 200" ]
cp -p /tmp/systemd-ns-check.d/weir.ini.orig "$ini"
R systemctl reload weir
check "reload after restoring the config" [ $? -eq 0 ]
echo "StatusText=$(show StatusText)"

echo "== listen = 127.0.0.1:80, restart"
sed -i 's/^listen = 127.0.0.1:8080$/listen = 127.0.0.1:80/' "$ini"
R systemctl restart weir
check "systemctl restart" [ $? -eq 0 ]
c=$(code http://127.0.0.1:80/)
echo "curl :80 -> $c"
check "200 on port 80" [ "$c" = 200 ]
R ss -ltnpe 'sport = :80'
check "port 80 socket owned by uid $uid" sh -c "'$ns' run ss -ltne 'sport = :80' | grep -q 'uid:$uid'"
creds

echo "== stop"
R systemctl stop weir
check "systemctl stop" [ $? -eq 0 ]
R systemctl show weir -p Result -p ActiveState -p SubState
check "Result=success" [ "$(show Result)" = success ]
check "inactive" [ "$(R systemctl is-active weir)" = inactive ]

echo "== clean up"
R systemctl stop weir-check-backend
R dpkg --purge weir >>/tmp/systemd-ns-check.d/dpkg.log 2>&1
check "dpkg --purge" [ $? -eq 0 ]
if [ $created_user = yes ]; then
	userdel weir 2>/dev/null
	getent group weir >/dev/null && groupdel weir
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
