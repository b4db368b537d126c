#!/bin/bash
# test_milter_alone.sh - mhmilter by itself, driven by miltertest (the
# milter protocol without an MTA) against a real Redis: the reply to each
# RCPT (miltertest sees the code a filter asks for, SMFIR_REPLYCODE, not
# its text: the texts are checked through Postfix in
# test_milter_lists.sh), the size limit while the body streams, and the
# recipient a message loses at its end (MT_RCPTDELETE), SPF's headers
# (MT_HDRINSERT, with a real DNS server on a loopback port as dns.servers)
# and a forged Authentication-Results removed. The Lua script
# prints one "ok"/"not ok" line a check, as the shell tests do. (No
# mt.data: mhmilter has no DATA callback, so libmilter tells the MTA not
# to send it, and miltertest's mt.data then ends the script.)
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/dns.sh"
need_cmd miltertest

MILTER=${MHMILTER:?MHMILTER: path of the built mhmilter}
MHLIST=${MHLIST:?}

cat >"$TMP/zone" <<'EOF'
example ZONE
example.org        TXT "v=spf1 ip4:192.0.2.0/24 -all"
fail.example       TXT "v=spf1 ip4:203.0.113.1 -all"
client.example     TXT "v=spf1 ip4:192.0.2.10 -all"
EOF
dns_start "$TMP/zone"		# the client 192.0.2.10 is not loopback: libspf2 asks DNS
redis_start
MPORT=$(free_port)
CONF=$TMP/mhkit.conf
mhkit_conf_write "$CONF" "dns = { servers = [\"127.0.0.1@$DNS_PORT\"]; timeout = \"2s\"; };
milter = { listen = \"inet:127.0.0.1:$MPORT\"; authserv_id = \"mx.alone.test\"; };"
mh() { "$MHLIST" -c "$CONF" "$@" >/dev/null || fail "mhlist $*"; }
mh domain add example.com --service relay --dest mail.customer.example --userlist on
mh domain add example.net --service relay --dest mail.customer.example --max_size 20000
printf 'alice\n' >"$TMP/users"
mh users import example.com "$TMP/users"
mh domain add example.info --service relay --dest mail.customer.example --spf reject
mh blacklist add --global @spam.example

start_bg mhmilter "$MILTER" -c "$CONF" -f -v
wait_until 10 grep -q "ready" "$TMP/mhmilter.log" || hard_error "mhmilter did not start: $(cat "$TMP/mhmilter.log")"

cat >"$TMP/t.lua" <<LUA
local n = 0
local function check(name, ok)
  n = n + 1
  print((ok and "ok " or "not ok ") .. n .. " - " .. name)
end
-- session FROM [SIZE] - a connection from 192.0.2.10, MAIL FROM done
local function session(from, size)
  local conn = mt.connect("inet:$MPORT@127.0.0.1", 5, 0.2)
  assert(conn, "cannot connect to mhmilter")
  assert(mt.conninfo(conn, "client.example", "192.0.2.10") == nil)
  assert(mt.helo(conn, "client.example") == nil)
  mt.macro(conn, SMFIC_MAIL, "i", "TESTQID")
  if size then
    assert(mt.mailfrom(conn, from, "SIZE=" .. size) == nil)
  else
    assert(mt.mailfrom(conn, from) == nil)
  end
  return conn
end

local conn = session("<sender@example.org>")
assert(mt.rcptto(conn, "<alice@example.com>") == nil)
check("a user on the list: continue", mt.getreply(conn) == SMFIR_CONTINUE)
assert(mt.rcptto(conn, "<carol@example.com>") == nil)
check("a user not on the list: a reply code (550 5.1.1 through Postfix)", mt.getreply(conn) == SMFIR_REPLYCODE)
assert(mt.rcptto(conn, "<x@unknown.example>") == nil)
check("a domain that is not configured: continue (not the milter's to judge)", mt.getreply(conn) == SMFIR_CONTINUE)
mt.disconnect(conn)

conn = session("<x@spam.example>")
assert(mt.rcptto(conn, "<alice@example.com>") == nil)
check("a blacklisted sender: a reply code", mt.getreply(conn) == SMFIR_REPLYCODE)
mt.disconnect(conn)

conn = session("<sender@example.org>", "30000")
assert(mt.rcptto(conn, "<bob@example.net>") == nil)
check("SIZE= above the domain's limit: a reply code", mt.getreply(conn) == SMFIR_REPLYCODE)
assert(mt.rcptto(conn, "<alice@example.com>") == nil)
check("...another domain's recipient: continue", mt.getreply(conn) == SMFIR_CONTINUE)
mt.disconnect(conn)

conn = session("<sender@example.org>")
assert(mt.rcptto(conn, "<bob@example.net>") == nil)
assert(mt.header(conn, "Subject", "big") == nil)
assert(mt.eoh(conn) == nil)
assert(mt.bodystring(conn, string.rep("x", 15000)) == nil)
check("a body under the limit: continue", mt.getreply(conn) == SMFIR_CONTINUE)
assert(mt.bodystring(conn, string.rep("x", 6000)) == nil)
check("the body passing the limit: a reply code at once", mt.getreply(conn) == SMFIR_REPLYCODE)
mt.disconnect(conn)

conn = session("<sender@example.org>")
assert(mt.rcptto(conn, "<bob@example.net>") == nil)
assert(mt.rcptto(conn, "<alice@example.com>") == nil)
assert(mt.header(conn, "Subject", "two domains") == nil)
assert(mt.eoh(conn) == nil)
assert(mt.bodystring(conn, string.rep("y", 30000)) == nil)
check("two domains, the body past one's limit: continue", mt.getreply(conn) == SMFIR_CONTINUE)
assert(mt.eom(conn) == nil)
check("...at the end: the smaller domain's recipient removed", mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.net>"))
check("...the other one kept", not mt.eom_check(conn, MT_RCPTDELETE, "<alice@example.com>"))
check("...and the message accepted", mt.getreply(conn) == SMFIR_CONTINUE)
mt.disconnect(conn)

conn = session("<sender@example.org>")
assert(mt.rcptto(conn, "<alice@example.com>") == nil)
assert(mt.header(conn, "Authentication-Results", "mx.alone.test; spf=pass smtp.mailfrom=forged@example.org") == nil)
assert(mt.header(conn, "Subject", "spf") == nil)
assert(mt.eoh(conn) == nil)
assert(mt.bodystring(conn, "hello\r\n") == nil)
assert(mt.eom(conn) == nil)
check("SPF pass: Received-SPF inserted", mt.eom_check(conn, MT_HDRINSERT, "Received-SPF"))
check("SPF pass: Authentication-Results inserted, exact",
      mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results", "mx.alone.test; spf=pass smtp.mailfrom=sender@example.org"))
check("the forged Authentication-Results in our name removed", mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results"))
check("...and the message accepted", mt.getreply(conn) == SMFIR_CONTINUE)
mt.disconnect(conn)

conn = session("<x@fail.example>")
assert(mt.rcptto(conn, "<bob@example.info>") == nil)
check("SPF fail, domain with spf reject: a reply code (550 5.7.23 through Postfix)", mt.getreply(conn) == SMFIR_REPLYCODE)
assert(mt.rcptto(conn, "<alice@example.com>") == nil)
check("...a spf tag domain's recipient: continue", mt.getreply(conn) == SMFIR_CONTINUE)
assert(mt.header(conn, "Subject", "spf fail") == nil)
assert(mt.eoh(conn) == nil)
assert(mt.eom(conn) == nil)
check("...tagged fail", mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results", "mx.alone.test; spf=fail smtp.mailfrom=x@fail.example"))
check("...no header removed", not mt.eom_check(conn, MT_HDRDELETE))
mt.disconnect(conn)

conn = session("<>")
assert(mt.rcptto(conn, "<alice@example.com>") == nil)
assert(mt.header(conn, "Subject", "bounce") == nil)
assert(mt.eoh(conn) == nil)
assert(mt.eom(conn) == nil)
check("null sender: the HELO identity checked",
      mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results", "mx.alone.test; spf=pass smtp.helo=client.example"))
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
assert_eq 21 "$(printf '%s\n' "$T_OUT" | grep -cE '^(not )?ok ')" "every check of the script reported"
assert_contains "$(cat "$TMP/mhmilter.log")" "TESTQID: removed recipient <bob@example.net>" "the removal logged with the queue ID"
check "mhmilter still running" pid_alive "$BG_PID"

done_testing
