#!/bin/bash
# mhlist's exit statuses: usage 64, bad config 78, Redis down 69 (naming the
# address, nothing half-written), help and version.
. "${TESTS_LIB:?}/common.sh"
. "$TESTS_LIB/redis.sh"

MH=${MHLIST:?}

# usage
assert_exit 64 "$MH"
assert_contains "$T_ERR" "usage: mhlist" "no command: usage on stderr"
assert_exit 64 "$MH" frobnicate
assert_contains "$T_ERR" 'unknown command "frobnicate"' "unknown command named"
assert_exit 64 "$MH" --colour
assert_exit 64 "$MH" -c
assert_exit 0 "$MH" --help
assert_contains "$T_OUT" "mhlist users import [--add] DOMAIN [FILE|-]" "--help lists commands"
assert_exit 0 "$MH" -V
assert_match "$T_OUT" '^mhlist \(mhkit\) [0-9]' "-V prints the version"

# config errors: FILE:LINE: SETTING: what is wrong, exit 78
printf 'redis = {\n  port = 70000;\n};\n' >"$TMP/bad.conf"
assert_exit 78 "$MH" -c "$TMP/bad.conf" domain list
assert_contains "$T_ERR" "$TMP/bad.conf:2: redis.port:" "bad value: file, line and setting"
printf 'colour = "blue";\n' >"$TMP/unknown.conf"
assert_exit 78 "$MH" -c "$TMP/unknown.conf" domain list
assert_contains "$T_ERR" "$TMP/unknown.conf:1: colour:" "unknown setting named"
printf 'redis = { port = "6379" ;\n' >"$TMP/syntax.conf"
assert_exit 78 "$MH" -c "$TMP/syntax.conf" domain list
assert_contains "$T_ERR" "$TMP/syntax.conf:" "syntax error names the file"
assert_exit 78 "$MH" -c "$TMP/missing.conf" domain list
assert_contains "$T_ERR" "missing.conf" "missing file named"

# Redis down: 69 with the address it tried
port=$(free_port)
printf 'redis = { host = "127.0.0.1"; port = %s; timeout = "500ms"; };\n' "$port" >"$TMP/down.conf"
assert_exit 69 "$MH" -c "$TMP/down.conf" domain list
assert_contains "$T_ERR" "127.0.0.1:$port" "Redis address named"
assert_exit 69 "$MH" -c "$TMP/down.conf" domain add example.com --service backup
assert_exit 69 "$MH" -c "$TMP/down.conf" users import example.com /dev/null
# arguments are checked before Redis is needed
assert_exit 65 "$MH" -c "$TMP/down.conf" whitelist add --global 10.0.0.1/8
assert_exit 64 "$MH" -c "$TMP/down.conf" domain add

# a unix socket and a password
redis_start --requirepass s3cret
printf 'redis = { unix = "%s"; password = "s3cret"; };\n' "$REDIS_SOCK" >"$TMP/unix.conf"
assert_exit 0 "$MH" -c "$TMP/unix.conf" domain add unix.example --service backup
printf 'redis = { unix = "%s"; password = "wrong"; };\n' "$REDIS_SOCK" >"$TMP/wrongpw.conf"
assert_exit 69 "$MH" -c "$TMP/wrongpw.conf" domain list
assert_contains "$T_ERR" "AUTH" "wrong password explained"

# Redis dies in the middle of an import: exit 69, the old list intact
printf 'redis = { unix = "%s"; password = "s3cret"; };\n' "$REDIS_SOCK" >"$TMP/ok.conf"
"$MH" -c "$TMP/ok.conf" users add unix.example keep >/dev/null
# stdin that stops Redis after the first 5,000 lines
{
	seq -f 'u%g' 1 5000
	redis-cli --no-auth-warning -s "$REDIS_SOCK" -a s3cret DEBUG SLEEP 0 >/dev/null
	kill -STOP "$REDIS_PID"
	seq -f 'v%g' 1 200000
} | run timeout 30 "$MH" -c "$TMP/ok.conf" users import unix.example -
kill -CONT "$REDIS_PID"
assert_eq 69 "$T_RC" "Redis stopped mid-import: exit 69"
assert_eq "keep" "$(redis-cli --no-auth-warning -s "$REDIS_SOCK" -a s3cret SMEMBERS 'mh:{unix.example}:users')" "old list intact"

done_testing
