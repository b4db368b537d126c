# tests/lib/netns.sh - nodes in network namespaces of their own, hung on
# a bridge in the test's namespace (tests/lib/isolate.sh): each node has
# its own loopback, its own addresses and its own routes, as separate
# machines on one LAN have.
#
#   . "$TESTS_LIB/isolate.sh"; isolate_self "$@"; . "$TESTS_LIB/common.sh"
#   . "$TESTS_LIB/netns.sh"
#   netns_hub 198.51.100.1/24          # the bridge; the test's own services listen on .1
#   netns_node n1 198.51.100.21 198.51.100.31
#   netns_exec n1 postfix -c "$etc" start
#
# The hub is the test's namespace: what listens there on the bridge's
# address (Redis, DNS) or on an address of the test's lo (isolate_addr_add:
# the customers' servers, the senders) is reached from every node through
# its default route, the bridge's address.  A node's 127.0.0.1 is its own:
# its daemons and its Postfix talk there, out of reach of the others.
#
# The namespaces are iproute2's (ip netns add NAME: a file under
# /run/netns bind-mounted on the namespace).  /run/netns is covered by a
# tmpfs in the test's private mount namespace first, so the names and the
# namespaces never reach the host and vanish with the test's last process;
# the host keeps, at most, the empty /run/netns directory iproute2 itself
# would create.  Commands run in a node through `ip netns exec`, which
# execs them: the PID a test records is the command's own.

NETNS_HUB_IF=mhbr0
NETNS_HUB_ADDR=
NETNS_PREFIX=

# netns_hub ADDR/PREFIX - the bridge in the test's namespace, with ADDR
netns_hub() {
	local err
	isolated || isolate_bail "netns_hub outside isolate_self"
	case $1 in */*) ;; *) hard_error "netns_hub: want ADDR/PREFIX, not '$1'" ;; esac
	NETNS_HUB_ADDR=${1%/*} NETNS_PREFIX=${1#*/}
	[ -d /run/netns ] || mkdir -p /run/netns || hard_error "netns_hub: cannot create /run/netns"
	err=$(mount -t tmpfs -o size=64k,mode=755 mhkit-netns /run/netns 2>&1) ||
		hard_error "netns_hub: cannot mount a tmpfs on /run/netns: $err"
	err=$(ip link add "$NETNS_HUB_IF" type bridge 2>&1) || skip_all "no bridge here (ip link add type bridge: $err)"
	err=$( { ip addr add "$1" dev "$NETNS_HUB_IF" && ip link set "$NETNS_HUB_IF" up; } 2>&1) ||
		hard_error "netns_hub: $NETNS_HUB_IF: $err"
}

# netns_node NAME ADDR... - a namespace for node NAME (a-z0-9, up to 8
#   characters): lo up, eth0 (a veth whose other end is on the bridge)
#   with the ADDRs, default route through the hub
netns_node() {
	local name=$1 ns a err
	shift
	[ -n "$NETNS_HUB_ADDR" ] || hard_error "netns_node: netns_hub first"
	case $name in '' | *[!a-z0-9]* | ?????????*) hard_error "netns_node: bad node name '$name'" ;; esac
	[ $# -gt 0 ] || hard_error "netns_node $name: no address"
	ns=mhkit-$name
	err=$( {
		ip netns add "$ns" &&
			ip link add "mhv-$name" type veth peer name eth0 netns "$ns" &&
			ip link set "mhv-$name" master "$NETNS_HUB_IF" up &&
			ip -n "$ns" link set lo up &&
			ip -n "$ns" link set eth0 up
	} 2>&1) || hard_error "netns_node $name: $err"
	for a in "$@"; do
		err=$(ip -n "$ns" addr add "$a/$NETNS_PREFIX" dev eth0 2>&1) ||
			hard_error "netns_node $name: ip addr add $a: $err"
	done
	err=$(ip -n "$ns" route add default via "$NETNS_HUB_ADDR" 2>&1) ||
		hard_error "netns_node $name: default route: $err"
}

# netns_ns NAME - the namespace's name, for `ip netns exec` in start_bg
# (a backgrounded shell function would not keep the command's PID)
netns_ns() { echo "mhkit-$1"; }

# netns_exec NAME CMD... - CMD in node NAME's namespace (the same PID)
netns_exec() {
	local name=$1
	shift
	ip netns exec "mhkit-$name" "$@"
}
