#!/bin/bash
# test_metrics.sh - the Prometheus endpoints (SPEC "Operations", Metrics):
# policyd.metrics and milter.metrics on loopback ports, scraped with curl
# after known traffic, each counter compared with what was sent.
#
# mhpolicyd, on a real Redis, no DNS (a relay domain whose MX is this
# node, from a warm cache; a call-ahead domain whose dest is a fake SMTP
# server, tests/lib/fakesmtp.py): relay RCPT requests answered DUNNO and
# 5xx (a call-ahead 550), the call-ahead's probes and cache hit, a request
# of another stage, an outbound request without sasl_username (a quota
# refusal), socketmap lookups (OK, NOTFOUND), the connection gauge back at
# 0; Redis stopped (a 4xx, redis_up 0, commands
# unavailable) and back (a reconnect). The server: 200 and its
# Content-Type on /metrics, 404 elsewhere, a 100 KB request header refused
# and the next scrape still served, a second daemon on the same port
# refused at start with the endpoint named, a unix socket served.
#
# mhmilter, driven by miltertest, with a DNS server of ours for SPF and
# small fake scanners (a Python clamd answering INSTREAM and a Python
# spamd answering SYMBOLS: a body with "virus-token" is a virus, one with
# "spam-token" is spam): recipients accepted and refused, messages
# accepted, refused for a virus, refused while streaming (552), discarded
# as spam; scanner results and latency histograms; SPF results; the
# connection gauge back at 0; Redis stopped (a tempfail, errors counted).
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/dns.sh"
need_cmd /usr/bin/python3
need_cmd curl
need_cmd miltertest

POLICYD=${MHPOLICYD:?MHPOLICYD: path of the built mhpolicyd}
MILTER=${MHMILTER:?MHMILTER: path of the built mhmilter}
MHLIST=${MHLIST:?}
WIRE="/usr/bin/python3 $TESTS_LIB/wire.py"

# scrape PORT [PATH] - the page in $TMP/page, the status code in $T_CODE
scrape() {
	T_CODE=$(curl -s -m 5 -o "$TMP/page" -D "$TMP/headers" -w '%{http_code}' "http://127.0.0.1:$1${2:-/metrics}")
}
# value SERIES - its value in the last page ("" when absent)
value() {
	awk -v s="$1" '$1 == s { print $2 }' "$TMP/page"
}
# expect SERIES WANT - one assertion on the last page
expect() {
	assert_eq "$2" "$(value "$1")" "$1"
}

redis_start
DEAD_DNS=$(free_port)
cat >"$TMP/zone" <<'EOF'
example ZONE
example.org        TXT "v=spf1 ip4:192.0.2.0/24 -all"
fail.example       TXT "v=spf1 ip4:203.0.113.1 -all"
EOF
dns_start "$TMP/zone"

# ===================================================================== mhpolicyd ===
PPORT=$(free_port)
SPORT=$(free_port)
MPORT=$(free_port)
SMTP_PORT=$(free_port)
CONF=$TMP/policyd.conf
mhkit_conf_write "$CONF" "policyd = { listen = \"inet:127.0.0.1:$PPORT\"; socketmap = \"inet:127.0.0.1:$SPORT\"; metrics = \"inet:127.0.0.1:$MPORT\"; };
node = { hostnames = [\"relay1.mhkit.test\"]; };
dns = { servers = [\"127.0.0.1@$DEAD_DNS\"]; timeout = \"500ms\"; };"
mh() { "$MHLIST" -c "$CONF" "$@" >/dev/null 2>&1 || fail "mhlist $*"; }
mh domain add relay.test --service relay --dest mx.customer.test --port 2525 --callahead off
mh domain add ca.test --service relay --dest 127.0.0.1 --port "$SMTP_PORT" --callahead on
# warm MX caches: this node is the primary of both
redis_cli redis SET 'mh:{relay.test}:mx' "10 relay1.mhkit.test" EX 3600 >/dev/null
redis_cli redis SET 'mh:{ca.test}:mx' "10 relay1.mhkit.test" EX 3600 >/dev/null

start_bg fakesmtp /usr/bin/python3 "$TESTS_LIB/fakesmtp.py" --host 127.0.0.1 --port "$SMTP_PORT" --mode ok \
	--log "$TMP/fake.smtp.log"
wait_until 10 test -s "$TMP/fake.smtp.log.ready" || hard_error "fakesmtp: $(cat "$TMP/fakesmtp.log")"
start_bg mhpolicyd "$POLICYD" -c "$CONF" -f
PID=$BG_PID
wait_until 10 grep -q "ready" "$TMP/mhpolicyd.log" || hard_error "mhpolicyd did not start: $(cat "$TMP/mhpolicyd.log")"
assert_contains "$(cat "$TMP/mhpolicyd.log")" "metrics: serving GET /metrics on inet:127.0.0.1:$MPORT" "mhpolicyd: the endpoint logged"

scrape "$MPORT"
assert_eq 200 "$T_CODE" "mhpolicyd: GET /metrics: 200"
assert_contains "$(tr -d '\r' <"$TMP/headers")" "Content-Type: text/plain; version=0.0.4" "mhpolicyd: the exposition format's Content-Type"
expect 'mhpolicyd_policy_requests_total{kind="rcpt",reply="dunno"}' 0
assert_contains "$(cat "$TMP/page")" "# TYPE mhpolicyd_callahead_probe_seconds histogram" "mhpolicyd: TYPE lines"
wait_until 5 sh -c "curl -s http://127.0.0.1:$MPORT/metrics | grep -qx 'mhpolicyd_redis_up 1'"
scrape "$MPORT"
expect mhpolicyd_redis_up 1

policy() {	# policy WANT RCPT [SENDER] - one RCPT request and its action
	run $WIRE policy 127.0.0.1 "$PPORT" "$2" 192.0.2.1 "${3:-a@sender.test}"
	assert_match "$(head -n1 <<<"$T_OUT")" "$1" "policy <$2> from <${3:-a@sender.test}>: $1"
}
for i in 1 2 3; do
	policy '^action=DUNNO$' "bob$i@relay.test"
done
policy '^action=DUNNO$' alice@ca.test			# probed: accepted
policy '^action=550 ' unknown1@ca.test			# probed: 550
policy '^action=550 ' unknown1@ca.test			# the cached verdict
run $WIRE send 127.0.0.1 "$PPORT" 'request=smtpd_access_policy\nprotocol_state=END-OF-MESSAGE\nrecipient_count=1\n\n' --timeout 1
assert_contains "$T_OUT" "action=DUNNO" "END-OF-MESSAGE: DUNNO"
run $WIRE send 127.0.0.1 "$PPORT" 'request=smtpd_access_policy\nprotocol_state=RCPT\npolicy_context=outbound\nrecipient=x@far.example\nsender=a@b.example\nqueue_id=ABC123\n\n' --timeout 1
assert_match "$T_OUT" "action=5[0-9][0-9] " "outbound without sasl_username: refused"
ns() { printf '%d:%s,' "${#1}" "$1"; }
run $WIRE send 127.0.0.1 "$SPORT" "$(ns 'relay_domains relay.test')$(ns 'relay_domains nowhere.test')" --timeout 1
assert_contains "$T_OUT" "OK relay.test" "socketmap: OK"
assert_contains "$T_OUT" "NOTFOUND" "socketmap: NOTFOUND"

conns_closed() { curl -s "http://127.0.0.1:$MPORT/metrics" | grep -qx 'mhpolicyd_connections{kind="policy"} 0'; }
wait_until 5 conns_closed
scrape "$MPORT"
expect 'mhpolicyd_policy_requests_total{kind="rcpt",reply="dunno"}' 4
expect 'mhpolicyd_policy_requests_total{kind="rcpt",reply="5xx"}' 2
expect 'mhpolicyd_policy_requests_total{kind="rcpt",reply="4xx"}' 0
expect 'mhpolicyd_policy_requests_total{kind="other",reply="dunno"}' 1
expect 'mhpolicyd_policy_requests_total{kind="outbound_rcpt",reply="5xx"}' 1
expect 'mhpolicyd_quota_refusals_total{reason="no_service"}' 1
expect 'mhpolicyd_quota_refusals_total{reason="over_quota"}' 0
expect 'mhpolicyd_socketmap_requests_total{reply="ok"}' 1
expect 'mhpolicyd_socketmap_requests_total{reply="notfound"}' 1
expect 'mhpolicyd_callahead_checks_total{source="probe",verdict="accept"}' 1
expect 'mhpolicyd_callahead_checks_total{source="probe",verdict="reject"}' 1
expect 'mhpolicyd_callahead_checks_total{source="cache",verdict="reject"}' 1
expect 'mhpolicyd_callahead_probe_seconds_count{outcome="accept"}' 1
expect 'mhpolicyd_callahead_probe_seconds_count{outcome="reject"}' 1
expect 'mhpolicyd_callahead_probe_seconds_bucket{outcome="reject",le="+Inf"}' 1
expect 'mhpolicyd_callahead_probe_seconds_bucket{outcome="reject",le="60"}' 1
expect 'mhpolicyd_callahead_probe_seconds_count{outcome="inconclusive"}' 0
expect 'mhpolicyd_connections{kind="policy"}' 0
expect 'mhpolicyd_connections{kind="socketmap"}' 0
expect mhpolicyd_redis_errors_total 0

# the server itself
scrape "$MPORT" /other
assert_eq 404 "$T_CODE" "mhpolicyd: another path: 404"
scrape "$MPORT" /metrics/x
assert_eq 404 "$T_CODE" "mhpolicyd: /metrics/x: 404"
T_CODE=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST -d x "http://127.0.0.1:$MPORT/metrics")
check "mhpolicyd: POST refused ($T_CODE)" test "$T_CODE" != 200
head -c 100000 /dev/zero | tr '\0' 'a' >"$TMP/big"
T_CODE=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "X-Big: $(cat "$TMP/big")" "http://127.0.0.1:$MPORT/metrics")
check "mhpolicyd: a 100 KB request header refused ($T_CODE)" test "$T_CODE" != 200
scrape "$MPORT"
assert_eq 200 "$T_CODE" "mhpolicyd: served again after the big header"
expect 'mhpolicyd_policy_requests_total{kind="rcpt",reply="dunno"}' 4
policy '^action=DUNNO$' bob@relay.test

# Redis gone: the request is deferred, and the scrape says why
redis_stop
redis_down() { curl -s "http://127.0.0.1:$MPORT/metrics" | grep -qx 'mhpolicyd_redis_up 0'; }
wait_until 10 redis_down
policy '^action=451 ' bob@relay.test
scrape "$MPORT"
expect mhpolicyd_redis_up 0
expect 'mhpolicyd_policy_requests_total{kind="rcpt",reply="4xx"}' 1
check "Redis down: mhpolicyd_redis_unavailable_total counts ($(value mhpolicyd_redis_unavailable_total))" \
	test "$(value mhpolicyd_redis_unavailable_total)" -ge 1
redis_restart
redis_up() { curl -s "http://127.0.0.1:$MPORT/metrics" | grep -qx 'mhpolicyd_redis_up 1'; }
wait_until 10 redis_up
scrape "$MPORT"
expect mhpolicyd_redis_up 1
expect mhpolicyd_redis_reconnects_total 1
check "mhpolicyd never died" pid_alive "$PID"

# a second daemon on the same metrics port: a clear error at start
mhkit_conf_write "$TMP/clash.conf" "policyd = { listen = \"inet:127.0.0.1:$(free_port)\"; socketmap = \"inet:127.0.0.1:$(free_port)\"; metrics = \"inet:127.0.0.1:$MPORT\"; };
dns = { servers = [\"127.0.0.1@$DEAD_DNS\"]; };"
run timeout 10 "$POLICYD" -c "$TMP/clash.conf" -f
check "the port taken: mhpolicyd exits non-zero ($T_RC)" test "$T_RC" != 0 -a "$T_RC" != 124
assert_contains "$T_ERR" "policyd.metrics: inet:127.0.0.1:$MPORT: cannot listen: Address already in use" "the port taken: the setting and endpoint named"

# a unix socket
mhkit_conf_write "$TMP/unix.conf" "policyd = { listen = \"inet:127.0.0.1:$(free_port)\"; socketmap = \"inet:127.0.0.1:$(free_port)\"; metrics = \"unix:$TMP/metrics.sock\"; };
dns = { servers = [\"127.0.0.1@$DEAD_DNS\"]; };"
start_bg unixd "$POLICYD" -c "$TMP/unix.conf" -f
wait_until 10 test -S "$TMP/metrics.sock"
T_CODE=$(curl -s -m 5 --unix-socket "$TMP/metrics.sock" -o "$TMP/page" -w '%{http_code}' http://localhost/metrics)
assert_eq 200 "$T_CODE" "metrics on a unix socket: 200"
expect 'mhpolicyd_connections{kind="policy"}' 0
stop_pid "$BG_PID" TERM

stop_pid "$PID" TERM
assert_contains "$(cat "$TMP/mhpolicyd.log")" "stopped:" "mhpolicyd: SIGTERM, clean exit with the metrics thread"
T_CODE=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/metrics")
assert_eq 000 "$T_CODE" "mhpolicyd stopped: the endpoint is closed"

# ====================================================================== mhmilter ===
CLAMD_PORT=$(free_port)
SPAMD_PORT=$(free_port)
cat >"$TMP/scanners.py" <<'PY'
# fake clamd (INSTREAM) and spamd (SYMBOLS) on two loopback ports, a thread a connection
import socket, struct, sys, threading

def clamd(c):
    buf = b""
    while b"\0" not in buf:
        buf += c.recv(64)
    data, buf = b"", buf[buf.index(b"\0") + 1:]
    while True:
        while len(buf) < 4:
            buf += c.recv(65536)
        n = struct.unpack("!I", buf[:4])[0]
        buf = buf[4:]
        if n == 0:
            break
        while len(buf) < n:
            buf += c.recv(65536)
        data, buf = data + buf[:n], buf[n:]
    c.sendall(b"stream: Mhkit.Test FOUND\0" if b"virus-token" in data else b"stream: OK\0")

def spamd(c):
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += c.recv(4096)
    head, body = buf.split(b"\r\n\r\n", 1)
    n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
    while len(body) < n:
        body += c.recv(65536)
    spam = b"spam-token" in body
    tests = b"MHKIT_T"
    c.sendall(b"SPAMD/1.1 0 EX_OK\r\nContent-length: %d\r\nSpam: %s ; %s / 5.0\r\n\r\n%s"
              % (len(tests), b"True" if spam else b"False", b"20.0" if spam else b"1.0", tests))

def serve(port, fn):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    while True:
        c, _ = s.accept()
        c.settimeout(10)
        def one(c=c):
            try:
                fn(c)
            except Exception:
                pass
            c.close()
        threading.Thread(target=one, daemon=True).start()

threading.Thread(target=serve, args=(int(sys.argv[1]), clamd), daemon=True).start()
threading.Thread(target=serve, args=(int(sys.argv[2]), spamd), daemon=True).start()
open(sys.argv[3], "w").write("ready\n")
threading.Event().wait()
PY
start_bg scanners /usr/bin/python3 "$TMP/scanners.py" "$CLAMD_PORT" "$SPAMD_PORT" "$TMP/scanners.ready"
wait_until 10 test -s "$TMP/scanners.ready" || hard_error "fake scanners: $(cat "$TMP/scanners.log")"

LPORT=$(free_port)
MMPORT=$(free_port)
MCONF=$TMP/milter.conf
mhkit_conf_write "$MCONF" "dns = { servers = [\"127.0.0.1@$DNS_PORT\"]; timeout = \"2s\"; };
milter = { listen = \"inet:127.0.0.1:$LPORT\"; metrics = \"inet:127.0.0.1:$MMPORT\"; authserv_id = \"mx.metrics.test\";
  clamd = \"inet:127.0.0.1:$CLAMD_PORT\"; spamd = \"inet:127.0.0.1:$SPAMD_PORT\"; };"
mm() { "$MHLIST" -c "$MCONF" "$@" >/dev/null 2>&1 || fail "mhlist $*"; }
mm domain add example.com --service relay --dest mail.customer.example --userlist on --max_size 20000
printf 'alice\n' >"$TMP/users"
mm users import example.com "$TMP/users"

start_bg mhmilter "$MILTER" -c "$MCONF" -f
MPID=$BG_PID
wait_until 10 grep -q "ready" "$TMP/mhmilter.log" || hard_error "mhmilter did not start: $(cat "$TMP/mhmilter.log")"
assert_contains "$(cat "$TMP/mhmilter.log")" "metrics: serving GET /metrics on inet:127.0.0.1:$MMPORT" "mhmilter: the endpoint logged"

cat >"$TMP/t.lua" <<LUA
local n = 0
local function check(name, ok)
  n = n + 1
  print((ok and "ok " or "not ok ") .. n .. " - " .. name)
end
local function session(from)
  local conn = mt.connect("inet:$LPORT@127.0.0.1", 5, 0.2)
  assert(conn, "cannot connect to mhmilter")
  assert(mt.conninfo(conn, "client.example", "192.0.2.10") == nil)
  assert(mt.helo(conn, "client.example") == nil)
  assert(mt.mailfrom(conn, from) == nil)
  return conn
end
local function message(conn, body)
  assert(mt.header(conn, "Subject", "metrics") == nil)
  assert(mt.eoh(conn) == nil)
  assert(mt.bodystring(conn, body) == nil)
  assert(mt.eom(conn) == nil)
  return mt.getreply(conn)
end

local conn = session("<sender@example.org>")
assert(mt.rcptto(conn, "<alice@example.com>") == nil)
check("alice: continue", mt.getreply(conn) == SMFIR_CONTINUE)
assert(mt.rcptto(conn, "<carol@example.com>") == nil)
check("carol, not on the list: a reply code", mt.getreply(conn) == SMFIR_REPLYCODE)
check("a clean message: continue", message(conn, "hello\r\n") == SMFIR_CONTINUE)
mt.disconnect(conn)

conn = session("<x@fail.example>")
assert(mt.rcptto(conn, "<alice@example.com>") == nil)
check("SPF fail (tag): continue", mt.getreply(conn) == SMFIR_CONTINUE)
check("a virus: a reply code", message(conn, "virus-token\r\n") == SMFIR_REPLYCODE)
mt.disconnect(conn)

conn = session("<sender@example.org>")
assert(mt.rcptto(conn, "<alice@example.com>") == nil)
check("spam past the discard limit: discard", message(conn, "spam-token\r\n") == SMFIR_DISCARD)
mt.disconnect(conn)

conn = session("<sender@example.org>")
assert(mt.rcptto(conn, "<alice@example.com>") == nil)
assert(mt.header(conn, "Subject", "big") == nil)
assert(mt.eoh(conn) == nil)
assert(mt.bodystring(conn, string.rep("x", 25000)) == nil)
check("past max_size while streaming: a reply code", mt.getreply(conn) == SMFIR_REPLYCODE)
mt.disconnect(conn)
LUA
run timeout 60 miltertest -s "$TMP/t.lua"
while IFS= read -r line; do
	case $line in
	"ok "*) pass "${line#ok * - }" ;;
	"not ok "*) fail "${line#not ok * - }" ;;
	esac
done < <(printf '%s\n' "$T_OUT" | grep -E '^(not )?ok ')
assert_eq 0 "$T_RC" "miltertest ran the whole script (exit 0)"
[ "$T_RC" = 0 ] || printf "%s\n" "$T_ERR" | sed "s/^/#   /" | tail -n 20
assert_eq 7 "$(printf '%s\n' "$T_OUT" | grep -cE '^(not )?ok ')" "every check of the script reported"

mconns_closed() { curl -s "http://127.0.0.1:$MMPORT/metrics" | grep -qx 'mhmilter_connections 0'; }
wait_until 5 mconns_closed
scrape "$MMPORT"
assert_eq 200 "$T_CODE" "mhmilter: GET /metrics: 200"
assert_contains "$(tr -d '\r' <"$TMP/headers")" "Content-Type: text/plain; version=0.0.4" "mhmilter: the exposition format's Content-Type"
expect mhmilter_connections 0
expect mhmilter_connections_total 4
expect 'mhmilter_recipients_total{reply="accept"}' 4
expect 'mhmilter_recipients_total{reply="reject"}' 1
expect 'mhmilter_recipients_total{reply="tempfail"}' 0
expect 'mhmilter_messages_total{reply="accept"}' 1
expect 'mhmilter_messages_total{reply="reject"}' 2
expect 'mhmilter_messages_total{reply="discard"}' 1
expect 'mhmilter_messages_total{reply="tempfail"}' 0
expect 'mhmilter_clamd_results_total{result="clean"}' 2
expect 'mhmilter_clamd_results_total{result="virus"}' 1
expect 'mhmilter_clamd_results_total{result="error"}' 0
expect 'mhmilter_clamd_seconds_count' 3
expect 'mhmilter_clamd_seconds_bucket{le="+Inf"}' 3
expect 'mhmilter_spamd_results_total{result="clean"}' 1
expect 'mhmilter_spamd_results_total{result="spam"}' 1
expect 'mhmilter_spamd_results_total{result="error"}' 0
expect 'mhmilter_spamd_seconds_count' 2
expect 'mhmilter_spf_results_total{result="pass"}' 3
expect 'mhmilter_spf_results_total{result="fail"}' 1
expect 'mhmilter_cache_lookups_total{result="hit"}' 2
expect 'mhmilter_cache_lookups_total{result="miss"}' 3
expect mhmilter_redis_errors_total 0
scrape "$MMPORT" /
assert_eq 404 "$T_CODE" "mhmilter: another path: 404"
T_CODE=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "X-Big: $(cat "$TMP/big")" "http://127.0.0.1:$MMPORT/metrics")
check "mhmilter: a 100 KB request header refused ($T_CODE)" test "$T_CODE" != 200
scrape "$MMPORT"
assert_eq 200 "$T_CODE" "mhmilter: served again after the big header"

# Redis gone: the lookups fail, and the scrape says so
redis_stop
cat >"$TMP/down.lua" <<LUA
local conn = mt.connect("inet:$LPORT@127.0.0.1", 5, 0.2)
assert(mt.conninfo(conn, "client.example", "192.0.2.10") == nil)
assert(mt.mailfrom(conn, "<sender@example.org>") == nil)
assert(mt.rcptto(conn, "<alice@example.com>") == nil)
mt.disconnect(conn)
LUA
run timeout 30 miltertest -s "$TMP/down.lua"
scrape "$MMPORT"
check "Redis down: mhmilter_redis_errors_total counts ($(value mhmilter_redis_errors_total))" test "$(value mhmilter_redis_errors_total)" -ge 1
expect 'mhmilter_recipients_total{reply="tempfail"}' 1

check "mhmilter never died" pid_alive "$MPID"
stop_pid "$MPID" TERM
assert_contains "$(cat "$TMP/mhmilter.log")" "stopped" "mhmilter: SIGTERM, clean exit with the metrics thread"

done_testing
