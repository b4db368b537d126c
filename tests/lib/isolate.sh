# tests/lib/isolate.sh - run a test in its own network and mount namespaces.
#
#   here=$(cd "$(dirname "$0")" && pwd)
#   TESTS_LIB=${TESTS_LIB:-$here/../lib}
#   . "$TESTS_LIB/isolate.sh"
#   isolate_self "$@"            # before common.sh: re-execs the script, or exits 77
#   . "$TESTS_LIB/common.sh"
#   . "$TESTS_LIB/dns.sh"
#   dns_start "$TMP/zone"        # now on 127.0.0.1:53 (and [::1]:53), the system resolver's server
#
# isolate_self re-executes the script as
#   unshare --net --mount -- bash -c 'isolate_setup; exec bash SCRIPT ARGS...'
# without --fork: the script keeps its PID, so the parent (make, a shell)
# signals and waits for the test itself, the exit status is the test's own,
# and common.sh's PID-based port locks hold.  common.sh is sourced only
# once, inside, so there is one $TMP and one cleanup; isolate_self bails out
# (99) if common.sh was sourced first.  Inside:
#   - a new network namespace with only loopback, brought up; IPv6 on lo
#     when the kernel has it (MHKIT_ISOLATED_IPV6=1 when ::1 works);
#   - a private mount namespace (changes never reach the host) in which
#     /etc/resolv.conf (nameserver 127.0.0.1, options timeout:1 attempts:2),
#     /etc/hosts (localhost, this host name, isolate_hosts_add lines) and
#     /etc/nsswitch.conf (hosts: files dns, so no nss module bypasses
#     resolv.conf) are generated files bind-mounted over the real ones; a
#     running nscd's socket directory is covered by an empty tmpfs;
#   - MHKIT_ISOLATED=1 exported.
# The generated files are unlinked once mounted, so nothing is left behind
# even if the test is killed; the namespaces vanish with the last process.
# /tmp is the host's: $TMP and KEEP_TMP=1 work as usual.
# Not root, no unshare/ip, or namespaces not allowed -> the test is skipped
# (exit 77) with the reason.

ISOLATE_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/isolate.sh

# isolate_skip REASON - skip the whole test (before common.sh exists)
isolate_skip() {
	echo "1..0 # SKIP $*"
	exit 77
}

# isolate_bail REASON - the isolation itself failed (exit 99; through common.sh's hard_error once sourced)
isolate_bail() {
	declare -F hard_error >/dev/null && hard_error "isolate: $*"
	echo "Bail out! isolate: $*"
	exit 99
}

# isolate_ns - print this process's network and mount namespaces ("net:[N] mnt:[N]")
isolate_ns() {
	local n m
	n=$(readlink /proc/self/ns/net 2>/dev/null) && m=$(readlink /proc/self/ns/mnt 2>/dev/null) &&
		[ -n "$n" ] && [ -n "$m" ] && echo "$n $m"
}

# isolated - true in the script that isolate_self re-executed: same PID, and
# both namespaces differ from those it had before (MHKIT_ISOLATED_FROM)
isolated() {
	local now
	[ "${MHKIT_ISOLATED:-0}" = 1 ] && [ "${MHKIT_ISOLATED_PID:-}" = "$$" ] || return 1
	now=$(isolate_ns) || return 1
	[ -n "${MHKIT_ISOLATED_FROM:-}" ] && [ "${now% *}" != "${MHKIT_ISOLATED_FROM% *}" ] &&
		[ "${now#* }" != "${MHKIT_ISOLATED_FROM#* }" ]
}

# isolate_self "$@" - re-exec this script isolated, or return at once when it already is
isolate_self() {
	local err from
	isolated && return 0
	if declare -F t_cleanup >/dev/null; then
		isolate_bail "isolate_self must run before common.sh is sourced"
	fi
	[ "$(id -u)" = 0 ] || isolate_skip "network namespaces need root (running as uid $(id -u))"
	command -v unshare >/dev/null 2>&1 || isolate_skip "unshare (util-linux) not installed"
	command -v ip >/dev/null 2>&1 || isolate_skip "ip (iproute2) not installed"
	err=$(unshare --net --mount true 2>&1) || isolate_skip "cannot create namespaces: $err"
	from=$(isolate_ns) || isolate_skip "cannot read /proc/self/ns"
	MHKIT_ISOLATED=1 MHKIT_ISOLATED_PID=$$ MHKIT_ISOLATED_FROM=$from exec unshare --net --mount -- "$BASH" -c \
		'. "$1" && isolate_setup && shift && exec "$BASH" "$@"; exit 99' isolate "$ISOLATE_LIB" "$0" "$@"
}

# isolate_mount_file TARGET TEXT - bind-mount a new file holding TEXT over TARGET
isolate_mount_file() {
	local target=$1 f err
	[ -e "$target" ] || isolate_bail "$target does not exist: nothing to mount over"
	f=$(mktemp "${TMPDIR:-/tmp}/mhkit-isolate.XXXXXX") || isolate_bail "mktemp failed"
	printf '%s\n' "$2" >"$f"
	chmod 644 "$f"
	if ! err=$(mount --bind "$f" "$target" 2>&1); then
		rm -f "$f"
		isolate_bail "cannot bind-mount over $target: $err"
	fi
	rm -f "$f"		# the mount keeps the file; nothing is left in $TMPDIR
}

# isolate_lo_ipv6 - true when ::1 is on lo (enables IPv6 on lo if the kernel has it)
isolate_lo_ipv6() {
	[ -d /proc/sys/net/ipv6 ] || return 1
	if [ "$(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null)" = 1 ]; then
		sysctl -qw net.ipv6.conf.lo.disable_ipv6=0 >/dev/null 2>&1 ||
			echo 0 >/proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null
	fi
	ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128' && return 0
	ip -6 addr add ::1/128 dev lo 2>/dev/null
	ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128'
}

# isolate_setup - inside the new namespaces: loopback, resolver files, MHKIT_ISOLATED
isolate_setup() {
	local err host d
	isolated || isolate_bail "not in a new network and mount namespace: refusing to touch /etc"
	err=$(ip link set lo up 2>&1) || isolate_bail "ip link set lo up: $err"
	MHKIT_ISOLATED_IPV6=0
	isolate_lo_ipv6 && MHKIT_ISOLATED_IPV6=1
	export MHKIT_ISOLATED MHKIT_ISOLATED_PID MHKIT_ISOLATED_FROM MHKIT_ISOLATED_IPV6
	isolate_mount_file /etc/resolv.conf "$(printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:2')"
	host=$(hostname 2>/dev/null)
	isolate_mount_file /etc/hosts "$(
		printf '127.0.0.1\tlocalhost\n'
		printf '::1\tlocalhost ip6-localhost ip6-loopback\n'
		case $host in '' | localhost) ;; *) printf '127.0.1.1\t%s\n' "$host" ;; esac
		echo "# isolate_hosts_add lines follow")"
	if [ -e /etc/nsswitch.conf ]; then
		isolate_mount_file /etc/nsswitch.conf "$(
			grep -v '^[[:space:]]*hosts:' /etc/nsswitch.conf
			echo "hosts: files dns")"
	fi
	for d in /run/nscd /var/run/nscd; do
		[ -d "$d" ] && mount -t tmpfs -o size=64k,mode=755 none "$d" 2>/dev/null
	done
	return 0
}

# isolate_hosts_add IP NAME... - add a line to the namespace's /etc/hosts
isolate_hosts_add() {
	local ip=$1
	shift
	isolated || isolate_bail "isolate_hosts_add outside isolate_self: the real /etc/hosts stays untouched"
	case $ip in *[!0-9a-fA-F.:]* | '') isolate_bail "isolate_hosts_add: not an IP address: $ip" ;; esac
	[ $# -gt 0 ] || isolate_bail "isolate_hosts_add: no name for $ip"
	printf '%s\t%s\n' "$ip" "$*" >>/etc/hosts
}

# isolate_resolver ADDR - the namespace's /etc/resolv.conf names ADDR
# instead of 127.0.0.1 (a DNS server on an address that network
# namespaces of the test's own reach too; tests/lib/netns.sh)
isolate_resolver() {
	isolated || isolate_bail "isolate_resolver outside isolate_self: the real /etc/resolv.conf stays untouched"
	case $1 in *[!0-9a-fA-F.:]* | '') isolate_bail "isolate_resolver: not an IP address: $1" ;; esac
	printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$1" >/etc/resolv.conf
}

# isolate_addr_add ADDR... - put extra addresses on lo (e.g. 192.0.2.25,
# 2001:db8::25) so that clients can connect from them (dig -b, swaks --local-interface)
isolate_addr_add() {
	local a err
	isolated || isolate_bail "isolate_addr_add outside isolate_self"
	for a in "$@"; do
		case $a in
		*:*) err=$(ip -6 addr add "$a/128" dev lo nodad 2>&1) ;;
		*) err=$(ip addr add "$a/32" dev lo 2>&1) ;;
		esac
		[ $? = 0 ] || isolate_bail "ip addr add $a dev lo: $err"
	done
}
