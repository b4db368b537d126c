#!/bin/bash
# test_outbound_concurrency.sh - exactness of the outbound daily limit under
# concurrency (issue 5): two Postfix instances in the outbound role (from
# contrib/postfix, as test_outbound_postfix.sh starts one), each with its own
# mhpolicyd, both mhpolicyd on one Redis, one sink that both deliver to by MX;
# 16 parallel senders (Python threads, smtplib, STARTTLS or SMTPS + AUTH PLAIN,
# alternating between the instances and their ports) offer about 3x the limit
# at once:
#   - phase 1, 1-recipient messages (every relay can be filled): the relays
#     the senders saw accepted (250 after DATA) == the limit exactly == the
#     Redis counter mh:{acct:USER}:used:DAY == the recipients that reached the
#     sink, message by message (Message-ID); the "used N" values that the two
#     mhpolicyd logged (-v) are exactly 1..L, each once: every COMMIT was
#     serialised by Redis; both instances and both mhpolicyd took part;
#   - every refused message or recipient got the exact quota reply (at RCPT
#     or at END-OF-DATA), nothing else was refused;
#   - phase 2, a mix of 1- and 2-recipient messages on another account: the
#     relays granted never pass the limit, and granted == counter == sink.
# The limit is one block of outbound.relays_per_block = 60 (set in the conf)
# so that the run stays short.
here=$(cd "$(dirname "$0")" && pwd)
TESTS_LIB=${TESTS_LIB:-$here/../lib}
. "$TESTS_LIB/isolate.sh"
isolate_self "$@"
. "$TESTS_LIB/common.sh"
. "$TESTS_LIB/redis.sh"
. "$TESTS_LIB/dns.sh"
. "$TESTS_LIB/postfix.sh"
. "$TESTS_LIB/smtp.sh"
need_cmd saslpasswd2 openssl python3

POLICYD=${MHPOLICYD:?MHPOLICYD: path of the built mhpolicyd}
MHLIST=${MHLIST:?MHLIST: path of the built mhlist}
T_START=$(now_ms)
section() { echo "# ---- $* (t=$(( ($(now_ms) - T_START) / 1000 )) s)"; }

L=60			# the limit: 1 block x relays_per_block
SENDERS=16
PER_SENDER=12		# 16 x 12 = 192 one-recipient messages offered: 3.2 x L
RUN_LIMIT=60		# seconds a phase may take (the senders stop there)

# --- the world: DNS, the destination's MX (a sink), Redis, two mhpolicyd ---------------
cat >"$TMP/zone" <<'ZONE'
customer.test ZONE
customer.test MX 10 mail.customer.test.
mail.customer.test A 192.0.2.80
dest.test ZONE
dest.test MX 10 mx.dest.test.
mx.dest.test A 127.0.0.5
ZONE
dns_start "$TMP/zone"
sink_start dest 25 --host 127.0.0.5		# every recipient's MX, for both instances

redis_start
declare -A PPORT=() PPID_OF=()
for n in 1 2; do
	PPORT[$n]=$(free_port)
	sport=$(free_port)
	mhkit_conf_write "$TMP/mhkit$n.conf" "policyd = { listen = \"inet:127.0.0.1:${PPORT[$n]}\"; socketmap = \"inet:127.0.0.1:$sport\"; };
dns = { servers = [\"127.0.0.1@53\"]; timeout = \"2s\"; };
outbound = { relays_per_block = $L; };"
done
mh() { "$MHLIST" -c "$TMP/mhkit1.conf" "$@" >/dev/null || fail "mhlist $*"; }
mh account add conc@customer.test --blocks 1		# phase 1: 1-recipient messages
mh account add mix@customer.test --blocks 1		# phase 2: 1 and 2 recipients

for n in 1 2; do
	start_bg "mhpolicyd$n" "$POLICYD" -c "$TMP/mhkit$n.conf" -f -v
	PPID_OF[$n]=$BG_PID
done
for n in 1 2; do
	wait_until 10 grep -q "redis .*connect\|ready" "$TMP/mhpolicyd$n.log" ||
		hard_error "mhpolicyd$n did not start: $(cat "$TMP/mhpolicyd$n.log")"
done

# --- two Postfix instances in the outbound role, each on its own mhpolicyd -----------
section "Postfix start"
PW=s3cret-Pass
for n in 1 2; do
	postfix_start "out$n" --role outbound \
		--subst "inet:127.0.0.1:10027=inet:127.0.0.1:${PPORT[$n]}" \
		'default_transport = smtp' 'relay_transport = relay' 'smtp_host_lookup = dns'
	assert_eq "inet:127.0.0.1:${PPORT[$n]}" \
		"$(postfix_postconf "out$n" -h mh_outbound_end_of_data_restrictions | grep -o 'inet:127.0.0.1:[0-9]*')" \
		"out$n: its policy service is mhpolicyd$n"
	for u in conc mix; do
		postfix_sasl_user "out$n" "$u@customer.test" "$PW"
	done
done
# targets: PORT:MODE:INSTANCE, alternating instances; sender i uses target i % 8
TARGETS=()
for p in 25 465 2525 10465 10025 465 25 10465; do
	mode=starttls
	case $p in 465 | 10465) mode=smtps ;; esac
	for n in 1 2; do
		TARGETS+=("$(postfix_port "out$n" "$p"):$mode:out$n")
	done
done
echo "# targets: ${TARGETS[*]}"

# --- the senders ------------------------------------------------------------------------
cat >"$TMP/conc.py" <<'PY'
"""conc.py USER PASS TAG SENDERS PER_SENDER MIX DEADLINE_S TARGET...
TARGET = PORT:starttls|smtps:INSTANCE; sender i uses TARGET[i % len].
All senders log in first, then start together (a barrier).  A session
sends 4 messages, then the sender logs in again (so that Postfix's error
limits never cut a session).  MIX=1: every third message has 2 recipients.
Prints, one line each:
  ok INSTANCE MESSAGE-ID RELAYS          a message accepted (250 after DATA)
  refused rcpt|data INSTANCE REPLY       a refused recipient / message
  error INSTANCE TEXT                    anything else
  offered N                              relays offered in all"""
import smtplib, ssl, sys, threading, time

user, password, tag = sys.argv[1], sys.argv[2], sys.argv[3]
senders, per_sender, mix, deadline = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "1", time.time() + float(sys.argv[7])
targets = [t.split(":") for t in sys.argv[8:]]
lock = threading.Lock()
barrier = threading.Barrier(senders)
offered = [0]

def out(line):
    with lock:
        print(line, flush=True)

def session(port, mode):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if mode == "smtps":
        s = smtplib.SMTP_SSL("127.0.0.1", int(port), local_hostname="client.test", context=ctx, timeout=30)
    else:
        s = smtplib.SMTP("127.0.0.1", int(port), local_hostname="client.test", timeout=30)
        s.starttls(context=ctx)
    s.ehlo("client.test")
    s.login(user, password)
    return s

def txt(code, msg):
    return "%d %s" % (code, msg.decode(errors="replace").replace("\n", " "))

def sender(k):
    port, mode, inst = targets[k % len(targets)]
    s = None
    try:
        s = session(port, mode)
    except Exception as e:
        out("error %s login: %r" % (inst, e))
    try:
        barrier.wait(timeout=30)
    except threading.BrokenBarrierError:
        out("error %s barrier broken" % inst)
    for i in range(per_sender):
        if time.time() > deadline:
            out("error %s deadline passed, %d messages not sent" % (inst, per_sender - i))
            break
        try:
            if s is None:
                s = session(port, mode)
            mid = "%s-%d-%d" % (tag, k, i)
            n = 2 if mix and i % 3 == 2 else 1
            rcpts = ["%s-%d@dest.test" % (mid, j) for j in range(n)]
            with lock:
                offered[0] += n
            code, msg = s.mail(user)
            if code != 250:
                out("error %s mail %s" % (inst, txt(code, msg)))
                s.rset()
                continue
            ok = 0
            for r in rcpts:
                code, msg = s.rcpt(r)
                if code in (250, 251):
                    ok += 1
                else:
                    out("refused rcpt %s %s" % (inst, txt(code, msg)))
            if ok == 0:
                s.rset()
            else:
                body = ("From: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@client.test>\r\n\r\nhello\r\n" % (user, mid, mid)).encode()
                code, msg = s.data(body)
                if code == 250:
                    out("ok %s <%s@client.test> %d" % (inst, mid, ok))
                else:
                    out("refused data %s %s" % (inst, txt(code, msg)))
                    # Postfix (3.7 smtpd data_cmd) keeps the transaction open
                    # after an smtpd_end_of_data_restrictions reject: without
                    # RSET the next MAIL gets "503 5.5.1 Error: nested MAIL command"
                    s.rset()
            if i % 4 == 3:
                s.quit()
                s = None
        except Exception as e:
            out("error %s message %d: %r" % (inst, i, e))
            s = None
    if s is not None:
        try:
            s.quit()
        except Exception:
            pass

threads = [threading.Thread(target=sender, args=(k,)) for k in range(senders)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("offered %d" % offered[0], flush=True)
PY

# used USER - today's relays in Redis: mh:{acct:USER}:used:DAY, DAY from Redis's clock
used() {
	local v
	v=$(redis_cli redis GET "mh:{acct:$1}:used:$(( $(redis_cli redis TIME | head -n 1) / 86400 ))")
	echo "${v:-0}"
}

# sink_by_msgid TAG - "MESSAGE-ID RECIPIENTS" for each message of the phase TAG
#   at the sink (recipients summed over its copies), sorted
sink_by_msgid() {
	local files
	files=$(grep -l -F "Message-ID: <$1-" "$(sink_dir dest)"/msg/*.eml 2>/dev/null)
	[ -n "$files" ] || return 0
	# shellcheck disable=SC2086
	awk 'FNR == 1 { hdr = 1 }
		hdr && /^$/ { hdr = 0 }
		hdr && /^X-Sink-Rcpt-To:/ { n[FILENAME]++ }
		hdr && tolower($1) == "message-id:" { id[FILENAME] = $2 }
		END { for (f in id) s[id[f]] += n[f]; for (m in s) print m, s[m] }' $files | sort
}

# sink_has_from TAG INSTANCE - a message of phase TAG reached the sink through INSTANCE
sink_has_from() {
	grep -l -F "Message-ID: <$1-" "$(sink_dir dest)"/msg/*.eml 2>/dev/null | xargs -r grep -l "by $2\.test" | grep -q .
}

# The counters must stay on one day: start at least 90 s before 00:00 UTC
left_today=$(( 86400 - $(redis_cli redis TIME | head -n 1) % 86400 ))
[ "$left_today" -lt 90 ] && { echo "# waiting ${left_today}s for 00:00 UTC"; sleep "$left_today"; }

# run_phase TAG USER MIX - the senders; their output in $TMP/TAG.out
run_phase() {
	local t0 rc
	t0=$(now_ms)
	python3 "$TMP/conc.py" "$2" "$PW" "$1" "$SENDERS" "$PER_SENDER" "$3" "$RUN_LIMIT" "${TARGETS[@]}" \
		>"$TMP/$1.out" 2>"$TMP/$1.err"
	rc=$?
	echo "# $1: senders done in $(( $(now_ms) - t0 )) ms"
	assert_eq 0 "$rc" "$1: the senders ran"
	[ -s "$TMP/$1.err" ] && sed 's/^/# stderr: /' "$TMP/$1.err" | tail -n 5
	return 0
}

# check_refusals TAG USER - every refusal is the quota reply, exactly
check_refusals() {
	local out=$TMP/$1.out other
	other=$(sed -n 's/^refused \(rcpt\|data\) out[12] //p' "$out" |
		sed -e "s/^452 4\.7\.1 <$1-[0-9]*-[0-9]*-[0-9]@dest\.test>: Recipient address rejected: /RCPT: /" \
			-e 's/^452 4\.7\.1 <END-OF-MESSAGE>: End-of-data rejected: /DATA: /' |
		grep -v -x -F -e "RCPT: Daily relay limit of $L reached for $2; resets at 00:00 UTC" \
			-e "DATA: Daily relay limit of $L reached for $2; resets at 00:00 UTC" | sort | uniq -c)
	assert_eq "" "$other" "$1: every refusal is the exact quota reply (452 4.7.1 ... Daily relay limit of $L reached for $2; resets at 00:00 UTC)"
	assert_eq "" "$(grep '^error ' "$out" | sort | uniq -c | head -n 5)" "$1: no sender error (login, timeout, other reply)"
}

# wait_delivered - both queues empty (bounded)
wait_delivered() {
	local n
	for n in 1 2; do
		postfix_wait_queue_empty "out$n" 60 || fail "out$n: queue not empty after 60 s: $(postfix_queue_count "out$n") left"
	done
}

# ==== phase 1: 1-recipient messages, exactly the limit ====================================
section "phase 1: $SENDERS senders, $((SENDERS * PER_SENDER)) one-recipient messages, limit $L"
run_phase p1 conc@customer.test 0
out=$TMP/p1.out
offered=$(sed -n 's/^offered //p' "$out")
granted=$(awk '$1 == "ok" { s += $4 } END { print s + 0 }' "$out")
ref_rcpt=$(grep -c '^refused rcpt ' "$out")
ref_data=$(grep -c '^refused data ' "$out")
counter=$(used conc@customer.test)
echo "# p1: offered $offered, granted $granted, refused at RCPT $ref_rcpt, at END-OF-DATA $ref_data, counter $counter"
assert_eq $((SENDERS * PER_SENDER)) "$offered" "p1: every sender offered its messages ($offered relays, $((offered * 100 / L))% of the limit)"
assert_eq "$L" "$granted" "p1: relays granted == the limit $L exactly"
assert_eq "$L" "$counter" "p1: Redis counter == the limit"
assert_eq "$offered" "$((granted + ref_rcpt + ref_data))" "p1: each offered message either accepted or refused"
check_refusals p1 conc@customer.test
for n in 1 2; do
	g=$(awk -v i="out$n" '$1 == "ok" && $2 == i { s += $4 } END { print s + 0 }' "$out")
	c=$(grep -c "sasl_username=conc@customer.test: quota: 1 relays counted" "$TMP/mhpolicyd$n.log")
	echo "# p1: out$n granted $g, mhpolicyd$n counted $c"
	check "p1: out$n accepted messages (both instances took part)" test "$g" -ge 1
	assert_eq "$g" "$c" "p1: mhpolicyd$n counted exactly what out$n accepted (it served its instance)"
done
assert_eq "$(seq 1 "$L")" \
	"$(cat "$TMP/mhpolicyd1.log" "$TMP/mhpolicyd2.log" |
		sed -n 's/.*sasl_username=conc@customer\.test: quota: 1 relays counted: used \([0-9]*\) of [0-9]* today.*/\1/p' | sort -n)" \
	"p1: the used values after each COMMIT, over both mhpolicyd, are 1..$L, each once (serialised by Redis)"
wait_delivered
expected=$(awk '$1 == "ok" { print $3, $4 }' "$out" | sort)
atsink=$(sink_by_msgid p1)
assert_eq "$L" "$(awk '{ s += $2 } END { print s + 0 }' <<<"$atsink")" "p1: recipients that reached the sink == $L"
assert_eq "$expected" "$atsink" "p1: the sink has exactly the accepted messages, each once, with its recipients"
for n in 1 2; do
	check "p1: out$n delivered to the sink" sink_has_from p1 "out$n"
done

# ==== phase 2: 1- and 2-recipient messages, never past the limit =====================
section "phase 2: $SENDERS senders, 1 and 2 recipients, limit $L"
run_phase p2 mix@customer.test 1
out=$TMP/p2.out
offered=$(sed -n 's/^offered //p' "$out")
granted=$(awk '$1 == "ok" { s += $4 } END { print s + 0 }' "$out")
counter=$(used mix@customer.test)
echo "# p2: offered $offered, granted $granted, refused at RCPT $(grep -c '^refused rcpt ' "$out"), at END-OF-DATA $(grep -c '^refused data ' "$out"), counter $counter"
check "p2: relays granted ($granted) within [L-1, L]: never past the limit" test "$granted" -le "$L" -a "$granted" -ge $((L - 1))
assert_eq "$granted" "$counter" "p2: Redis counter == relays granted"
check_refusals p2 mix@customer.test
wait_delivered
expected=$(awk '$1 == "ok" { print $3, $4 }' "$out" | sort)
assert_eq "$expected" "$(sink_by_msgid p2)" "p2: the sink has exactly the accepted messages, each once, with its recipients (== counter)"

for n in 1 2; do
	check "mhpolicyd$n still running" pid_alive "${PPID_OF[$n]}"
	assert_eq "" "$(grep -E 'warning|error|fatal|panic' "$TMP/mhpolicyd$n.log" | grep -v 'warning: running as root' | head -n 3)" \
		"mhpolicyd$n: no warning (but running as root)"
done

echo "# runtime: $(( ($(now_ms) - T_START) / 1000 )) s"
done_testing
