# tests/lib/postfix.sh - real, private Postfix instances for tests.
#
#   . "$TESTS_LIB/common.sh"; . "$TESTS_LIB/postfix.sh"
#
#   postfix_start mx 'relay_domains = example.com' \
#       "transport_maps = inline:{ example.com=smtp:[127.0.0.1]:$(sink_port dest) }"
#   send_mail "$(postfix_port mx)" a@example.com bob@example.com
#
# Each instance NAME lives in $TMP/postfix-NAME/: etc/ (main.cf, master.cf:
# its config_directory), queue/ (queue_directory, pid/master.pid), data/
# (data_directory) and maillog (its own log, written by postlogd).  smtpd
# listens on 127.0.0.1:PORT (a free port; [::1]:PORT too with --ipv6), no
# service is chrooted, and nothing is delivered locally (mydestination is
# empty).  The master is registered so that common.sh stops it by PID; at
# exit every running instance gets `postfix -c DIR stop` first, and any
# process of its group still there afterwards is stopped by PID too.
#
# Mail for a domain that no transport_maps entry routes goes to the error
# transport (bounced at once, never to the system's DNS or the Internet):
# set 'default_transport = smtp' and 'relay_transport = relay' to route by
# MX (inside tests/lib/isolate.sh, with tests/lib/dns.sh answering).
#
# --role ROLE starts an instance from contrib/postfix/ROLE.main.cf and
# ROLE.master.cf as an admin would paste them: each production port of the
# master.cf fragment (25, 2525, 465, ...) gets a free loopback port
# (postfix_port NAME 465), /etc/postfix/ becomes the instance's etc/, a
# test certificate is made (make-test-cert.sh) when the role has TLS, and a
# Cyrus SASL config (contrib/postfix/sasl/smtpd.conf) with a sasldb in
# etc/sasl/ when it has SASL (users: postfix_sasl_user).  --subst 'OLD=NEW'
# changes other strings, e.g. the policy service's inet:127.0.0.1:10027.
#
# The master must start as root (Postfix's rule): as another user the test
# is skipped (77), as it is when Postfix is not installed.

need_cmd postfix postconf postqueue postsuper
[ "$(id -u)" = 0 ] || skip_all "postfix.sh: a Postfix master must be started as root"
getent passwd postfix >/dev/null && getent group postdrop >/dev/null ||
	skip_all "postfix.sh: no postfix user or postdrop group (install the postfix package)"

declare -A PF_PORTS=() PF_PIDS=() PF_V6=() PF_ADDRS=()
declare -A PF_NETNS=()	# node (tests/lib/netns.sh) an instance runs in, if any
declare -A PF_ROLES=() PF_PORTMAP=()	# role of an instance; "25=20001 465=20002 ..." (production=test port)
PF_CONTRIB=${MHKIT_CONTRIB:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/contrib/postfix}
PF_START_TIMEOUT=20		# seconds for `postfix start` and the 220 banner
PF_DAEMON_DIR=$(postconf -dh daemon_directory 2>/dev/null)
PF_META_DIR=$(postconf -dh meta_directory 2>/dev/null)

# Defaults for every instance; the settings given to postfix_start come
# later and win.  Short retry times: a deferred message is retried within
# seconds (postfix_flush retries at once).
PF_DEFAULTS=(
	"queue_run_delay = 5s"
	"minimal_backoff_time = 5s"
	"maximal_backoff_time = 10s"
	"smtp_host_lookup = dns, native"
	"mynetworks = 127.0.0.0/8 [::1]/128"
	"mydestination ="
	"relay_domains ="
	"default_transport = error:5.4.4 no route in this test instance (add the domain to transport_maps)"
	"relay_transport = error:5.4.4 no route in this test instance (add the domain to transport_maps)"
	"smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination"
	"alias_maps ="
	"alias_database ="
	"local_recipient_maps ="
	"biff = no"
	"smtp_connect_timeout = 10s"
	"smtp_helo_timeout = 30s"
)

# postfix_dir NAME - its top directory ($TMP/postfix-NAME)
postfix_dir() { echo "$TMP/postfix-$1"; }

# postfix_confdir NAME - its config_directory (for postconf -c, postqueue -c, sendmail -C)
postfix_confdir() { echo "$TMP/postfix-$1/etc"; }

# postfix_port NAME [PORT] / postfix_pid NAME (the master's PID)
#   With PORT (a --role instance): the test port standing for production port PORT.
postfix_port() {
	if [ $# -ge 2 ]; then
		pf_portmap_get "$1" "$2"
	else
		echo "${PF_PORTS[$1]:-}"
	fi
}

# pf_portmap_get NAME PORT - the test port of production port PORT ("" when none)
pf_portmap_get() {
	local pair
	for pair in ${PF_PORTMAP[$1]:-}; do
		[ "${pair%%=*}" = "$2" ] && { echo "${pair#*=}"; return 0; }
	done
	return 1
}

# postfix_addr NAME - the IPv4 loopback address its smtpd listens on (127.0.0.1 unless --addr)
postfix_addr() { echo "${PF_ADDRS[$1]:-127.0.0.1}"; }
postfix_pid() { echo "${PF_PIDS[$1]:-}"; }

# postfix_log NAME - path of its log file (maillog_file)
postfix_log() { echo "$TMP/postfix-$1/maillog"; }

# postfix_postconf NAME ARGS... - postconf against that instance (e.g. -h relay_domains)
postfix_postconf() {
	local name=$1
	shift
	postconf -c "$(postfix_confdir "$name")" "$@"
}

# postfix_sendmail NAME SENDMAIL-ARGS... - Postfix's sendmail(1) into that instance (message on stdin)
postfix_sendmail() {
	local name=$1
	shift
	sendmail -C "$(postfix_confdir "$name")" "$@"
}

# pf_var NAME - the name of the exported port variable (PF_PORT_MX for mx, PF_PORT_OUT_2 for out-2)
pf_var() {
	local v
	v=$(printf '%s' "$1" | tr '[:lower:]-' '[:upper:]_')
	echo "PF_PORT_$v"
}

# pf_banner PORT [HOST] - true when an SMTP server there greets with 220
pf_banner() {
	local line host=${2:-127.0.0.1}
	exec 7<>"/dev/tcp/$host/$1" || return 1
	IFS= read -r -t 5 line <&7
	printf 'QUIT\r\n' >&7 2>/dev/null
	exec 7>&- 7<&-
	case $line in 220[\ -]*) return 0 ;; esac
	return 1
}

# pf_group_pids PGID - live (not zombie) processes in process group PGID,
# one a line.  A master is a session leader, so every daemon it runs is in
# its group (and keeps it after the master is gone).
pf_group_pids() {
	local p stat state pgrp
	for p in /proc/[0-9]*; do
		read -r stat 2>/dev/null <"$p/stat" || continue
		read -r state _ pgrp _ <<<"${stat##*) }"
		case $state in Z | X) continue ;; esac
		[ "$pgrp" = "$1" ] && echo "${p#/proc/}"
	done
	return 0
}

# postfix_processes NAME - PIDs of that instance's live processes (master and daemons), one a line
postfix_processes() {
	local pid=${PF_LAST_PIDS[$1]:-${PF_PIDS[$1]:-}}
	[ -n "$pid" ] || return 0
	pf_group_pids "$pid"
}
declare -A PF_LAST_PIDS=()	# master PID of each instance ever started, kept after stop

# pf_no_processes PGID
pf_no_processes() {
	[ -z "$(pf_group_pids "$1")" ]
}

# pf_write_master NAME PORT - master.cf: the usual services, none chrooted
pf_write_master() {
	local name=$1 port=$2 etc
	etc=$(postfix_confdir "$name")
	{
		echo "# master.cf for test instance $name, written by tests/lib/postfix.sh"
		if [ -n "${PF_ROLES[$name]:-}" ]; then
			pf_role_services "$name"
		else
			echo "$(postfix_addr "$name"):$port inet n - n - - smtpd"
			[ "${PF_V6[$name]:-0}" = 1 ] && echo "[::1]:$port inet n - n - - smtpd"
		fi
		cat <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
        -o syslog_name=postfix/$service_name
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
		[ -f "$(postfix_dir "$name")/master.extra" ] && cat "$(postfix_dir "$name")/master.extra"
	} >"$etc/master.cf"
}

# pf_write_main NAME SETTINGS... - main.cf: paths, loopback, logging, then PF_DEFAULTS, then SETTINGS
pf_write_main() {
	local name=$1 dir etc protocols=ipv4 interfaces
	shift
	dir=$(postfix_dir "$name")
	etc=$dir/etc
	interfaces=127.0.0.1
	if [ "${PF_V6[$name]:-0}" = 1 ]; then
		protocols=all interfaces="127.0.0.1, [::1]"
	fi
	cat >"$etc/main.cf" <<EOF
# main.cf for test instance $name, written by tests/lib/postfix.sh
compatibility_level = 3.6
config_directory = $etc
queue_directory = $dir/queue
data_directory = $dir/data
meta_directory = $PF_META_DIR
mail_owner = postfix
setgid_group = postdrop
myhostname = $name.test
myorigin = \$myhostname
smtpd_banner = \$myhostname ESMTP Postfix (mhkit test instance $name)
inet_interfaces = $interfaces
inet_protocols = $protocols
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
alternate_config_directories = $etc
EOF
	# Another loopback address: Postfix wants inet_interfaces on an
	# interface (127.0.0.N is not, outside isolate_addr_add), so it stays
	# 127.0.0.1; smtpd binds N by master.cf, the SMTP client sends from
	# it, and proxy_interfaces makes Postfix count it as its own for MX
	# loop checks.
	if [ "$(postfix_addr "$name")" != 127.0.0.1 ]; then
		printf '%s\n' "proxy_interfaces = $(postfix_addr "$name")" \
			"smtp_bind_address = $(postfix_addr "$name")" >>"$etc/main.cf"
	fi
	# Then the role's settings (contrib/postfix/ROLE.main.cf, read by
	# pf_role_prepare into role.main), then SETTINGS.  A default that the
	# role or a SETTING names again is left out, and so is a role setting
	# that a SETTING names again (postconf would warn).
	local s n
	local -A given=() by_role=()
	local -a defaults=() role=()
	for s in "$@"; do
		n=${s%%=*}
		given[${n//[[:space:]]/}]=1
	done
	if [ -n "${PF_ROLES[$name]:-}" ]; then
		while IFS= read -r s; do
			n=${s%%=*}
			n=${n//[[:space:]]/}
			by_role[$n]=1
			[ -n "${given[$n]:-}" ] || role+=("$s")
		done <"$dir/role.main"
	fi
	for s in "${PF_DEFAULTS[@]}"; do
		n=${s%%=*}
		n=${n//[[:space:]]/}
		[ -n "${given[$n]:-}" ] || [ -n "${by_role[$n]:-}" ] || defaults+=("$s")
	done
	postconf -c "$etc" -e "${defaults[@]}" "${role[@]+"${role[@]}"}" "$@" ||
		hard_error "postfix_start $name: postconf -e refused the settings: $*"
}

# --- roles: contrib/postfix/ROLE.main.cf and ROLE.master.cf -------------------

# pf_cf_logical FILE - a main.cf or master.cf fragment as logical lines:
#   comments and empty lines dropped, continuation lines (starting with
#   white space) joined to their line with one space, as Postfix reads them
pf_cf_logical() {
	awk '
		/^[ \t]*#/ || /^[ \t]*$/ { next }
		/^[ \t]/ { sub(/^[ \t]+/, ""); line = line " " $0; next }
		{ if (line != "") print line; line = $0 }
		END { if (line != "") print line }' "$1"
}

# pf_subst NAME - stdin to stdout with the instance's substitutions: the
#   --subst pairs (literal strings), then /etc/postfix/ -> its etc/
pf_subst() {
	local name=$1 text pair etc
	etc=$(postfix_confdir "$name")
	text=$(cat)
	if [ -f "$(postfix_dir "$name")/role.subst" ]; then
		while IFS= read -r pair; do
			text=${text//"${pair%%=*}"/"${pair#*=}"}
		done <"$(postfix_dir "$name")/role.subst"
	fi
	text=${text//\/etc\/postfix\//"$etc/"}
	printf '%s\n' "$text"
}

# pf_role_prepare NAME ROLE - read the role's fragments (substituted) into
#   role.main (one setting a line) and role.master (one service a line),
#   make the test certificate and the Cyrus SASL directory it refers to
pf_role_prepare() {
	local name=$1 role=$2 dir etc main master
	dir=$(postfix_dir "$name")
	etc=$dir/etc
	main=$PF_CONTRIB/$role.main.cf
	master=$PF_CONTRIB/$role.master.cf
	[ -r "$main" ] || hard_error "postfix_start $name --role $role: $main not found (MHKIT_CONTRIB?)"
	pf_cf_logical "$main" | pf_subst "$name" >"$dir/role.main"
	if [ -r "$master" ]; then
		pf_cf_logical "$master" | pf_subst "$name" >"$dir/role.master"
	else
		: >"$dir/role.master"
	fi
	# TLS: a self-signed certificate where smtpd_tls_chain_files looks
	if grep -q '^smtpd_tls_chain_files' "$dir/role.main" && [ ! -s "$etc/tls/cert.pem" ]; then
		sh "$PF_CONTRIB/make-test-cert.sh" "$etc/tls" "$name.test" localhost >>"$dir/start.log" 2>&1 ||
			hard_error "postfix_start $name: make-test-cert.sh failed: $(tail -n 3 "$dir/start.log")"
	fi
	# Cyrus SASL: contrib's smtpd.conf in etc/sasl/, the sasldb beside it
	if grep -q '^smtpd_sasl_type *= *cyrus' "$dir/role.main"; then
		need_cmd saslpasswd2
		mkdir -p "$etc/sasl"
		pf_subst "$name" <"$PF_CONTRIB/sasl/smtpd.conf" >"$etc/sasl/smtpd.conf"
		chown root:postfix "$etc/sasl" "$etc/sasl/smtpd.conf"
		chmod 750 "$etc/sasl"
		chmod 640 "$etc/sasl/smtpd.conf"
	fi
}

# pf_role_ports NAME [FIRST] - give every inet service of role.master a free
#   loopback port (FIRST for the first one, when given): PF_PORTMAP[NAME]
pf_role_ports() {
	local name=$1 first=${2:-} svc type prod port map=
	while read -r svc type _; do
		[ "$type" = inet ] || continue
		prod=$(pf_service_port "$svc") || hard_error "postfix_start $name: cannot map master.cf service '$svc' to a test port"
		if [ -n "$first" ]; then
			port=$first first=
		else
			port=$(free_port) || return 1
		fi
		map="${map:+$map }$prod=$port"
	done <"$(postfix_dir "$name")/role.master"
	[ -n "$map" ] || hard_error "postfix_start $name: the role has no inet service in its master.cf"
	PF_PORTMAP[$name]=$map
}

# pf_service_port SERVICE - the port of a master.cf inet service name
#   (25, 127.0.0.1:2525, smtp, submission, submissions)
pf_service_port() {
	local p=${1##*:}
	case $p in
	smtp) echo 25 ;;
	submission) echo 587 ;;
	submissions | smtps) echo 465 ;;
	*[!0-9]* | '') return 1 ;;
	*) echo "$p" ;;
	esac
}

# pf_role_services NAME - role.master with each inet service on its test
#   port (and on [::1] too with --ipv6), chroot off (a chrooted daemon would
#   need copies of resolv.conf, hosts and the sasldb under the queue)
pf_role_services() {
	local name=$1 line addr
	local -a f
	addr=$(postfix_addr "$name")
	while IFS= read -r line; do
		read -r -a f <<<"$line"
		f[4]=n
		if [ "${f[1]}" = inet ]; then
			f[0]=$addr:$(pf_portmap_get "$name" "$(pf_service_port "${f[0]}")")
			echo "${f[*]}"
			if [ "${PF_V6[$name]:-0}" = 1 ]; then
				f[0]=[::1]:${f[0]##*:}
				echo "${f[*]}"
			fi
		else
			echo "${f[*]}"
		fi
	done <"$(postfix_dir "$name")/role.master"
}

# pf_traversable DIR - the postfix user can reach DIR (every parent searchable)
pf_traversable() {
	if command -v runuser >/dev/null 2>&1; then
		runuser -u postfix -- test -x "$1" 2>/dev/null
	else
		su -s /bin/sh postfix -c "test -x '$1'" 2>/dev/null
	fi
}

# pf_spawn NAME PORT - postfix start, wait for the banner; 0 started, 1 failed
pf_spawn() {
	local name=$1 port=$2 dir etc pid
	dir=$(postfix_dir "$name")
	etc=$dir/etc
	pf_write_master "$name" "$port"
	rm -f "$dir/queue/pid/master.pid"
	# a restart skips postfix-script's slow checks (the queue exists)
	[ -d "$dir/queue/pid" ] && [ -d "$dir/queue/public" ] && : >"$dir/queue/quick-start"
	${PF_NETNS[$name]:+netns_exec "${PF_NETNS[$name]}"} postfix -c "$etc" start >>"$dir/start.log" 2>&1 || return 1
	read -r pid <"$dir/queue/pid/master.pid" 2>/dev/null
	pid=${pid// /}
	[ -n "$pid" ] || return 1
	register_pid "$pid"
	PF_PIDS[$name]=$pid PF_LAST_PIDS[$name]=$pid
	if ! wait_until "$PF_START_TIMEOUT" pf_banner_or_dead "$port" "$pid" "$(postfix_addr "$name")" || ! pid_alive "$pid"; then
		pf_stop_master "$name"
		return 1
	fi
	if [ "${PF_V6[$name]:-0}" = 1 ] && ! wait_until 5 pf_banner "$port" ::1; then
		pf_stop_master "$name"
		return 1
	fi
	return 0
}

# pf_banner_or_dead PORT PID ADDR
pf_banner_or_dead() {
	pf_banner "$1" "$3" || ! pid_alive "$2"
}

# postfix_start NAME [--addr 127.0.0.N] [--netns NODE] [--port N] [--ipv6] [--master 'master.cf line']... [SETTING...]
#   Start a private Postfix; SETTINGs are main.cf lines for postconf -e
#   ('relay_domains = example.com').  --ipv6 listens on [::1] too
#   (inet_protocols = all; test have_ipv6 first).  --master appends a
#   master.cf line (e.g. a second smtpd: "127.0.0.1:$p inet n - n - - smtpd
#   -o smtpd_tls_wrappermode=yes"; continuation lines start with spaces).
#   --addr listens on (and sends from) another loopback address instead
#   of 127.0.0.1, --port on a given port instead of a free one: e.g. a
#   backup MX on 127.0.0.3:25 inside isolate.sh (Postfix refuses to
#   deliver to an MX whose address is one of its own (inet_interfaces,
#   so 127.0.0.1, and proxy_interfaces, so the --addr): "loops back to
#   myself"; give each MTA and sink its own 127.0.0.N, other than .1).
#   --netns NODE runs it in a node's namespace (tests/lib/netns.sh): its
#   127.0.0.1 is the node's own, and --addr may be any of the node's
#   addresses.
#   --role ROLE: contrib/postfix/ROLE.main.cf's settings come before the
#   SETTINGs (which win), and ROLE.master.cf's services replace the plain
#   smtpd: each inet service on a free loopback port (postfix_port NAME
#   PROD-PORT; postfix_port NAME alone is the first service's, and --port
#   fixes that one), chroot off.  /etc/postfix/ in the fragments becomes
#   the instance's etc/; --subst 'OLD=NEW' (repeatable) replaces other
#   literal strings first, e.g. "inet:127.0.0.1:10027=inet:127.0.0.1:$PPORT".
#   A role with smtpd_tls_chain_files gets a self-signed certificate in
#   etc/tls/ (contrib/postfix/make-test-cert.sh); one with
#   smtpd_sasl_type = cyrus gets contrib/postfix/sasl/smtpd.conf in
#   etc/sasl/ (add users with postfix_sasl_user).
#   Sets PF_PORT_<NAME> (upper case, - as _).  Tries 3 ports when a port
#   is taken; any other failure is a hard error showing the log's tail.
postfix_start() {
	local name=$1 dir etc port= try var fixed=0 role=
	local -a settings=() substs=()
	shift
	case $name in '' | *[!a-z0-9-]* | -*) hard_error "postfix_start: bad instance name '$name' (use a-z, 0-9, -)" ;; esac
	[ -z "${PF_PIDS[$name]:-}" ] || hard_error "postfix_start: instance $name is already running"
	dir=$(postfix_dir "$name")
	etc=$dir/etc
	PF_V6[$name]=0 PF_ADDRS[$name]=127.0.0.1 PF_NETNS[$name]=
	mkdir -p "$etc" "$dir/data" "$dir/queue"
	: >"$dir/master.extra"
	while [ $# -gt 0 ]; do
		case $1 in
		--ipv6)
			have_ipv6 || hard_error "postfix_start $name --ipv6: no IPv6 loopback here (check have_ipv6 and skip)"
			PF_V6[$name]=1
			shift
			;;
		--master) printf '%s\n' "$2" >>"$dir/master.extra"; shift 2 ;;
		--addr) PF_ADDRS[$name]=$2; shift 2 ;;
		--netns) PF_NETNS[$name]=$2; shift 2 ;;
		--port) port=$2 fixed=1; shift 2 ;;
		--role) role=$2; shift 2 ;;
		--subst)
			case $2 in ?*=*) substs+=("$2") ;; *) hard_error "postfix_start $name: --subst wants OLD=NEW, not '$2'" ;; esac
			shift 2
			;;
		*) settings+=("$1"); shift ;;
		esac
	done
	case $role in *[!a-z0-9_-]*) hard_error "postfix_start $name: bad role '$role'" ;; esac
	case ${PF_NETNS[$name]}:${PF_ADDRS[$name]} in
	:127.* | ?*:*) ;;
	*) hard_error "postfix_start $name: --addr ${PF_ADDRS[$name]} is not a 127.0.0.0/8 address (or use --netns)" ;;
	esac
	PF_ROLES[$name]=$role PF_PORTMAP[$name]=
	printf '%s\n' "${substs[@]+"${substs[@]}"}" | grep . >"$dir/role.subst"
	[ -z "$role" ] || pf_role_prepare "$name" "$role"
	# Postfix's daemons run as user postfix: it must reach the queue, and
	# it owns data_directory.  $TMP is mode 700 (mktemp): open it for search.
	chmod go+x "$TMP"
	chmod 755 "$dir" "$etc" "$dir/queue"
	chown postfix: "$dir/data"
	pf_traversable "$dir/queue" ||
		hard_error "postfix_start $name: user postfix cannot reach $dir/queue (a parent directory is not searchable; set TMPDIR)"
	pf_write_main "$name" "${settings[@]+"${settings[@]}"}"
	for try in 1 2 3; do
		if [ -n "$role" ]; then
			pf_role_ports "$name" "$([ "$fixed" = 1 ] && echo "$port")" || break
			port=${PF_PORTMAP[$name]%% *}
			port=${port#*=}
		else
			[ "$fixed" = 1 ] || port=$(free_port) || break
		fi
		if pf_spawn "$name" "$port"; then
			PF_PORTS[$name]=$port
			var=$(pf_var "$name")
			printf -v "$var" '%s' "$port"
			export "${var?}"
			PF_PORT=$port
			export PF_PORT
			return 0
		fi
		[ "$fixed" = 0 ] && grep -q 'Address already in use' "$dir/maillog" "$dir/start.log" 2>/dev/null || break
		echo "# postfix_start $name: port $port taken (try $try)" >&2
		: >"$dir/maillog"
	done
	echo "# postfix_start $name failed; start.log and maillog:" >&2
	sed 's/^/#   /' "$dir/start.log" "$dir/maillog" 2>/dev/null | tail -n 20 >&2
	hard_error "postfix_start $name: Postfix did not start"
}

# postfix_sasl_user NAME USER@REALM PASSWORD - add (or change) a user in
#   the instance's sasldb (etc/sasl/sasldb2, a --role with Cyrus SASL),
#   readable by smtpd (root:postfix 640).  The client logs in as
#   USER@REALM, and that is the sasl_username Postfix reports (Cyrus's
#   canonical name; a login without a realm would get the host's name).
postfix_sasl_user() {
	local name=$1 login=$2 pass=$3 db
	db=$(postfix_confdir "$name")/sasl/sasldb2
	[ -d "${db%/*}" ] || hard_error "postfix_sasl_user $name: no etc/sasl/ (start it with a --role that has Cyrus SASL)"
	case $login in
	?*@?*) ;;
	*) hard_error "postfix_sasl_user $name: '$login' is not USER@REALM" ;;
	esac
	printf '%s' "$pass" | saslpasswd2 -p -c -f "$db" -u "${login##*@}" "${login%@*}" ||
		hard_error "postfix_sasl_user $name $login: saslpasswd2 failed"
	chown root:postfix "$db"
	chmod 640 "$db"
}

# have_ipv6 - the ::1 loopback exists
have_ipv6() {
	grep -qi '^0\{31\}1 .* lo$' /proc/net/if_inet6 2>/dev/null
}

# pf_stop_master NAME - postfix stop, then the master by PID, then stragglers by PID
pf_stop_master() {
	local name=$1 pid p
	pid=${PF_PIDS[$name]:-}
	[ -n "$pid" ] || return 0
	postfix -c "$(postfix_confdir "$name")" stop >/dev/null 2>&1
	stop_pid "$pid"
	if ! wait_until 5 pf_no_processes "$pid"; then
		for p in $(pf_group_pids "$pid"); do
			echo "# postfix_stop $name: process $p still there: KILL" >&2
			kill -KILL "$p" 2>/dev/null
		done
	fi
	PF_PIDS[$name]=
}

# postfix_stop NAME - stop it (postfix stop, then by PID); its files stay
postfix_stop() {
	pf_stop_master "$1"
}

# postfix_stop_all - stop every running instance (done at exit too)
postfix_stop_all() {
	local n
	for n in "${!PF_PIDS[@]}"; do
		[ -n "${PF_PIDS[$n]}" ] && pf_stop_master "$n"
	done
	return 0
}

# postfix_reload NAME - postfix reload; waits (5 s) until the master has logged it
postfix_reload() {
	local name=$1 log before
	log=$(postfix_log "$name")
	before=$(grep -c ' reload -- version' "$log" 2>/dev/null)
	postfix -c "$(postfix_confdir "$name")" reload >/dev/null 2>&1 ||
		hard_error "postfix_reload $name: postfix reload failed"
	wait_until 5 pf_reloaded "$log" "${before:-0}" ||
		echo "# postfix_reload $name: no reload line in the log after 5 s" >&2
	return 0
}

# pf_reloaded LOG COUNT - the log has more than COUNT reload lines
pf_reloaded() {
	[ "$(grep -c ' reload -- version' "$1" 2>/dev/null)" -gt "$2" ]
}

# postfix_conf NAME SETTING... - postconf -e the settings, then reload if it runs
postfix_conf() {
	local name=$1
	shift
	postconf -c "$(postfix_confdir "$name")" -e "$@" ||
		hard_error "postfix_conf $name: postconf -e refused: $*"
	[ -n "${PF_PIDS[$name]:-}" ] && postfix_reload "$name"
	return 0
}

# postfix_master NAME 'master.cf line' - append a service, then reload if it runs
postfix_master() {
	printf '%s\n' "$2" >>"$(postfix_dir "$1")/master.extra"
	printf '%s\n' "$2" >>"$(postfix_confdir "$1")/master.cf"
	[ -n "${PF_PIDS[$1]:-}" ] && postfix_reload "$1"
	return 0
}

# postfix_flush NAME - postqueue -f: try every queued message now
postfix_flush() {
	postqueue -c "$(postfix_confdir "$1")" -f
}

# postfix_queue NAME - the queue as postqueue -j prints it (one JSON object a message; needs the master)
postfix_queue() {
	postqueue -c "$(postfix_confdir "$1")" -j
}

# postfix_queue_count NAME - messages in its queue (maildrop, incoming,
#   active, deferred, hold), counted from the files (works stopped too)
postfix_queue_count() {
	local q
	q="$(postfix_dir "$1")/queue"
	# by name, once: qmgr renames a file from active to deferred after the
	# delivery agent logged status=deferred, and a scan that reads active
	# before the rename and deferred after it sees the file twice
	find "$q/maildrop" "$q/incoming" "$q/active" "$q/deferred" "$q/hold" -type f -printf '%f\n' 2>/dev/null \
		| sort -u | grep -c .
}

# pf_queue_empty NAME - empty in two looks 0.2 s apart (a message moved
#   from deferred to active between two directories' scans is not missed)
pf_queue_empty() {
	[ "$(postfix_queue_count "$1")" = 0 ] || return 1
	sleep 0.2
	[ "$(postfix_queue_count "$1")" = 0 ]
}

# postfix_wait_queue_empty NAME SECONDS - wait until its queue is empty; 1 on timeout
postfix_wait_queue_empty() {
	wait_until "$2" pf_queue_empty "$1"
}

# postfix_queue_ids NAME - queue IDs of the deferred messages, one a line
postfix_queue_ids() {
	find "$(postfix_dir "$1")/queue/deferred" -type f -printf '%f\n' 2>/dev/null
}

# postfix_delete_queue NAME - postsuper -d ALL
postfix_delete_queue() {
	postsuper -c "$(postfix_confdir "$1")" -d ALL >/dev/null 2>&1
}

# pf_log_has LOG ERE
pf_log_has() {
	grep -qE -- "$2" "$1"
}

# postfix_wait_log NAME ERE SECONDS - wait until its log has a line matching ERE; 1 on timeout
#   e.g. postfix_wait_log mx 'status=deferred' 10
postfix_wait_log() {
	wait_until "$3" pf_log_has "$(postfix_log "$1")" "$2"
}

# --- stop everything at exit, before common.sh's cleanup --------------------------
# common.sh's EXIT trap stops registered PIDs and removes $TMP; run
# postfix_stop_all first (keeping the exit status), then whatever the
# trap was (so another library may chain the same way).

pf_on_exit() {
	local rc=$?
	postfix_stop_all
	return "$rc"
}

# pf_chain_exit_trap - make the EXIT trap "pf_on_exit; <the trap it was>"
pf_chain_exit_trap() {
	local prev
	eval "set -- $(trap -p EXIT)"
	prev=${3:-}
	case $prev in *pf_on_exit*) return 0 ;; esac
	trap "pf_on_exit${prev:+; $prev}" EXIT
}
pf_chain_exit_trap
