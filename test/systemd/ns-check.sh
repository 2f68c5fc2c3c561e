#!/bin/sh
# Run systemd (the host's /lib/systemd/systemd, 252 on Debian 12) as PID 1
# of a throw-away "container" made of namespaces, in a machine where systemd
# is not PID 1, so that a unit (weir.service) can be tested under a real
# service manager.
#
#   systemd-ns-check.sh start        boot systemd in new pid/mount/net/uts/
#                                    ipc/cgroup namespaces, wait until up
#   systemd-ns-check.sh run CMD...   run CMD inside (nsenter), e.g.
#                                    run systemctl status weir
#   systemd-ns-check.sh shell        interactive shell inside
#   systemd-ns-check.sh stop         systemctl poweroff inside, then clean up
#   systemd-ns-check.sh weir         the weir.service checks (weir must be
#                                    installed: apt-get install ./weir_*.deb)
#
# What the namespace gets:
#  - pid namespace (systemd is PID 1), /proc remounted for it;
#  - mount namespace, all mounts private; tmpfs on /run, /tmp, /var/tmp;
#    a private /dev (tmpfs + bind-mounted null, zero, full, random,
#    urandom, tty; own devpts, /dev/shm); a new sysfs, read-only (so
#    systemd-udevd & co. are skipped by their conditions); /proc/sys,
#    /proc/sysrq-trigger read-only (no sysctl reaches the host kernel);
#  - cgroup namespace rooted at /sys/fs/cgroup/unified/weir-ns-check of the
#    host's cgroup2 hierarchy, mounted writable on /sys/fs/cgroup, so
#    systemd runs in unified mode (no controllers: the host binds them to
#    cgroup v1, so no accounting, which weir.service does not need);
#  - net namespace with only lo (up); uts and ipc namespaces;
#  - /usr/sbin/policy-rc.d (exit 101 on this host) replaced by /bin/true
#    inside, so a dpkg -i in here starts the service as on a real system;
#  - container=weir-ns-check in systemd's environment, so systemd behaves
#    as in a container (no loop/DM detach at shutdown, timesyncd skipped...)
#  - systemd boots weir-ns-check.target (a unit in /run/systemd/system),
#    not multi-user.target: the host's enabled nginx, haproxy, postgresql
#    and timers are never started. Units that would touch the host kernel
#    or the shared disk are masked in /run/systemd/system; journald keeps
#    the journal in /run (Storage=volatile), not in the host's
#    /var/log/journal.
# The root file system itself is the host's (shared): dpkg's database,
# /etc, /var/log are the real ones.
#
# State in /tmp/systemd-ns-check.d (host side): pid (host PID of the
# namespace's PID 1), console.log (systemd's console output).
set -u
state=/tmp/systemd-ns-check.d
cg=/sys/fs/cgroup/unified/weir-ns-check
self=$(readlink -f "$0")

nspid() {
	cat "$state/pid" 2>/dev/null
}

inside() {
	p=$(nspid) || { echo "not running" >&2; return 2; }
	nsenter -t "$p" -m -p -n -u -i -C -- env -i \
		PATH=/usr/sbin:/usr/bin:/sbin:/bin TERM="${TERM:-dumb}" \
		SYSTEMD_PAGER= SYSTEMD_COLORS=0 LANG=C.UTF-8 "$@"
}

case "${1:-}" in
start)
	if [ -s "$state/pid" ] && kill -0 "$(nspid)" 2>/dev/null; then
		echo "already running: PID $(nspid)" >&2
		exit 1
	fi
	mkdir -p "$state"
	rm -f "$state/pid"
	[ -d "$cg" ] || mkdir "$cg" || exit 2
	# Move a shell into the new cgroup, then unshare: the cgroup namespace
	# is rooted where that process is.
	setsid sh -c 'echo $$ > "$1/cgroup.procs" && exec unshare --pid --fork \
		--mount --propagation private --mount-proc --net --uts --ipc \
		--cgroup sh "$2" inner' sh "$cg" "$self" \
		</dev/null >"$state/console.log" 2>&1 &
	up=$!	# becomes unshare; its only child is the namespace's PID 1
	i=0
	while [ $i -lt 100 ]; do
		if [ ! -s "$state/pid" ]; then
			c=$(cat /proc/$up/task/*/children 2>/dev/null)
			[ -n "$c" ] && echo $c >"$state/pid"
		elif inside test -S /run/systemd/private 2>/dev/null; then
			break
		fi
		kill -0 $up 2>/dev/null || break
		sleep 0.2
		i=$((i + 1))
	done
	[ -s "$state/pid" ] || { echo "no PID 1"; cat "$state/console.log"; exit 1; }
	# is-system-running --wait returns when the boot job is done.
	inside timeout 60 systemctl is-system-running --wait
	echo "systemd is PID 1 in the namespaces; host PID $(nspid)"
	;;
inner)
	# PID 1 of the new namespaces, before systemd: build its world.
	set -e
	mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
	# /dev
	mkdir -p /run/.hostdev
	mount --bind /dev /run/.hostdev
	mount -t tmpfs -o mode=755,nosuid tmpfs /dev
	for n in null zero full random urandom tty; do
		touch /dev/$n
		mount --bind /run/.hostdev/$n /dev/$n
	done
	umount /run/.hostdev
	rmdir /run/.hostdev
	mkdir /dev/pts /dev/shm /dev/mqueue
	mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts /dev/pts
	ln -s pts/ptmx /dev/ptmx
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
	ln -s /proc/self/fd /dev/fd
	ln -s /proc/self/fd/0 /dev/stdin
	ln -s /proc/self/fd/1 /dev/stdout
	ln -s /proc/self/fd/2 /dev/stderr
	# systemd's console: the log file (host side, before /tmp is hidden).
	touch /dev/console
	mount --bind "$state/console.log" /dev/console
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
	# /sys, read-only, with a writable cgroup2 of our own
	mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /sys
	mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
	mount --bind /proc/sys /proc/sys
	mount -o remount,bind,ro /proc/sys
	if [ -e /proc/sysrq-trigger ]; then
		mount --bind /proc/sysrq-trigger /proc/sysrq-trigger
		mount -o remount,bind,ro /proc/sysrq-trigger
	fi
	# The host's /usr/sbin/policy-rc.d (Docker style) exits 101, which
	# keeps dpkg maintainer scripts from starting services; in here they
	# should, as on a real machine. Only this mount namespace sees it.
	if [ -e /usr/sbin/policy-rc.d ]; then
		mount --bind /bin/true /usr/sbin/policy-rc.d
	fi
	ip link set lo up
	# Units: a boot target of our own, masks, volatile journal.
	mkdir -p /run/systemd/system /run/systemd/journald.conf.d
	cat >/run/systemd/system/weir-ns-check.target <<-EOF
		[Unit]
		Description=systemd-ns-check boot target
		Requires=sysinit.target basic.target
		After=sysinit.target basic.target
		AllowIsolate=yes
	EOF
	printf '[Journal]\nStorage=volatile\n' \
		>/run/systemd/journald.conf.d/volatile.conf
	for u in systemd-sysctl.service systemd-modules-load.service \
	    kmod-static-nodes.service systemd-udevd.service \
	    systemd-udev-trigger.service systemd-udev-settle.service \
	    systemd-udevd-control.socket systemd-udevd-kernel.socket \
	    systemd-timesyncd.service systemd-pstore.service \
	    systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
	    proc-sys-fs-binfmt_misc.mount systemd-hwdb-update.service \
	    ldconfig.service systemd-firstboot.service \
	    systemd-machine-id-commit.service systemd-remount-fs.service \
	    systemd-repart.service systemd-random-seed.service \
	    systemd-update-utmp.service systemd-update-utmp-runlevel.service \
	    systemd-tmpfiles-setup-dev.service systemd-tmpfiles-clean.timer \
	    systemd-tmpfiles-setup.service \
	    systemd-journal-flush.service systemd-sysusers.service \
	    sys-kernel-config.mount sys-kernel-debug.mount \
	    sys-kernel-tracing.mount sys-fs-fuse-connections.mount \
	    dev-hugepages.mount systemd-pcrphase.service \
	    systemd-pcrphase-sysinit.service \
	    timers.target getty.target console-getty.service \
	    e2scrub_all.timer e2scrub_reap.service fstrim.timer \
	    apt-daily.timer apt-daily-upgrade.timer man-db.timer \
	    dpkg-db-backup.timer remote-fs.target \
	    nginx.service haproxy.service postgresql.service; do
		ln -sf /dev/null /run/systemd/system/$u
	done
	exec env -i container=weir-ns-check \
		/lib/systemd/systemd --unit=weir-ns-check.target \
		--log-target=journal-or-kmsg --show-status=no
	;;
run)
	shift
	inside "$@"
	;;
shell)
	inside bash -l
	;;
stop)
	p=$(nspid)
	if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
		inside systemctl poweroff --no-block >/dev/null 2>&1
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 150 ]; do
			sleep 0.2
			i=$((i + 1))
		done
		if kill -0 "$p" 2>/dev/null; then
			echo "PID 1 ($p) still there: SIGKILL (ends the pid namespace)"
			kill -KILL "$p"
			sleep 1
		fi
	fi
	rm -f "$state/pid"
	# Remove the cgroup tree, deepest first.
	if [ -d "$cg" ]; then
		find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
		[ -d "$cg" ] && echo "warning: $cg still there" >&2
	fi
	echo stopped
	;;
weir)
	shift
	exec sh "$(dirname "$self")/weir-checks.sh" "$@"
	;;
*)
	sed -n '2,/^set -u/p' "$0" | sed '$d'
	exit 2
	;;
esac
