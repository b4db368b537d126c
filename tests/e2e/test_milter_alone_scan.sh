#!/bin/bash
# test_milter_alone_scan.sh - mhmilter's spam and virus verdicts, driven by
# miltertest alone (no Postfix) against a real Redis, a real spamd and a
# real clamd: at the end of each message, exactly what the milter asks of
# the MTA (headers added, changed or deleted, recipients deleted, the SMTP
# reply and the final answer: continue, discard, or a reply code).
#
# spamd has test rules of known scores added to SpamAssassin's own
# (tests/lib/spamd.sh: no network, no learning):
#   MHKIT_A 2.9 ("mhkit-token-a"), MHKIT_B 3.0 ("mhkit-token-b"), MHKIT_C 4.0 ("mhkit-token-c").
# A plain message gives the baseline score B and rule list (what the stock
# rules give it, measured first, twice); the limits are then set relative
# to B, as test_milter_spam.sh does: example.com tag B+3.0 discard B+7.0;
# example.net tag B+3.0 discard 100; example.org as example.com with
# discard_action reject. X-Spam-Status must be exactly "Yes|No, score=S
# tag=T discard=D tests=" and a sorted rule list holding the test rules and
# the baseline's (stock rules of no score, such as MSGID_SHORT or
# TVD_SPACE_RATIO, come and go with the text, so the list is not compared
# whole), folded as smfi_addheader allows ("\n\t" after a comma, lines of
# at most 78 with the name).
# clamd has a signature database the test writes (tests/lib/clamd.sh).
#
# Phases, each one miltertest script (one "ok"/"not ok" line a check,
# relayed by the shell, as test_milter_alone.sh does; no mt.data: mhmilter
# has no DATA callback): the baseline; the verdicts; spamd stopped
# (on_scanner_error = accept -> X-Spam-Status: Unchecked); mhmilter
# restarted with on_scanner_error = tempfail (451 4.7.1).
# The client is 127.0.0.1 and the domains say `spf off`: no DNS at all.
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"
need_cmd miltertest
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/spamd.sh"
. "$TESTS_LIB/clamd.sh"

MILTER=${MHMILTER:?MHMILTER: path of the built mhmilter}
MHLIST=${MHLIST:?}

spamd_start 'body MHKIT_A /mhkit-token-a/' 'score MHKIT_A 2.9' 'describe MHKIT_A test rule' \
	'body MHKIT_B /mhkit-token-b/' 'score MHKIT_B 3.0' 'describe MHKIT_B test rule' \
	'body MHKIT_C /mhkit-token-c/' 'score MHKIT_C 4.0' 'describe MHKIT_C test rule'
clamd_start
clamd_mail_with_signature "$TMP/virus.eml"
redis_start

MPORT=$(free_port)
CONF=$TMP/mhkit.conf
write_conf() {	# write_conf ON_SCANNER_ERROR
	mhkit_conf_write "$CONF" "milter = { listen = \"inet:127.0.0.1:$MPORT\"; spamd = \"inet:127.0.0.1:$SPAMD_PORT\"; clamd = \"unix:$CLAMD_SOCK\"; on_scanner_error = \"$1\"; };"
}
write_conf accept
mh() { "$MHLIST" -c "$CONF" "$@" >/dev/null 2>&1 || fail "mhlist $*"; }
mh domain add example.com --service relay --dest mail.customer.example --spf off
mh domain add example.net --service relay --dest mail.customer.example --spf off
mh domain add example.org --service relay --dest mail.customer.example --spf off
mh domain add example.info --service relay --dest mail.customer.example --spf off --spam off --virus off

MILTER_LOG=
start_milter() {	# start_milter LOGNAME
	start_bg "$1" "$MILTER" -c "$CONF" -f -v
	MILTER_PID=$BG_PID MILTER_LOG=$TMP/$1.log
	wait_until 10 grep -q "ready" "$MILTER_LOG" || hard_error "mhmilter did not start: $(cat "$MILTER_LOG")"
}
start_milter mhmilter

# --- the Lua side: one file of helpers, put before each phase's script -----------
cat >"$TMP/prelude.lua" <<'LUA'
-- globals from miltertest -D: MPORT, and per phase B, BT (baseline rule list), T, D, ...
BT = BT or ""
mt.set_timeout(60)		-- a spamd scan on a loaded machine: generous, never a speed check
local n = 0
local function check(name, ok, diag)
  n = n + 1
  print((ok and "ok " or "not ok ") .. n .. " - " .. name)
  if not ok and diag then print("#   " .. tostring(diag):gsub("\n", "\\n"):gsub("\t", "\\t")) end
end
local function esc(v) return v == nil and "(none)" or (v:gsub("\n", "\\n"):gsub("\t", "\\t")) end
-- message(ID, RCPTS, HEADERS, BODY) - one message from 127.0.0.1 to its end (queue ID
-- "Q" .. ID); the connection
local function message(id, rcpts, headers, body)
  local conn = mt.connect("inet:" .. MPORT .. "@127.0.0.1", 50, 0.2)
  assert(conn, "cannot connect to mhmilter")
  assert(mt.conninfo(conn, "localhost", "127.0.0.1") == nil)
  assert(mt.helo(conn, "client.example") == nil)
  mt.macro(conn, SMFIC_MAIL, "i", "Q" .. id)
  assert(mt.mailfrom(conn, "<sender@example.org>") == nil)
  for _, r in ipairs(rcpts) do
    assert(mt.rcptto(conn, r) == nil)
    assert(mt.getreply(conn) == SMFIR_CONTINUE, "RCPT " .. r .. " not continued")
  end
  for _, h in ipairs(headers) do assert(mt.header(conn, h[1], h[2]) == nil) end
  assert(mt.eoh(conn) == nil)
  assert(mt.bodystring(conn, body) == nil)
  assert(mt.eom(conn) == nil)
  return conn
end
-- no_reply(CONN) - the milter asked for no SMTP reply at the end of the message:
-- miltertest stops reading at SMFIR_REPLYCODE and keeps it as the answer. (Not
-- MT_SMTPREPLY with fewer than its three values: miltertest 1.6.0 then compares
-- against text ending in "(null)", so that form is never true.)
local function no_reply(conn) return mt.getreply(conn) ~= SMFIR_REPLYCODE end
-- std(ID, [extra headers]) - From, To, Subject "message ID", Date, Message-ID, then the extra ones
local function std(id, extra)
  local h = {{"From", "Sender <sender@example.org>"}, {"To", "Bob <bob@example.com>"},
             {"Subject", "message " .. id}, {"Date", os.date("!%a, %d %b %Y %H:%M:%S +0000")},
             {"Message-ID", "<" .. id .. "@alone-scan.test>"}}
  for _, x in ipairs(extra or {}) do h[#h + 1] = x end
  return h
end
-- folded_ok(V) - an X-Spam-Status value folded as smfi_addheader allows: lines
-- (with "X-Spam-Status: ") of at most 78 bytes, "\n\t" after a comma only, no CR
local function folded_ok(v)
  if v == nil or v:find("\r") or v:find("[^,]\n") or v:find("\n[^\t]") then return false end
  for line in ("X-Spam-Status: " .. v .. "\n"):gmatch("([^\n]*)\n") do
    if #line > 78 then return false end
  end
  return true
end
-- eml(FILE) - a CRLF message file (no folded headers) as headers {{name, value}...} and body
local function eml(file)
  local f = assert(io.open(file, "rb"))
  local raw = f:read("*a")
  f:close()
  local hpart, body = raw:match("^(.-)\r\n\r\n(.*)$")
  local h = {}
  for line in (hpart .. "\r\n"):gmatch("(.-)\r\n") do
    local hn, hv = line:match("^([^:]+):%s*(.*)$")
    h[#h + 1] = {hn, hv}
  end
  return h, body
end
local function unfold(v) return (v:gsub("\n\t", "")) end
-- sorted(LIST) - the comma list sorted as spamd sorts it (byte order)
local function sorted(list)
  local t = {}
  for r in list:gmatch("[^,]+") do t[#t + 1] = r end
  table.sort(t)
  return table.concat(t, ",")
end
-- has(LIST, RULE) - RULE is in the comma list
local function has(list, rule) return ("," .. list .. ","):find("," .. rule .. ",", 1, true) ~= nil end
-- status_is(CONN, NAME, PREFIX, RULE...) - our X-Spam-Status is exactly PREFIX
-- ("Yes, score=S tag=T discard=D tests=") and a rule list: sorted names, each of
-- RULEs and of the baseline's among them (SpamAssassin's stock rules of no score,
-- such as MSGID_SHORT, may come and go with the text: the list is not compared
-- whole); and it is folded right
local function status_is(conn, name, prefix, ...)
  local got = mt.getheader(conn, "X-Spam-Status", 0)
  local ok = got ~= nil and got:sub(1, #prefix) == prefix
  local tests = ok and unfold(got:sub(#prefix + 1)) or ""
  ok = ok and tests:match("^[A-Z0-9_]+[A-Z0-9_,]*$") ~= nil and not tests:find(",,")
       and not tests:find(",$") and tests == sorted(tests)
  for _, r in ipairs({...}) do ok = ok and has(tests, r) end
  for r in BT:gmatch("[^,]+") do ok = ok and has(tests, r) end
  check(name, ok, "expected " .. prefix .. "<" .. table.concat({BT, ...}, ",") .. ", sorted, and others> got " .. esc(got))
  check("...folded right (lines <= 78, \\n\\t after a comma)", folded_ok(got), esc(got))
  print("# X-Spam-Status: " .. esc(got))
end
LUA

# lua_run NAME EXPECTED [VAR=VALUE...] - run $TMP/NAME.lua after the prelude, with those
# Lua globals (miltertest -D), and relay its checks; EXPECTED: how many it makes
lua_run() {
	local name=$1 want=$2 v
	local -a defs=(-D "MPORT=$MPORT")
	shift 2
	for v in "$@"; do defs+=(-D "$v"); done
	cat "$TMP/prelude.lua" "$TMP/$name.lua" >"$TMP/$name.all.lua"
	run timeout 300 miltertest "${defs[@]}" -s "$TMP/$name.all.lua"
	while IFS= read -r line; do
		case $line in
		"ok "*) pass "${line#ok * - }" ;;
		"not ok "*) fail "${line#not ok * - }" ;;
		"#"*) printf '%s\n' "$line" ;;
		esac
	done < <(printf '%s\n' "$T_OUT" | grep -E '^((not )?ok |#)')
	assert_eq 0 "$T_RC" "$name: miltertest ran the whole script (exit 0)"
	[ "$T_RC" = 0 ] || printf '%s\n' "$T_ERR" | tail -n 20 | sed 's/^/#   /'
	assert_eq "$want" "$(printf '%s\n' "$T_OUT" | grep -cE '^(not )?ok ')" "$name: every check of the script reported"
}
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a + b }'; }

# --- phase 1: the baseline (default limits 5.0 / 10.0) ---------------------------------
cat >"$TMP/base.lua" <<'LUA'
local conn = message("base1", {"<bob@example.com>"}, std("base1"), "a plain message\r\n")
local v = mt.getheader(conn, "X-Spam-Status", 0)
local score, tests = (v or ""):match("^No, score=(%-?%d+%.%d) tag=5%.0 discard=10%.0 tests=(.*)$")
check("a plain message: MT_HDRADD X-Spam-Status \"No, score=B tag=5.0 discard=10.0 tests=...\"",
      score ~= nil and mt.eom_check(conn, MT_HDRADD, "X-Spam-Status", v), esc(v))
check("...the rule list: rule names and commas", tests ~= nil and unfold(tests):match("^[A-Z0-9_,]*$") ~= nil
      and not unfold(tests):find(",,") and not unfold(tests):find("^,") and not unfold(tests):find(",$"), esc(v))
check("...folded right", folded_ok(v), esc(v))
check("...no X-Spam-Flag", not mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag"))
check("...no X-Spam-Score", not mt.eom_check(conn, MT_HDRADD, "X-Spam-Score"))
check("...the Subject left alone", not mt.eom_check(conn, MT_HDRCHANGE, "Subject") and not mt.eom_check(conn, MT_HDRADD, "Subject"))
check("...no header deleted", not mt.eom_check(conn, MT_HDRDELETE))
check("...no recipient removed", not mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.com>"))
check("...clean for clamd: no SMTP reply asked", no_reply(conn))
check("...continue", mt.getreply(conn) == SMFIR_CONTINUE)
mt.disconnect(conn)
conn = message("base2", {"<bob@example.com>"}, std("base2"), "a plain message\r\n")
local v2 = mt.getheader(conn, "X-Spam-Status", 0)
check("a second plain message: the same X-Spam-Status (a stable baseline)", v2 == v, esc(v) .. " / " .. esc(v2))
mt.disconnect(conn)
print("BASE " .. (score or "?") .. " " .. unfold(tests or ""))
LUA
lua_run base 11
read -r B BT < <(printf '%s\n' "$T_OUT" | sed -n 's/^BASE //p')
[ -n "${B:-}" ] && [ "$B" != "?" ] || hard_error "no baseline score"
BT=${BT:-}
echo "# baseline score B = $B, rules: ${BT:-(none)}"
T=$(add "$B" 3.0) D=$(add "$B" 7.0)
mh domain set example.com --tag_limit "$T" --discard_limit "$D"
mh domain set example.net --tag_limit "$T" --discard_limit 100
mh domain set example.org --tag_limit "$T" --discard_limit "$D" --discard_action reject

# --- phase 2: the verdicts ------------------------------------------------------------
cat >"$TMP/verdicts.lua" <<'LUA'
local conn
-- B+2.9: under the tag limit
conn = message("a", {"<bob@example.com>"}, std("a"), "mhkit-token-a\r\n")
status_is(conn, "B+2.9, tag limit B+3.0: X-Spam-Status \"No, score=B+2.9 tag=T discard=D tests=...,MHKIT_A,...\"",
          "No, score=" .. S_A .. " tag=" .. T .. " discard=" .. D .. " tests=", "MHKIT_A")
check("...no X-Spam-Flag", not mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag"))
check("...no X-Spam-Score", not mt.eom_check(conn, MT_HDRADD, "X-Spam-Score"))
check("...the Subject left alone", not mt.eom_check(conn, MT_HDRCHANGE, "Subject"))
check("...continue", mt.getreply(conn) == SMFIR_CONTINUE)
mt.disconnect(conn)

-- B+3.0: at the tag limit
conn = message("b", {"<bob@example.com>"}, std("b"), "mhkit-token-b\r\n")
check("B+3.0, at the tag limit: MT_HDRADD X-Spam-Flag YES", mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", "YES"))
check("...MT_HDRADD X-Spam-Score " .. S_B, mt.eom_check(conn, MT_HDRADD, "X-Spam-Score", S_B), esc(mt.getheader(conn, "X-Spam-Score", 0)))
status_is(conn, "...X-Spam-Status \"Yes, score=B+3.0 tag=T discard=D tests=...\"",
          "Yes, score=" .. S_B .. " tag=" .. T .. " discard=" .. D .. " tests=", "MHKIT_B")
check("...MT_HDRCHANGE Subject \"[SPAM] message b\"", mt.eom_check(conn, MT_HDRCHANGE, "Subject", "[SPAM] message b"))
check("...no recipient removed", not mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.com>"))
check("...continue", mt.getreply(conn) == SMFIR_CONTINUE)
mt.disconnect(conn)

-- the Subject tagged already; no Subject at all
local h = std("b2")
h[3] = {"Subject", "[SPAM] message b2"}
conn = message("b2", {"<bob@example.com>"}, h, "mhkit-token-b\r\n")
check("B+3.0, Subject already tagged: tagged (X-Spam-Flag) but the Subject not changed (not twice)",
      mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", "YES") and not mt.eom_check(conn, MT_HDRCHANGE, "Subject"))
mt.disconnect(conn)
h = std("b3")
table.remove(h, 3)
conn = message("b3", {"<bob@example.com>"}, h, "mhkit-token-b\r\n")
check("B+3.0, no Subject: MT_HDRADD Subject \"[SPAM]\"", mt.eom_check(conn, MT_HDRADD, "Subject", "[SPAM]"))
mt.disconnect(conn)

-- B+6.9: just under the discard limit
conn = message("ca", {"<bob@example.com>"}, std("ca"), "mhkit-token-c mhkit-token-a\r\n")
status_is(conn, "B+6.9, discard limit B+7.0: tagged, X-Spam-Status \"Yes, score=B+6.9 ...\"",
          "Yes, score=" .. S_CA .. " tag=" .. T .. " discard=" .. D .. " tests=", "MHKIT_A", "MHKIT_C")
check("...no recipient removed", not mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.com>"))
check("...continue (delivered)", mt.getreply(conn) == SMFIR_CONTINUE)
mt.disconnect(conn)

-- B+7.0: at the discard limit
conn = message("cb", {"<bob@example.com>"}, std("cb"), "mhkit-token-c mhkit-token-b\r\n")
check("B+7.0, at the discard limit (discard_action discard): SMFIR_DISCARD", mt.getreply(conn) == SMFIR_DISCARD, mt.getreply(conn))
check("...no SMTP reply asked", no_reply(conn))
check("...no header added (nothing to deliver)", not mt.eom_check(conn, MT_HDRADD))
check("...the recipient removed first (MT_RCPTDELETE)", mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.com>"))
mt.disconnect(conn)

-- GTUBE
conn = message("gtube", {"<bob@example.com>"}, std("gtube"), "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n")
check("GTUBE: SMFIR_DISCARD", mt.getreply(conn) == SMFIR_DISCARD, mt.getreply(conn))
mt.disconnect(conn)

-- discard_action reject (example.org)
conn = message("reject", {"<bob@example.org>"}, std("reject"), "mhkit-token-c mhkit-token-b\r\n")
check("B+7.0, discard_action reject: MT_SMTPREPLY 550 5.7.1 \"Message rejected as spam\"",
      mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1", "Message rejected as spam"))
check("...SMFIR_REPLYCODE", mt.getreply(conn) == SMFIR_REPLYCODE, mt.getreply(conn))
check("...no header added", not mt.eom_check(conn, MT_HDRADD))
mt.disconnect(conn)

-- two domains of different discard limits
conn = message("two", {"<bob@example.com>", "<bob@example.net>"}, std("two"), "mhkit-token-c mhkit-token-b\r\n")
check("B+7.0 to two domains: MT_RCPTDELETE of the one over its discard limit (example.com)",
      mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.com>"))
check("...the other (discard limit 100) kept", not mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.net>"))
check("...and tagged: X-Spam-Flag YES", mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", "YES"))
check("...X-Spam-Score " .. S_CB, mt.eom_check(conn, MT_HDRADD, "X-Spam-Score", S_CB))
status_is(conn, "...X-Spam-Status with the kept domain's limits (discard=100.0)",
          "Yes, score=" .. S_CB .. " tag=" .. T .. " discard=100.0 tests=", "MHKIT_B", "MHKIT_C")
check("...MT_HDRCHANGE Subject \"[SPAM] message two\"", mt.eom_check(conn, MT_HDRCHANGE, "Subject", "[SPAM] message two"))
check("...continue", mt.getreply(conn) == SMFIR_CONTINUE)
mt.disconnect(conn)

-- a discard_action reject domain removed, another kept: no reply, the kept one gets it
conn = message("two-reject", {"<bob@example.org>", "<bob@example.net>"}, std("two-reject"), "mhkit-token-c mhkit-token-b\r\n")
check("B+7.0 to a reject domain and a kept one: the reject domain's recipient removed",
      mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.org>") and not mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.net>"))
check("...no 550 (a recipient remains), continue",
      no_reply(conn) and mt.getreply(conn) == SMFIR_CONTINUE)
mt.disconnect(conn)

-- a recipient of a domain that is not configured keeps the message
conn = message("other", {"<bob@example.com>", "<x@unknown.example>"}, std("other"), "mhkit-token-c mhkit-token-b\r\n")
check("B+7.0 to a discard domain and an unconfigured one: the discard domain's recipient removed",
      mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.com>") and not mt.eom_check(conn, MT_RCPTDELETE, "<x@unknown.example>"))
check("...the message not discarded (the other recipient gets it)",
      no_reply(conn) and mt.getreply(conn) == SMFIR_CONTINUE)
mt.disconnect(conn)
conn = message("other-reject", {"<bob@example.org>", "<x@unknown.example>"}, std("other-reject"), "mhkit-token-c mhkit-token-b\r\n")
check("B+7.0 to a reject domain and an unconfigured one: no 550, continue",
      no_reply(conn) and mt.getreply(conn) == SMFIR_CONTINUE)
mt.disconnect(conn)

-- forged X-Spam-* headers
conn = message("forged", {"<bob@example.com>"}, std("forged", {{"X-Spam-Flag", "YES"}, {"X-Spam-Score", "99.0"},
               {"X-Spam-Status", "Yes, score=99.0 tag=1.0 discard=200.0 tests=FORGED"},
               {"X-Spam-Status", "Yes, score=98.0"}}), "a plain message\r\n")
check("forged X-Spam-Flag: MT_HDRDELETE X-Spam-Flag (index 1)", mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Flag", 1))
check("...miltertest also reports it as MT_HDRCHANGE with an empty value",
      mt.eom_check(conn, MT_HDRCHANGE, "X-Spam-Flag", ""))
check("forged X-Spam-Score: MT_HDRDELETE X-Spam-Score (index 1)", mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Score", 1))
check("two forged X-Spam-Status: MT_HDRDELETE of index 2 and of index 1",
      mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Status", 2) and mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Status", 1))
check("...no other index deleted", not mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Status", 3)
      and not mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Flag", 2))
check("...no header changed to a value (only deletions)", not mt.eom_check(conn, MT_HDRCHANGE, "X-Spam-Status", "Yes, score=99.0 tag=1.0 discard=200.0 tests=FORGED"))
check("...no X-Spam-Flag added", not mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag"))
status_is(conn, "...our own X-Spam-Status added: No, the baseline score",
          "No, score=" .. B .. " tag=" .. T .. " discard=" .. D .. " tests=")
check("...continue", mt.getreply(conn) == SMFIR_CONTINUE)
mt.disconnect(conn)

-- virus
local vh, vbody = eml(VIRUS_EML)
conn = message("virus", {"<bob@example.com>"}, vh, vbody)
check("a signature in a base64 attachment: MT_SMTPREPLY 554 5.7.1 \"Message rejected: virus " .. VIRUS_NAME .. " found\"",
      mt.eom_check(conn, MT_SMTPREPLY, "554", "5.7.1", "Message rejected: virus " .. VIRUS_NAME .. " found"))
check("...SMFIR_REPLYCODE", mt.getreply(conn) == SMFIR_REPLYCODE, mt.getreply(conn))
check("...nothing else asked (no header, no recipient removed)",
      not mt.eom_check(conn, MT_HDRADD) and not mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.com>"))
mt.disconnect(conn)
conn = message("virus-off", {"<bob@example.info>"}, vh, vbody)
check("the same to a domain with virus off and spam off: no reply, nothing asked, continue",
      no_reply(conn) and not mt.eom_check(conn, MT_HDRADD)
      and mt.getreply(conn) == SMFIR_CONTINUE)
mt.disconnect(conn)
conn = message("clean", {"<bob@example.com>"}, std("clean"), "nothing to see\r\n")
check("a clean message: no SMTP reply asked", no_reply(conn))
check("...continue", mt.getreply(conn) == SMFIR_CONTINUE)
mt.disconnect(conn)
LUA
lua_run verdicts 56 B="$B" BT="$BT" T="$T" D="$D" S_A="$(add "$B" 2.9)" S_B="$(add "$B" 3.0)" \
	S_CA="$(add "$B" 6.9)" S_CB="$(add "$B" 7.0)" VIRUS_EML="$TMP/virus.eml" VIRUS_NAME="$CLAMD_SIG_NAME"
log=$(cat "$MILTER_LOG")
assert_contains "$log" "Qcb: discard: END-OF-MESSAGE from localhost[127.0.0.1]: spam score" "the discard logged with the queue ID"
assert_contains "$log" "Qtwo: spam: score $(add "$B" 7.0), discard limit $D: removed recipient <bob@example.com>" "the removed recipient logged"
assert_contains "$log" "Qreject: reject: END-OF-MESSAGE from localhost[127.0.0.1]: 550 5.7.1 Message rejected as spam" "the 550 logged"
assert_contains "$log" "Qvirus: reject: END-OF-MESSAGE from localhost[127.0.0.1]: 554 5.7.1 Message rejected: virus $CLAMD_SIG_NAME found" "the virus logged"

# --- phase 3: spamd stopped, on_scanner_error = accept ---------------------------------
stop_pid "$SPAMD_PID"
cat >"$TMP/down.lua" <<'LUA'
local conn = message("down", {"<bob@example.com>"}, std("down", {{"X-Spam-Flag", "YES"}}), "mhkit-token-c mhkit-token-b\r\n")
check("spamd down, on_scanner_error accept: MT_HDRADD X-Spam-Status \"Unchecked\"",
      mt.eom_check(conn, MT_HDRADD, "X-Spam-Status", "Unchecked"), esc(mt.getheader(conn, "X-Spam-Status", 0)))
check("...no X-Spam-Flag added, no Subject change, no recipient removed",
      not mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag") and not mt.eom_check(conn, MT_HDRCHANGE, "Subject")
      and not mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.com>"))
check("...the forged X-Spam-Flag still removed", mt.eom_check(conn, MT_HDRDELETE, "X-Spam-Flag", 1))
check("...no SMTP reply, continue", no_reply(conn) and mt.getreply(conn) == SMFIR_CONTINUE)
mt.disconnect(conn)
LUA
lua_run down 4
assert_contains "$(cat "$MILTER_LOG")" "accepted without the spam scan (on_scanner_error = accept)" "...logged"
check "mhmilter still running" pid_alive "$MILTER_PID"

# --- phase 4: on_scanner_error = tempfail ----------------------------------------------
stop_pid "$MILTER_PID"
write_conf tempfail
start_milter mhmilter2
cat >"$TMP/tempfail.lua" <<'LUA'
local conn = message("tempfail", {"<bob@example.com>"}, std("tempfail"), "a plain message\r\n")
check("spamd down, on_scanner_error tempfail: MT_SMTPREPLY 451 4.7.1 \"Service unavailable - try again later\"",
      mt.eom_check(conn, MT_SMTPREPLY, "451", "4.7.1", "Service unavailable - try again later"))
check("...SMFIR_REPLYCODE (a reply of our own, not a bare SMFIR_TEMPFAIL)", mt.getreply(conn) == SMFIR_REPLYCODE, mt.getreply(conn))
check("...no header added", not mt.eom_check(conn, MT_HDRADD))
mt.disconnect(conn)
conn = message("tempfail-off", {"<bob@example.info>"}, std("tempfail-off"), "a plain message\r\n")
check("...a domain with spam off: not held up, continue", mt.getreply(conn) == SMFIR_CONTINUE
      and no_reply(conn))
mt.disconnect(conn)
local vh, vbody = eml(VIRUS_EML)
conn = message("tempfail-virus", {"<bob@example.com>"}, vh, vbody)
check("...a virus with spamd down: still 554 5.7.1 (the virus verdict comes first)",
      mt.eom_check(conn, MT_SMTPREPLY, "554", "5.7.1", "Message rejected: virus " .. VIRUS_NAME .. " found"))
mt.disconnect(conn)
LUA
lua_run tempfail 5 VIRUS_EML="$TMP/virus.eml" VIRUS_NAME="$CLAMD_SIG_NAME"
check "mhmilter still running" pid_alive "$MILTER_PID"

done_testing
