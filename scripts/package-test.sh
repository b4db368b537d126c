#!/bin/bash
# scripts/package-test.sh - the Debian package, end to end:
#   1. build it with dpkg-buildpackage -us -uc -b from a clean copy of this
#      tree in a temp dir (the files git tracks or would track; the work
#      tree is never written to);
#   2. lintian: any error (E:) fails, warnings and the rest are listed;
#   3. install it with apt-get; check the programs, the man pages, the
#      mhkit user, the conffile and the systemd units;
#   4. run mhpolicyd (and mhmilter when packaged) as its unit does - with
#      systemctl when systemd is PID 1, else by hand with the unit's
#      ExecStart, User=, Group= and UMask= - against a private redis-server
#      on a loopback port; add a domain with the packaged mhlist and ask the
#      running mhpolicyd's socketmap and policy socket about it; reload;
#      stop;
#   5. purge the package.
# Everything it starts is stopped by PID; every wait is bounded. Ends with
# one line "package-test: N passed, N failed"; exit 0 only when none failed.
#
# Run as root on Debian 12: installs what it needs with apt-get (the
# project's build dependencies via scripts/deps.sh, plus debhelper, lintian,
# dpkg-dev, fakeroot, man-db); SKIP_DEPS=1 skips that. It refuses to run
# when mhkit is already installed (it would purge it). KEEP_TMP=1 keeps the
# build directory.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
top=$PWD

T_PASS=0 T_FAIL=0
MODE= MODE_DESC=
WORK= RUNDIR= RUN_MHKIT_MADE= DROPINS=() INSTALLED= POLICY_SOCK=
REDIS_PID= POLICYD_PID= MILTER_PID= STARTED_UNITS=()

ok() { T_PASS=$((T_PASS + 1)); echo "ok $((T_PASS + T_FAIL)) - $*"; }
not_ok() { T_FAIL=$((T_FAIL + 1)); echo "not ok $((T_PASS + T_FAIL)) - $*"; }
# check DESCRIPTION CMD... - one check: CMD's status decides
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
# check_eq DESCRIPTION EXPECTED SEEN
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   expected: '$2'"; echo "#   seen:     '$3'"; fi
}
# die WHY - a step the rest depends on failed: count it, clean up, stop
die() { not_ok "$*"; exit 1; }
note() { echo "# $*"; }
section() { printf '\n# --- %s\n' "$*"; }

# wait_for SECONDS CMD... - poll CMD every 0.1 s until it succeeds; false on timeout
wait_for() {
	local deadline=$((SECONDS + $1)); shift
	until "$@"; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*[ZX]' "/proc/$1/status" 2>/dev/null; }

# stop_pid PID - SIGTERM, up to 15 s, then SIGKILL; prints the exit status when it was our child
stop_pid() {
	local pid=$1
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	wait_for 15 eval "! pid_alive $pid" || { note "PID $pid still running after 15 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null; }
	wait "$pid" 2>/dev/null
}

cleanup() {
	local rc=$? u
	set +e
	for u in "${STARTED_UNITS[@]+"${STARTED_UNITS[@]}"}"; do
		timeout 30 systemctl stop "$u" >/dev/null 2>&1
	done
	if [ "${#DROPINS[@]}" -gt 0 ]; then
		for u in "${DROPINS[@]}"; do rm -f "$u/50-pkgtest.conf"; rmdir "$u" 2>/dev/null; done
		systemctl daemon-reload >/dev/null 2>&1
	fi
	[ -n "$MILTER_PID" ] && stop_pid "$MILTER_PID"
	[ -n "$POLICYD_PID" ] && stop_pid "$POLICYD_PID"
	[ -n "$REDIS_PID" ] && stop_pid "$REDIS_PID"
	if [ -n "$INSTALLED" ] && dpkg-query -W -f='${db:Status-Abbrev}' mhkit 2>/dev/null | grep -q '^.i'; then
		note "purging mhkit (after a failure)"
		apt-get -o DPkg::Lock::Timeout=600 purge -y -q mhkit >/dev/null 2>&1
	fi
	[ -n "$RUNDIR" ] && rm -rf "$RUNDIR"
	[ -n "$POLICY_SOCK" ] && rm -f "$POLICY_SOCK"
	[ -n "$RUN_MHKIT_MADE" ] && rm -rf /run/mhkit
	if [ -n "$WORK" ]; then
		if [ "${KEEP_TMP:-0}" = 1 ]; then note "kept $WORK"; else rm -rf "$WORK"; fi
	fi
	echo
	echo "# daemons: ${MODE_DESC:-not reached}"
	echo "package-test: $T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" = 0 ] && [ "$rc" = 0 ] && exit 0
	exit 1
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

[ "$(id -u)" = 0 ] || die "must run as root (it installs and purges a package)"
if dpkg-query -W -f='${db:Status-Abbrev}' mhkit 2>/dev/null | grep -q '^.i'; then
	die "mhkit is already installed here; this test would purge it: remove it first"
fi

# --- 0. tools ------------------------------------------------------------------
section "dependencies"
if [ "${SKIP_DEPS:-0}" != 1 ]; then
	scripts/deps.sh >/dev/null || die "scripts/deps.sh failed"
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends \
		debhelper lintian dpkg-dev fakeroot man-db >/dev/null || die "apt-get install of the packaging tools failed"
fi
for t in dpkg-buildpackage dh lintian redis-server redis-cli setpriv python3 man; do
	command -v "$t" >/dev/null || die "$t is missing (run without SKIP_DEPS=1)"
done
ok "build and test tools present"

# --- 1. build from a clean copy --------------------------------------------------
section "build"
version=$(dpkg-parsechangelog -S Version) || die "debian/changelog unreadable"
upstream=${version%-*}
arch=$(dpkg --print-architecture)
WORK=$(mktemp -d /tmp/mhkit-pkgtest.XXXXXX) || die "mktemp"
SRC=$WORK/mhkit-$upstream
mkdir "$SRC"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# what git tracks or would track (untracked files not ignored): the tree
	# without build products, as a clone with the current changes would be
	git -C "$top" ls-files -z --cached --others --exclude-standard --deduplicate |
		while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf - | tar -xf - -C "$SRC" || die "copying the tree"
else
	tar --exclude-vcs --exclude=./build --exclude=./build-asan --exclude=./autom4te.cache \
		-cf - . | tar -xf - -C "$SRC" || die "copying the tree"
fi
note "building $version in $SRC"
build_t0=$SECONDS
if (cd "$SRC" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
	timeout 1800 dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b ($((SECONDS - build_t0)) s)"
else
	tail -n 60 "$WORK/build.log" | sed 's/^/#   /'
	die "dpkg-buildpackage failed (log above)"
fi
unit_summary=$(sed -n 's/^# \(TOTAL\|PASS\|FAIL\|ERROR\): *\([0-9]*\)$/\1 \2/p' "$WORK/build.log" | tr '\n' ' ')
note "unit tests during the build: ${unit_summary:-none run}"
case "$unit_summary" in
*"FAIL 0 ERROR 0"*) ok "unit tests ran during the build and passed" ;;
*) not_ok "unit tests during the build: '${unit_summary}'" ;;
esac
leftover=$(cd "$top" && ls -d debian/build debian/mhkit debian/.debhelper debian/files \
	debian/debhelper-build-stamp debian/*.substvars debian/*.debhelper.log 2>/dev/null)
check_eq "the work tree got no build products" "" "$leftover"

deb=$WORK/mhkit_${version}_${arch}.deb
changes=$WORK/mhkit_${version}_${arch}.changes
[ -f "$deb" ] && [ -f "$changes" ] || die "no $deb or $changes"
contents=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')
has() { printf '%s\n' "$contents" | grep -qx "$1"; }
check "the .deb has /usr/bin/mhlist, /usr/sbin/mhpolicyd and mhpolicyd.service" \
	eval 'has /usr/bin/mhlist && has /usr/sbin/mhpolicyd && has /lib/systemd/system/mhpolicyd.service'
if has /usr/sbin/mhmilter; then MILTER=1; else MILTER=; fi
check "mhmilter.service is in the .deb exactly when mhmilter is ($([ -n "$MILTER" ] && echo both || echo neither))" \
	eval '[ -n "$MILTER" ] && has /lib/systemd/system/mhmilter.service || { [ -z "$MILTER" ] && ! has /lib/systemd/system/mhmilter.service; }'
check_eq "the .deb's conffiles: /etc/mhkit/mhkit.conf" "/etc/mhkit/mhkit.conf" \
	"$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles 2>&1)"

# --- 2. lintian ------------------------------------------------------------------
section "lintian"
lintian --display-info --pedantic "$changes" >"$WORK/lintian.log" 2>"$WORK/lintian.err"
lint_rc=$?
grep -v 'running with root privileges is not recommended' "$WORK/lintian.err" | sed 's/^/#   lintian: /'
sed 's/^/#   /' "$WORK/lintian.log"
n_e=$(grep -c '^E: ' "$WORK/lintian.log"); n_w=$(grep -c '^W: ' "$WORK/lintian.log")
n_i=$(grep -c '^I: ' "$WORK/lintian.log"); n_p=$(grep -c '^P: ' "$WORK/lintian.log")
note "lintian: $n_e errors, $n_w warnings, $n_i info, $n_p pedantic (exit $lint_rc)"
check "lintian: no errors (E:)" test "$n_e" = 0
[ "$lint_rc" -le 1 ] || not_ok "lintian itself failed (exit $lint_rc)"

# --- 3. install ------------------------------------------------------------------
section "install"
INSTALLED=1
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "$deb" \
	>"$WORK/install.log" 2>&1 || { sed 's/^/#   /' "$WORK/install.log"; die "apt-get install $deb failed"; }
ok "apt-get install ./$(basename "$deb")"
check "/usr/bin/mhlist and /usr/sbin/mhpolicyd are executables" test -x /usr/bin/mhlist -a -x /usr/sbin/mhpolicyd
check_eq "mhpolicyd -V" "mhpolicyd (mhkit) $upstream" "$(/usr/sbin/mhpolicyd -V 2>&1)"
pages=("8 mhpolicyd" "1 mhlist" "5 mhkit.conf")
[ -n "$MILTER" ] && pages+=("8 mhmilter")
for page in "${pages[@]}"; do
	set -- $page
	check_eq "man -w $2($1)" "/usr/share/man/man$1/$2.$1.gz" "$(man -w "$1" "$2" 2>&1)"
done
IFS=: read -r _ _ m_uid _ _ m_home m_shell < <(getent passwd mhkit)
check "user mhkit exists, a system user (uid ${m_uid:-none} < 1000)" test -n "${m_uid:-}" -a "${m_uid:-9999}" -lt 1000
check_eq "mhkit: home and shell" "/nonexistent /usr/sbin/nologin" "${m_home:-} ${m_shell:-}"
check "group mhkit exists" eval "getent group mhkit >/dev/null"
check_eq "/etc/mhkit/mhkit.conf: root:mhkit 640" "root:mhkit 640" "$(stat -c '%U:%G %a' /etc/mhkit/mhkit.conf 2>&1)"
check "dpkg lists /etc/mhkit/mhkit.conf as a conffile" \
	eval "dpkg-query -W -f='\${Conffiles}\n' mhkit | grep -q '^ /etc/mhkit/mhkit.conf '"
check "mhkit can read /etc/mhkit/mhkit.conf" setpriv --reuid=mhkit --regid=mhkit --init-groups test -r /etc/mhkit/mhkit.conf
UNITS=(mhpolicyd.service)
[ -n "$MILTER" ] && UNITS+=(mhmilter.service)
for u in "${UNITS[@]}"; do
	check "/lib/systemd/system/$u installed" test -f "/lib/systemd/system/$u"
	check "$u is not enabled (no [Install] symlink)" \
		eval "! ls /etc/systemd/system/*.wants/$u >/dev/null 2>&1"
	if command -v systemd-analyze >/dev/null; then
		# the man pages its Documentation= names are checked above
		out=$(systemd-analyze verify --man=no "/lib/systemd/system/$u" 2>&1)
		check "systemd-analyze verify $u${out:+: $out}" test -z "$out"
	fi
done
[ -n "$MILTER" ] && check "/usr/sbin/mhmilter is an executable" test -x /usr/sbin/mhmilter

# --- 4. run the daemons as their units do ------------------------------------------
section "run"
# unit_get UNIT KEY - the value of KEY= in the installed unit (the last one)
unit_get() { sed -n "s/^$2=//p" "/lib/systemd/system/$1" | tail -n 1; }
free_port() {
	local p i
	for ((i = 0; i < 100; i++)); do
		p=$((20000 + RANDOM % 12000))
		ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return 0; }
	done
	return 1
}
RUNDIR=$(mktemp -d /run/mhkit-pkgtest.XXXXXX) || die "mktemp in /run"	# not /tmp: the units have PrivateTmp
chgrp mhkit "$RUNDIR" && chmod 750 "$RUNDIR"
RP=$(free_port) SP=$(free_port) MP=$(free_port) || die "no free port"
redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no --dir "$RUNDIR" \
	--logfile "$RUNDIR/redis.log" --daemonize no >/dev/null 2>&1 &
REDIS_PID=$!
wait_for 10 eval "[ \"\$(redis-cli -p $RP ping 2>/dev/null)\" = PONG ]" || die "private redis-server on 127.0.0.1:$RP did not answer within 10 s"
ok "private redis-server on 127.0.0.1:$RP (PID $REDIS_PID)"
POLICY_SOCK=/run/mhkit/pkgtest-policy.sock
CONF=$RUNDIR/mhkit.conf
# the packaged file first (its `user = "mhkit"` and anything else it sets),
# then this test's Redis and sockets
cat >"$CONF" <<EOF
@include "/etc/mhkit/mhkit.conf"
redis = { host = "127.0.0.1"; port = $RP; };
policyd = { listen = "unix:$POLICY_SOCK"; socketmap = "inet:127.0.0.1:$SP"; };
milter = { listen = "inet:127.0.0.1:$MP"; };
EOF
chgrp mhkit "$CONF" && chmod 640 "$CONF"

# start_unit UNIT LOGFILE - start UNIT's daemon the way systemd would; sets START_PID
start_unit() {
	local u=$1 log=$2 exec user group umask
	exec=$(unit_get "$u" ExecStart) user=$(unit_get "$u" User) group=$(unit_get "$u" Group)
	umask=$(unit_get "$u" UMask)
	START_PID=
	if [ "$MODE" = systemd ]; then
		local d=/run/systemd/system/$u.d
		mkdir -p "$d"
		printf '[Service]\nExecStart=\nExecStart=%s -c %s\n' "$exec" "$CONF" >"$d/50-pkgtest.conf"
		DROPINS+=("$d")
		systemctl daemon-reload
		STARTED_UNITS+=("$u")
		timeout 60 systemctl start "$u" || return 1
		START_PID=$(systemctl show -p MainPID --value "$u")
	else
		# RuntimeDirectory=mhkit, owned by User=
		if [ ! -d /run/mhkit ]; then
			install -d -o "$user" -g "$group" -m 0755 /run/mhkit && RUN_MHKIT_MADE=1
		fi
		(umask "${umask:-0022}" && exec setpriv --reuid="$user" --regid="$group" --init-groups \
			--no-new-privs --inh-caps=-all --bounding-set=-all -- $exec -c "$CONF") >"$log" 2>&1 &
		START_PID=$!
	fi
	note "$u: started $exec -c $CONF as $user:$group (PID $START_PID)"
}
# unit_log UNIT LOGFILE - what the daemon logged
unit_log() {
	if [ "$MODE" = systemd ]; then journalctl -q -o cat -u "$1" --since "@$T_START" 2>/dev/null; else cat "$2"; fi
}
# socketmap_query MAP KEY - one netstring request to mhpolicyd's socketmap; prints the reply
socketmap_query() {
	local q="$1 $2" reply=
	exec 3<>"/dev/tcp/127.0.0.1/$SP" || return 1
	printf '%d:%s,' "${#q}" "$q" >&3
	IFS= read -r -d , -t 5 reply <&3
	exec 3<&-
	printf '%s' "${reply#*:}"
}
# policy_query RCPT - one RCPT request over the policy socket; prints the action line
policy_query() {
	timeout 10 python3 - "$POLICY_SOCK" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
           "client_address=192.0.2.25\nclient_name=client.example\nhelo_name=client.example\n"
           "sender=alice@sender.example\nrecipient=%s\nqueue_id=\ninstance=1.2.3\n\n" % sys.argv[2]).encode())
data = b""
while not data.endswith(b"\n\n"):
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.decode().strip())
EOF
}

T_START=$(date +%s)
if [ -d /run/systemd/system ]; then
	MODE=systemd
	MODE_DESC="systemd is PID 1: the units were started with systemctl (a drop-in adds -c with the test's config)"
else
	MODE=hand
	MODE_DESC="systemd is not PID 1: the daemons were started by hand as their units would (ExecStart plus -c with the test's config, User=, Group=, UMask=, /run/mhkit)"
fi
note "$MODE_DESC"

start_unit mhpolicyd.service "$RUNDIR/mhpolicyd.log" || die "mhpolicyd.service did not start"
POLICYD_PID=$START_PID
[ "$MODE" = systemd ] && POLICYD_PID=	# systemd owns it: stopped with systemctl
if wait_for 15 eval 'unit_log mhpolicyd.service "$RUNDIR/mhpolicyd.log" | grep -q "ready:"'; then
	ok "mhpolicyd logged ready"
else
	unit_log mhpolicyd.service "$RUNDIR/mhpolicyd.log" | tail -n 20 | sed 's/^/#   /'
	die "mhpolicyd did not log ready within 15 s"
fi
[ "$MODE" = systemd ] && check_eq "systemctl is-active mhpolicyd.service" active "$(systemctl is-active mhpolicyd.service)"
check_eq "mhpolicyd runs as mhkit" mhkit "$(ps -o user= -p "$START_PID" 2>&1 | tr -d ' ')"
check_eq "the policy socket in /run/mhkit: a socket, mode 666, owned by mhkit" "socket 666 mhkit" \
	"$(stat -c '%F %a %U' "$POLICY_SOCK" 2>&1)"

out=$(/usr/bin/mhlist -c "$CONF" domain add pkgtest.example --service relay --dest mail.pkgtest.example --port 2525 2>&1)
rc=$?
check "mhlist domain add pkgtest.example --service relay --dest mail.pkgtest.example --port 2525${out:+: $out}" test "$rc" = 0
wait_for 5 eval '[ "$(socketmap_query relay_domains pkgtest.example)" = "OK pkgtest.example" ]'
check_eq "socketmap relay_domains pkgtest.example" "OK pkgtest.example" "$(socketmap_query relay_domains pkgtest.example)"
answer=$(socketmap_query relay_domains other.example)
check_eq "socketmap relay_domains other.example" "NOTFOUND" "${answer% }"
check_eq "policy socket: RCPT for a domain that is not ours" "action=DUNNO" "$(policy_query bob@other.example 2>&1)"

if [ "$MODE" = systemd ]; then
	timeout 30 systemctl reload mhpolicyd.service
else
	kill -HUP "$POLICYD_PID"
fi
check "reload (SIGHUP): mhpolicyd logged reloaded" \
	wait_for 10 eval 'unit_log mhpolicyd.service "$RUNDIR/mhpolicyd.log" | grep -q "reloaded"'
check_eq "socketmap after the reload" "OK pkgtest.example" "$(socketmap_query relay_domains pkgtest.example)"

if [ -n "$MILTER" ]; then
	if start_unit mhmilter.service "$RUNDIR/mhmilter.log"; then
		MILTER_PID=$START_PID
		[ "$MODE" = systemd ] && MILTER_PID=
		if wait_for 15 eval 'unit_log mhmilter.service "$RUNDIR/mhmilter.log" | grep -q "ready:"'; then
			ok "mhmilter logged ready"
		else
			not_ok "mhmilter did not log ready within 15 s"
			unit_log mhmilter.service "$RUNDIR/mhmilter.log" | tail -n 20 | sed 's/^/#   /'
		fi
		check_eq "mhmilter runs as mhkit" mhkit "$(ps -o user= -p "$START_PID" 2>&1 | tr -d ' ')"
		check "mhmilter accepts connections on 127.0.0.1:$MP" \
			timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MP"
	else
		not_ok "mhmilter.service did not start"
	fi
fi

# stop: SIGTERM, as systemctl stop sends it
if [ "$MODE" = systemd ]; then
	for u in "${STARTED_UNITS[@]}"; do
		check "systemctl stop $u" timeout 60 systemctl stop "$u"
	done
	STARTED_UNITS=()
else
	if [ -n "$MILTER_PID" ]; then
		kill -TERM "$MILTER_PID"
		check "mhmilter stopped on SIGTERM within 30 s" wait_for 30 eval '! pid_alive $MILTER_PID'
		wait "$MILTER_PID"; rc=$?
		check_eq "mhmilter exit status after SIGTERM" 0 "$rc"
		MILTER_PID=
	fi
	kill -TERM "$POLICYD_PID"
	check "mhpolicyd stopped on SIGTERM within 15 s" wait_for 15 eval '! pid_alive $POLICYD_PID'
	wait "$POLICYD_PID"; rc=$?
	check_eq "mhpolicyd exit status after SIGTERM" 0 "$rc"
	POLICYD_PID=
fi
check "mhpolicyd logged stopped" eval 'unit_log mhpolicyd.service "$RUNDIR/mhpolicyd.log" | grep -q "stopped:"'
stop_pid "$REDIS_PID"; REDIS_PID=

# --- 5. purge ----------------------------------------------------------------------
section "purge"
if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 purge -y -q mhkit >"$WORK/purge.log" 2>&1; then
	ok "apt-get purge mhkit"
	INSTALLED=
else
	sed 's/^/#   /' "$WORK/purge.log"
	not_ok "apt-get purge mhkit"
fi
check "purged: no /etc/mhkit, no programs, no units" \
	eval '! [ -e /etc/mhkit ] && ! [ -e /usr/bin/mhlist ] && ! [ -e /usr/sbin/mhpolicyd ] && ! [ -e /lib/systemd/system/mhpolicyd.service ]'
note "the mhkit user stays after the purge (Debian's usual practice: files may still belong to it)"
