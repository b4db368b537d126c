#!/bin/bash
# test_privileges.sh - issue 8 item 5, least privilege: mhpolicyd and
# mhmilter started as root with `user` set bind their sockets, then run as
# that user only (real, effective, saved and filesystem uid and gid, the
# user's own supplementary groups, no capabilities); their unix sockets
# have the mode and owner the docs give, and Postfix's side (another
# unprivileged user) can connect to them; the pidfile and the sockets are
# in the runtime directory; no file outside it is open for writing; an
# unknown `user`, or a `user` that a non-root start cannot become, is
# refused. Started as root without `user`, the daemons refuse (exit 78);
# user = "root" is the opt-in.
#
# Runs in its own network and mount namespaces (tests/lib/isolate.sh).
# The accounts it needs (the daemons' user, with a supplementary group,
# and one standing for Postfix) are added to copies of /etc/passwd and
# /etc/group bind-mounted in that mount namespace only: the host's
# account files are never changed.
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/isolate.sh"
isolate_self "$@"
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"
need_cmd setpriv /usr/bin/python3 stat

POLICYD=${MHPOLICYD:?}
MILTER=${MHMILTER:?}
PY=/usr/bin/python3

# --- accounts, in this mount namespace only -------------------------------------------
free_id() {	# free_id FROM - the first uid and gid from FROM up that no account uses
	local id=$1
	while getent passwd "$id" >/dev/null || getent group "$id" >/dev/null ||
		getent group $((id + 1)) >/dev/null || getent passwd $((id + 2)) >/dev/null ||
		getent group $((id + 2)) >/dev/null; do
		id=$((id + 3))
	done
	echo "$id"
}
ID=$(free_id 61000)
USR=mhkit-priv UID_=$ID GID_=$ID
EXTRA_GID=$((ID + 1))
PFX=mhkit-pfx PFX_ID=$((ID + 2))	# stands for Postfix's own user
for n in "$USR" mhkit-privx "$PFX"; do
	getent passwd "$n" >/dev/null || getent group "$n" >/dev/null && hard_error "account $n exists already"
done
isolate_mount_file /etc/passwd "$(cat /etc/passwd
	echo "$USR:x:$UID_:$GID_:mhkit test daemon user:/nonexistent:/usr/sbin/nologin"
	echo "$PFX:x:$PFX_ID:$PFX_ID:mhkit test postfix stand-in:/nonexistent:/usr/sbin/nologin")"
isolate_mount_file /etc/group "$(cat /etc/group
	echo "$USR:x:$GID_:"
	echo "mhkit-privx:x:$EXTRA_GID:$USR"
	echo "$PFX:x:$PFX_ID:")"
assert_eq "$UID_ $GID_ $EXTRA_GID" "$(id -u "$USR") $(id -g "$USR") $(id -G "$USR" | tr ' ' '\n' | sort -n | tail -n1)" \
	"test accounts visible (namespace-local /etc/passwd, /etc/group)"

# --- runtime directory ------------------------------------------------------------------
chmod go+x "$TMP"			# Postfix's side must reach the sockets
RUN=$TMP/run
mkdir -m 0755 "$RUN"
chown "$USR:$USR" "$RUN"		# the daemons' own: they remove their pidfiles at exit

redis_start
DEAD_DNS=$(free_port)
PPORT=$(free_port) SPORT=$(free_port) MPORT=$(free_port)
base_conf() {	# base_conf EXTRA - mhkit.conf text shared by every instance
	echo "node = { hostnames = [\"relay1.mhkit.test\"]; };
dns = { servers = [\"127.0.0.1@$DEAD_DNS\"]; timeout = \"500ms\"; };
$1"
}
mhkit_conf_write "$TMP/unix.conf" "$(base_conf "user = \"$USR\";
policyd = { listen = \"unix:$RUN/policy.sock\"; socketmap = \"unix:$RUN/socketmap.sock\"; };
milter = { listen = \"unix:$RUN/milter.sock\"; };")"
mhkit_conf_write "$TMP/inet.conf" "$(base_conf "user = \"$USR\";
policyd = { listen = \"inet:127.0.0.1:$PPORT\"; socketmap = \"inet:127.0.0.1:$SPORT\"; };
milter = { listen = \"inet:127.0.0.1:$MPORT\"; };")"
"${MHLIST:?}" -c "$TMP/unix.conf" domain add relay.test --service relay --dest mx.customer.test --port 2525 --callahead off >/dev/null
redis_cli redis SET 'mh:{relay.test}:mx' "10 relay1.mhkit.test" EX 3600 >/dev/null

# start_daemon NAME PROGRAM CONF - detached (no -f: stdio on /dev/null, logs to syslog),
# with nothing inherited past stdio; waits for its pidfile, sets DPID
start_daemon() {
	local name=$1 prog=$2 conf=$3 pidfile=$RUN/$1.pid
	cp "$conf" "$TMP/$name.conf"
	printf 'pidfile = "%s";\n' "$pidfile" >>"$TMP/$name.conf"
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec "$prog" -c "$TMP/$name.conf"
	) </dev/null >"$TMP/$name.start" 2>&1
	assert_exit_status=$?
	DPID=
	wait_until 5 test -s "$pidfile" && DPID=$(cat "$pidfile")
	if [ "$assert_exit_status" = 0 ] && [ -n "$DPID" ] && pid_alive "$DPID"; then
		register_pid "$DPID"
		pass "$name: detached, pidfile $pidfile in the runtime directory"
	else
		fail "$name: detached, pidfile $pidfile in the runtime directory" \
			"exit $assert_exit_status; $(cat "$TMP/$name.start")"
		DPID=
	fi
}

# check_identity NAME PID - every uid and gid the user's, its groups, no capabilities
check_identity() {
	local name=$1 pid=$2 st want_groups
	st=$(cat "/proc/$pid/status")
	assert_eq "$UID_ $UID_ $UID_ $UID_" "$(awk '/^Uid:/ {print $2, $3, $4, $5}' <<<"$st")" \
		"$name: real, effective, saved and fs uid are $USR's"
	assert_eq "$GID_ $GID_ $GID_ $GID_" "$(awk '/^Gid:/ {print $2, $3, $4, $5}' <<<"$st")" \
		"$name: real, effective, saved and fs gid are $USR's"
	want_groups=$(id -G "$USR" | tr ' ' '\n' | sort -n | tr '\n' ' ')
	assert_eq "$want_groups" "$(awk '/^Groups:/ {for (i = 2; i <= NF; i++) print $i}' <<<"$st" | sort -n | tr '\n' ' ')" \
		"$name: supplementary groups are $USR's (root's are gone)"
	assert_eq "0000000000000000 0000000000000000" "$(awk '/^CapPrm:/ {p=$2} /^CapEff:/ {e=$2} END {print p, e}' <<<"$st")" \
		"$name: no capabilities left"
}

# check_writes NAME PID - no descriptor open for writing outside $RUN, /dev/null, sockets, pipes
check_writes() {
	local name=$1 pid=$2 fd target flags bad=() n=0
	for fd in /proc/"$pid"/fd/*; do
		target=$(readlink "$fd") || continue
		flags=$(awk '/^flags:/ {print $2}' "/proc/$pid/fdinfo/${fd##*/}" 2>/dev/null) || continue
		[ -n "$flags" ] || continue
		(( (8#$flags & 3) == 0 )) && continue	# O_RDONLY
		n=$((n + 1))
		case $target in
		socket:* | pipe:* | anon_inode:* | /dev/null) ;;
		"$RUN"/*) ;;
		*) bad+=("fd ${fd##*/} -> $target (flags $flags)") ;;
		esac
	done
	if [ ${#bad[@]} -eq 0 ]; then
		pass "$name: nothing open for writing outside the runtime directory ($n writable descriptors: sockets, pipes, /dev/null)"
	else
		fail "$name: nothing open for writing outside the runtime directory" "${bad[@]}"
	fi
}

# as_postfix PYTHON SOCKET - run Python on SOCKET (sys.argv[1]) as the Postfix stand-in, no groups of root's
as_postfix() {
	setpriv --reuid="$PFX_ID" --regid="$PFX_ID" --clear-groups "$PY" -c "$1" "$2" 2>&1
}
PY_POLICY='
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
s.sendall(b"request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\nsender=a@sender.test\nrecipient=bob@relay.test\n\n")
out = b""
while not out.endswith(b"\n\n"):
    b = s.recv(4096)
    if not b: break
    out += b
print(out.decode().strip())'
PY_SOCKETMAP='
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
s.sendall(b"24:relay_domains relay.test,"); print(s.recv(4096).decode())'
PY_MILTER='
import socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
s.sendall(struct.pack(">IcIII", 13, b"O", 6, 0x1ff, 0)); r = s.recv(4096)
print("optneg reply" if len(r) >= 5 and r[4:5] == b"O" else "no optneg reply: %r" % r)
s.sendall(struct.pack(">Ic", 1, b"Q"))'

# --- unix sockets -----------------------------------------------------------------------
start_daemon mhpolicyd "$POLICYD" "$TMP/unix.conf"
PD=$DPID
start_daemon mhmilter "$MILTER" "$TMP/unix.conf"
MD=$DPID
[ -n "$PD" ] && [ -n "$MD" ] || hard_error "the daemons did not start"

check_identity mhpolicyd "$PD"
check_identity mhmilter "$MD"
assert_eq "/ /" "$(readlink "/proc/$PD/cwd") $(readlink "/proc/$MD/cwd")" "both detached to / (no directory kept busy)"

# doc/mhpolicyd.md, "Sockets and privileges": 0666, root's (bound before the drop);
# the directory decides who reaches them
for s in policy socketmap; do
	assert_eq "socket 666 root:root" "$(stat -c '%F %a %U:%G' "$RUN/$s.sock")" "mhpolicyd $s socket: mode 0666, root's, in the runtime directory"
done
out=$(as_postfix "$PY_POLICY" "$RUN/policy.sock")
assert_eq "action=DUNNO" "$out" "another unprivileged user (Postfix) gets a policy answer over the unix socket"
out=$(as_postfix "$PY_SOCKETMAP" "$RUN/socketmap.sock")
assert_eq "13:OK relay.test," "$out" "another unprivileged user (Postfix) gets a socketmap answer over the unix socket"
# doc/mhmilter.md, "Sockets and privileges": Postfix's smtpd (user postfix) must be able to write to it
echo "# mhmilter socket: $(stat -c '%A %U:%G' "$RUN/milter.sock") (umask of this test: $(umask))"
out=$(as_postfix "$PY_MILTER" "$RUN/milter.sock")
assert_eq "optneg reply" "$out" "another unprivileged user (Postfix) can connect to mhmilter's unix socket"
check_writes mhpolicyd "$PD"
check_writes mhmilter "$MD"
assert_eq "$PD" "$(cat "$RUN/mhpolicyd.pid")" "mhpolicyd pidfile holds its PID"
assert_eq "$MD" "$(cat "$RUN/mhmilter.pid")" "mhmilter pidfile holds its PID"

stop_pid "$PD" TERM
# libmilter notices SIGTERM within its 5 s poll loop, and its workers end
# after that (about 6 s in all when idle): stop_pid would KILL at 5 s
kill -TERM "$MD"
wait_until 12 test ! -e "$RUN/mhmilter.pid"
stop_pid "$MD" TERM
assert_eq "" "$(ls "$RUN" | grep '\.pid$')" "both pidfiles removed at exit (the runtime directory is $USR's)"

# --- TCP listeners ------------------------------------------------------------------------
start_daemon mhpolicyd-inet "$POLICYD" "$TMP/inet.conf"
PD=$DPID
start_daemon mhmilter-inet "$MILTER" "$TMP/inet.conf"
MD=$DPID
if [ -n "$PD" ] && [ -n "$MD" ]; then
	wait_until 5 $PY "$TESTS_LIB/wire.py" policy 127.0.0.1 "$PPORT" bob@relay.test
	run $PY "$TESTS_LIB/wire.py" policy 127.0.0.1 "$PPORT" bob@relay.test
	assert_eq "action=DUNNO" "$(head -n1 <<<"$T_OUT")" "mhpolicyd on TCP: answers after dropping privileges"
	check_identity mhpolicyd-inet "$PD"
	check_identity mhmilter-inet "$MD"
	check_writes mhpolicyd-inet "$PD"
	check_writes mhmilter-inet "$MD"
	stop_pid "$PD" TERM
	stop_pid "$MD" TERM
fi

# --- refusals -------------------------------------------------------------------------------
mhkit_conf_write "$TMP/nouser.conf" "$(base_conf "user = \"mhkit-no-such-user\";
policyd = { listen = \"inet:127.0.0.1:$PPORT\"; socketmap = \"inet:127.0.0.1:$SPORT\"; };
milter = { listen = \"inet:127.0.0.1:$MPORT\"; };")"
for prog in "$POLICYD" "$MILTER"; do
	assert_exit 78 "$prog" -c "$TMP/nouser.conf" -f
	assert_contains "$T_ERR" "user: no such user \"mhkit-no-such-user\"" "$(basename "$prog"): unknown user named"
done
# not root, `user` someone else: it cannot become them
for prog in "$POLICYD" "$MILTER"; do
	run setpriv --reuid="$PFX_ID" --regid="$PFX_ID" --clear-groups "$prog" -c "$TMP/inet.conf" -f
	assert_eq 77 "$T_RC" "$(basename "$prog") started as $PFX with user $USR: exit 77 (EX_NOPERM)"
	assert_contains "$T_ERR" "need to start as root to become it" "$(basename "$prog"): the reason given"
done

# root, no `user`: refused (user = "root" is the opt-in)
mhkit_conf_write "$TMP/root.conf" --no-user "$(base_conf "policyd = { listen = \"inet:127.0.0.1:$PPORT\"; socketmap = \"inet:127.0.0.1:$SPORT\"; };
milter = { listen = \"inet:127.0.0.1:$MPORT\"; };")"
for prog in "$POLICYD" "$MILTER"; do
	name=$(basename "$prog")
	run timeout 20 "$prog" -c "$TMP/root.conf" -f
	assert_eq 78 "$T_RC" "$name as root without user: refuses to run (exit 78, EX_CONFIG)"
	assert_contains "$T_ERR" "$TMP/root.conf: started as root without \`user\`" "$name: ...naming the file and the setting"
	check "$name: ...and nothing is left listening" sh -c "! grep -q ready '$TMP/.err'"
done
mhkit_conf_write "$TMP/asroot.conf" "$(base_conf "policyd = { listen = \"inet:127.0.0.1:$PPORT\"; socketmap = \"inet:127.0.0.1:$SPORT\"; };
milter = { listen = \"inet:127.0.0.1:$MPORT\"; };")"
assert_contains "$(cat "$TMP/asroot.conf")" 'user = "root";' "the test harness opts in with user = \"root\""
for prog in "$POLICYD" "$MILTER"; do
	name=$(basename "$prog")
	start_bg "$name-root" "$prog" -c "$TMP/asroot.conf" -f
	if wait_until 5 grep -q "ready" "$TMP/$name-root.log"; then
		pass "$name with user = \"root\": runs"
	else
		fail "$name with user = \"root\": runs" "$(tail -n 3 "$TMP/$name-root.log")"
	fi
	assert_contains "$(cat "$TMP/$name-root.log")" "running as root ($TMP/asroot.conf: user = \"root\")" "$name: ...and says so"
	stop_pid "$BG_PID" TERM
done
done_testing
