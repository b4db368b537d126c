#!/bin/bash
# test_milter_badinput.sh - mhmilter fed bad input through a real Postfix, a
# real Redis and a real clamd (tests/lib/clamd.sh: every message to
# example.com really streams to a scanner; spam off to keep it fast).
# Each case checks what a user would: the exact SMTP reply, the message
# arriving at the destination (or not) intact, and mhmilter still running
# (same PID) and answering the next message:
#   1. one folded header continuing for 1 MB (past Postfix's
#      header_size_limit, 102400)
#   2. 10,000 headers
#   3. NUL bytes in a header and in the body
#   4. a 60 MB body to a domain of max_size 10M (Postfix's own
#      message_size_limit raised to 80 MB): without SIZE= 552 5.3.4 and
#      mhmilter's peak RSS (VmHWM) stays small, it never holds the message
#      (Postfix does: its cleanup writes the whole message to the queue file
#      before milters see it, so the 552 comes after the last byte); with
#      SIZE= 552 5.3.4 at RCPT, before any of it is sent
#   5. bare LF line ends, the final "." too
#   6. 8-bit header values: raw UTF-8 and raw Latin-1
# and at the end: no crash or sanitizer line in mhmilter's log, the same PID,
# and a plain message still delivered.
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/postfix.sh"
. "$TESTS_LIB/smtp.sh"

MILTER=${MHMILTER:?MHMILTER: path of the built mhmilter}
MHLIST=${MHLIST:?}
. "$TESTS_LIB/clamd.sh"

RSS_MAX_KB=65536		# mhmilter's peak resident size after the 60 MB message
BIG=$((60 * 1024 * 1024))	# the oversized message's body

clamd_start

# --- Redis, the domain, mhmilter, Postfix ------------------------------------------
DPORT=$(free_port)	# not a fixed port: other tests outside a namespace use 127.0.0.5 too
sink_start dest "$DPORT" --host 127.0.0.5
redis_start
MPORT=$(free_port)
CONF=$TMP/mhkit.conf
# tempfail: a scan that fails on bad input shows as 451, not as a silent accept
mhkit_conf_write "$CONF" "milter = { listen = \"inet:127.0.0.1:$MPORT\"; clamd = \"unix:$CLAMD_SOCK\"; on_scanner_error = \"tempfail\"; };"
mh() { "$MHLIST" -c "$CONF" "$@" >/dev/null 2>&1 || fail "mhlist $*"; }
mh domain add example.com --service relay --dest mail.customer.example --port 2525 --spam off
mh domain set example.com --max_size 10M

# -v: each decision logged, "QID: virus scan: clean" among them
start_bg mhmilter "$MILTER" -c "$CONF" -f -v
MILTER_PID=$BG_PID
wait_until 10 grep -q "ready" "$TMP/mhmilter.log" || hard_error "mhmilter did not start: $(cat "$TMP/mhmilter.log")"

postfix_start mx \
	'relay_domains = example.com' \
	"transport_maps = inline:{ example.com=smtp:[127.0.0.5]:$DPORT }" \
	"smtpd_milters = inet:127.0.0.1:$MPORT" 'milter_default_action = tempfail' 'milter_protocol = 6' \
	'message_size_limit = 83886080' 'mailbox_size_limit = 0'
MX=$(postfix_port mx)

# smtp_dialog CMD... - one SMTP session to Postfix from 127.0.0.1; prints the
#   last line of the reply to the banner and to each CMD, one a line.
#   @MSG:FILE  the message in FILE (bytes as they are), then CRLF . CRLF
#   @RAW:FILE  FILE exactly as it is, its own final "." included
#   @GEN:N     a message of N body bytes (998 x's a line, CRLF), then . CRLF
smtp_dialog() {
	/usr/bin/python3 - "$MX" "$@" <<'PY'
import socket, sys
port, cmds = int(sys.argv[1]), sys.argv[2:]
s = socket.create_connection(("127.0.0.1", port), timeout=120)
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline().decode("utf-8", "replace").rstrip("\r\n")
        if len(line) < 4 or line[3] != "-":
            print(line)
            sys.stdout.flush()
            return
reply()
for c in cmds:
    if c.startswith("@MSG:") or c.startswith("@RAW:"):
        with open(c[5:], "rb") as fh:
            data = fh.read()
        if c.startswith("@MSG:"):
            data += (b"" if data.endswith(b"\n") else b"\r\n") + b".\r\n"
        s.sendall(data)
    elif c.startswith("@GEN:"):
        n = int(c[5:])
        line = b"x" * 998 + b"\r\n"
        s.sendall(b"Subject: big\r\nMessage-ID: <bi-big@test>\r\n\r\n")
        chunk = line * 1024
        for _ in range(n // len(chunk)):
            s.sendall(chunk)
        s.sendall(line * ((n % len(chunk)) // len(line)) + b".\r\n")
    else:
        s.sendall(c.encode() + b"\r\n")
    reply()
PY
}

# deliver FILE - EHLO, MAIL, RCPT bob@example.com, DATA, the message, QUIT; T_OUT: the replies
deliver() {
	run smtp_dialog 'EHLO client.test' 'MAIL FROM:<alice@example.org>' 'RCPT TO:<bob@example.com>' DATA "$@" QUIT
}
# reply_to N - the reply to the Nth command of the last dialog (0: the banner)
reply_to() { sed -n "$(($1 + 1))p" <<<"$T_OUT"; }
# qid - the queue ID of the last dialog's "queued as"
qid() { sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p' <<<"$T_OUT" | tail -n 1; }

# find_msg ID - the stored message whose Message-ID is <ID@test> (grep first: some are big)
find_msg() {
	local f
	while read -r f; do
		sink_header "$f" Message-ID | grep -qxF "<$1@test>" && { echo "$f"; return 0; }
	done < <(grep -laF "<$1@test>" "$(sink_dir dest)"/msg/*.eml 2>/dev/null)
	return 1
}
# arrived ID - find_msg, waiting up to 20 s; "" when none
arrived() {
	wait_until 20 find_msg "$1" || true
	find_msg "$1"
	return 0
}

# milter_ok CASE - mhmilter is the same process, and a plain message passes through it
N_AFTER=0
milter_ok() {
	N_AFTER=$((N_AFTER + 1))
	check "$1: mhmilter still running, same PID $MILTER_PID" \
		eval 'pid_alive "$MILTER_PID" && [ "$(cat /proc/$MILTER_PID/comm)" = mhmilter ]'
	send_mail "$MX" alice@example.org bob@example.com --header "Message-ID: <after-$N_AFTER@test>" \
		--body "after case $N_AFTER"
	assert_match "$(smtp_data_reply)" '^250 ' "$1: ...and the next message accepted"
	check "$1: ...and delivered" [ -n "$(arrived "after-$N_AFTER")" ]
}

# scanned QID - mhmilter's log says clamd found the message QID clean
scanned() { grep -q "^.*$1: virus scan: clean" "$TMP/mhmilter.log"; }

# headers MSG-ID SUBJECT - the usual header lines, CRLF
headers() {
	printf 'From: <alice@example.org>\r\nTo: <bob@example.com>\r\nSubject: %s\r\nMessage-ID: <%s@test>\r\n' "$2" "$1"
}

# --- 1. one header of 1 MB ---------------------------------------------------------------
# "X-Long: start" folded over 13,617 lines of 77 bytes. Postfix keeps a
# header up to header_size_limit (102,400) and drops the rest of it; with
# milters it keeps 60,000 at most (cleanup_message.c, KLUDGE_HEADER_LIMIT:
# libmilter's packets are 64 KB at most), so mhmilter never sees more.
{
	headers bi-longhdr 'one long header'
	printf 'X-Long: start\r\n'
	/usr/bin/python3 -c '
import sys
line = b" " + b"a" * 74 + b"\r\n"
sys.stdout.buffer.write(line * (1024 * 1024 // len(line)))'
	printf 'X-After: after the long one\r\n\r\nbody of the long-header message\r\n'
} >"$TMP/longhdr.eml"
deliver "@MSG:$TMP/longhdr.eml"
assert_match "$(reply_to 5)" '^250 2\.0\.0 Ok: queued as ' "1 MB header: accepted"
check "1 MB header: streamed to clamd, found clean" scanned "$(qid)"
m=$(arrived bi-longhdr)
check "1 MB header: delivered" [ -n "$m" ]
m=${m:-/dev/null}
long=$(sink_header "$m" X-Long)
echo "# 1 MB header: X-Long arrived with ${#long} bytes (folds joined)"
assert_match "$long" '^start a{74} a{74}' "1 MB header: X-Long arrived, its start intact"
check "1 MB header: ...cut by Postfix to 60,000 bytes at most (its limit with milters)" [ "${#long}" -le 60000 ]
assert_eq "after the long one" "$(sink_header "$m" X-After)" "1 MB header: the next header still a header"
assert_eq "body of the long-header message" "$(sink_body "$m")" \
	"1 MB header: the body intact (the rest of the header dropped, not made body)"
milter_ok "1 MB header"

# --- 2. 10,000 headers ---------------------------------------------------------------------
{
	headers bi-manyhdr 'ten thousand headers'
	for ((i = 1; i <= 10000; i++)); do printf 'X-Bulk-%05d: value %d\r\n' "$i" "$i"; done
	printf '\r\nbody of the many-headers message\r\n'
} >"$TMP/manyhdr.eml"
deliver "@MSG:$TMP/manyhdr.eml"
assert_match "$(reply_to 5)" '^250 2\.0\.0 Ok: queued as ' "10,000 headers: accepted"
check "10,000 headers: streamed to clamd, found clean" scanned "$(qid)"
m=$(arrived bi-manyhdr)
check "10,000 headers: delivered" [ -n "$m" ]
m=${m:-/dev/null}
assert_eq 10000 "$(sed '/^$/q' "$m" | grep -ac '^X-Bulk-[0-9]\{5\}: value [0-9]*$')" "10,000 headers: all 10,000 arrived"
assert_eq "value 10000" "$(sink_header "$m" X-Bulk-10000)" "10,000 headers: ...the last one intact"
assert_eq "body of the many-headers message" "$(sink_body "$m")" "10,000 headers: the body intact"
milter_ok "10,000 headers"

# --- 3. NUL bytes in a header and in the body -----------------------------------------------
# Postfix keeps a header up to its first NUL (as it does with no milter);
# NULs in the body go through as they are.
{
	headers bi-nul 'NUL bytes'
	printf 'X-Nul: before\0after\r\n\r\nline one\r\nnul here:\0:end\r\n\0\0\0\r\nlast line\r\n'
} >"$TMP/nul.eml"
deliver "@MSG:$TMP/nul.eml"
assert_match "$(reply_to 5)" '^250 2\.0\.0 Ok: queued as ' "NUL bytes: accepted"
check "NUL bytes: streamed to clamd, found clean" scanned "$(qid)"
m=$(arrived bi-nul)
check "NUL bytes: delivered" [ -n "$m" ]
m=${m:-/dev/null}
assert_eq before "$(sink_header "$m" X-Nul | tr -d '\0')" "NUL bytes: the header arrived cut at its NUL (Postfix)"
printf 'line one\nnul here:\0:end\n\0\0\0\nlast line\n' >"$TMP/nul.body"
sink_body "$m" >"$TMP/nul.got"
check "NUL bytes: the body arrived byte for byte, its NULs too" cmp -s "$TMP/nul.body" "$TMP/nul.got"
milter_ok "NUL bytes"

# --- 4. 60 MB to a domain of max_size 10M ---------------------------------------------------
# Postfix's message_size_limit (80 MB) lets it through: the limit is mhmilter's.
hwm_kb() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$MILTER_PID/status"; }
hwm0=$(hwm_kb)
t0=$(now_ms)
run smtp_dialog 'EHLO client.test' 'MAIL FROM:<alice@example.org>' 'RCPT TO:<bob@example.com>' DATA "@GEN:$BIG" QUIT
echo "# 60 MB without SIZE=: $(reply_to 5), after $(($(now_ms) - t0)) ms"
assert_eq "552 5.3.4 Message size exceeds fixed limit" "$(reply_to 5)" "60 MB, no SIZE=: 552 5.3.4 after the data"
assert_eq "221 2.0.0 Bye" "$(reply_to 6)" "60 MB, no SIZE=: ...the session still in step (QUIT answered)"
assert_match "$(cat "$TMP/mhmilter.log")" ': reject: END-OF-MESSAGE from localhost\[127\.0\.0\.1\]: 552 5\.3\.4 Message size exceeds fixed limit; from=<alice@example\.org>' \
	"60 MB, no SIZE=: the refusal is mhmilter's, logged"
hwm1=$(hwm_kb)
echo "# mhmilter VmHWM: ${hwm0} kB before, ${hwm1} kB after the 60 MB message"
if [ "${SANITIZERS:-no}" = yes ]; then
	check "60 MB, no SIZE=: mhmilter's peak RSS grew by less than $((RSS_MAX_KB / 1024)) MB (sanitizers)" \
		[ $((hwm1 - hwm0)) -lt "$RSS_MAX_KB" ]
else
	check "60 MB, no SIZE=: mhmilter's peak RSS (VmHWM ${hwm1} kB) under $((RSS_MAX_KB / 1024)) MB" \
		[ "$hwm1" -lt "$RSS_MAX_KB" ]
fi
check "60 MB, no SIZE=: nothing left in Postfix's queue" postfix_wait_queue_empty mx 10
check "60 MB, no SIZE=: not delivered" eval '! find_msg bi-big'

run smtp_dialog 'EHLO client.test' "MAIL FROM:<alice@example.org> SIZE=$((BIG + 100))" 'RCPT TO:<bob@example.com>' DATA QUIT
assert_eq "250 2.1.0 Ok" "$(reply_to 2)" "60 MB, SIZE= announced: MAIL accepted (under Postfix's 80 MB)"
assert_eq "552 5.3.4 Message size exceeds fixed limit" "$(reply_to 3)" "60 MB, SIZE= announced: 552 5.3.4 at RCPT"
assert_eq "554 5.5.1 Error: no valid recipients" "$(reply_to 4)" "60 MB, SIZE= announced: ...so no DATA, nothing sent"
assert_contains "$(cat "$TMP/mhmilter.log")" "NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 552 5.3.4 Message size exceeds fixed limit; from=<alice@example.org> to=<bob@example.com>" \
	"60 MB, SIZE= announced: the refusal is mhmilter's, logged"
milter_ok "60 MB"

# --- 5. bare LF line ends -----------------------------------------------------------------------
# Postfix 3.7's default (smtpd_forbid_bare_newline = no) takes LF as a line
# end, the final "." too, and stores CRLF.
{
	headers bi-lf 'bare LF' | tr -d '\r'
	printf 'X-Lf: yes\n\nline one\nline two\n.\n'
} >"$TMP/lf.eml"
deliver "@RAW:$TMP/lf.eml"
assert_match "$(reply_to 5)" '^250 2\.0\.0 Ok: queued as ' "bare LF: accepted"
check "bare LF: streamed to clamd, found clean" scanned "$(qid)"
m=$(arrived bi-lf)
check "bare LF: delivered" [ -n "$m" ]
m=${m:-/dev/null}
assert_eq "yes|bare LF" "$(sink_header "$m" X-Lf)|$(sink_header "$m" Subject)" "bare LF: the headers intact"
assert_eq $'line one\nline two' "$(sink_body "$m")" "bare LF: the body intact"
milter_ok "bare LF"

# --- 6. 8-bit header values: raw UTF-8, raw Latin-1 --------------------------------------------
subj_utf8='Grüße aus Köln – 日本語'
latin1=$'caf\xe9 cr\xe8me br\xfbl\xe9e'
{
	headers bi-8bit "$subj_utf8"
	printf 'X-Latin1: %s\r\n\r\nbody of the 8-bit message\r\n' "$latin1"
} >"$TMP/8bit.eml"
deliver "@MSG:$TMP/8bit.eml"
assert_match "$(reply_to 5)" '^250 2\.0\.0 Ok: queued as ' "8-bit headers: accepted"
check "8-bit headers: streamed to clamd, found clean" scanned "$(qid)"
m=$(arrived bi-8bit)
check "8-bit headers: delivered" [ -n "$m" ]
m=${m:-/dev/null}
check "8-bit headers: the UTF-8 Subject arrived byte for byte" \
	eval 'LC_ALL=C grep -qaxF "Subject: $subj_utf8" "$m"'
check "8-bit headers: the Latin-1 header arrived byte for byte" \
	eval 'LC_ALL=C grep -qaxF "X-Latin1: $latin1" "$m"'
milter_ok "8-bit headers"

# --- in the end ----------------------------------------------------------------------------------
check "mhmilter: the same process ($MILTER_PID) all along" \
	eval 'pid_alive "$MILTER_PID" && [ "$(cat /proc/$MILTER_PID/comm)" = mhmilter ]'
assert_eq 1 "$(grep -c ': ready: ' "$TMP/mhmilter.log")" "mhmilter: started once"
log=$(cat "$TMP/mhmilter.log")
assert_not_contains "$log" "panic" "mhmilter: no panic logged"
assert_not_contains "$log" "fatal" "mhmilter: no fatal error logged"
assert_not_contains "$log" "Sanitizer" "mhmilter: no sanitizer report (with --enable-sanitizers)"
assert_not_contains "$log" "runtime error" "mhmilter: no undefined behaviour reported"
assert_eq "" "$(grep -a 'warning:' <<<"$log" | grep -v 'running as root')" \
	"mhmilter: no warning (no scan failed, no Redis error)"
assert_eq "" "$(grep -a 'warning:.*milter' "$(postfix_log mx)")" "Postfix: never lost its milter (no milter warning)"
send_mail "$MX" alice@example.org bob@example.com --header 'Message-ID: <final@test>' --body 'the last one'
assert_match "$(smtp_data_reply)" '^250 ' "a plain message at the end: accepted"
check "...and delivered" [ -n "$(arrived final)" ]

done_testing
