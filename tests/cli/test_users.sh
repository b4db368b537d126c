#!/bin/bash
# mhlist users add|del|list|import against a real redis-server.
. "${TESTS_LIB:?}/common.sh"
. "$TESTS_LIB/redis.sh"
need_cmd jq

redis_start
CONF=$TMP/mhkit.conf
mhkit_conf_write "$CONF"
mh() { "${MHLIST:?}" -c "$CONF" "$@"; }
rc() { redis_cli redis "$@"; }
members() { rc SMEMBERS 'mh:{example.com}:users' | sort | tr '\n' ' ' | sed 's/ $//'; }
staging_keys() { rc --scan --pattern 'mh:{example.com}:users:tmp:*' | wc -l; }

mh domain add example.com --service relay --dest mx.example.net --userlist on >/dev/null

# add/del/list; canonical lowercase, quoted local parts unquoted where allowed
assert_exit 0 mh users add example.com Alice bob '"carol"' 'Dave@Example.COM'
assert_eq "example.com: 4 added" "$T_OUT" "add counts what it added"
assert_eq "alice bob carol dave" "$(members)" "stored lowercase, unquoted"
assert_exit 0 mh users add example.com ALICE
assert_eq "example.com: 0 added" "$T_OUT" "case-insensitive duplicate not added again"
assert_exit 0 mh users add example.com '"john doe"'
assert_exit 0 mh users list example.com
assert_eq $'"john doe"\nalice\nbob\ncarol\ndave' "$T_OUT" "list sorted, quoted local part kept quoted"
assert_exit 0 mh --json users list example.com
assert_eq '["\"john doe\"","alice","bob","carol","dave"]' "$(jq -c .users <<<"$T_OUT")" "json list"
assert_exit 0 mh users del example.com BOB
assert_eq "example.com: 1 deleted" "$T_OUT" "del counts"
assert_exit 65 mh users add example.com good 'bad<local'
assert_contains "$T_ERR" 'bad local part "bad<local"' "bad local part named"
assert_eq "0" "$(rc SISMEMBER 'mh:{example.com}:users' good)" "nothing added when one argument is bad"
assert_exit 65 mh users add example.com 'x@other.example'
assert_contains "$T_ERR" "not in example.com" "address of another domain refused"
assert_exit 65 mh users add example.com "$(printf 'a%.0s' {1..65})"
assert_exit 65 mh users add nosuch.example alice
assert_contains "$T_ERR" "domain nosuch.example not found" "unknown domain"
assert_exit 64 mh users add example.com
assert_exit 64 mh users frobnicate example.com

# import: replace atomically; comments, blanks, CRLF, LOCAL@DOMAIN
printf '# our staff\nAnna\r\n\n  ben  \nCarl@example.com\r\n"d e"\nlast-no-newline' >"$TMP/list.txt"
assert_exit 0 mh users import example.com "$TMP/list.txt"
assert_eq "example.com: 5 imported (replaced), 5 in the list" "$T_OUT" "import summary"
assert_eq '"d e" anna ben carl last-no-newline' "$(members)" "list replaced by the file"
assert_eq "" "$T_ERR" "no progress bar when stderr is not a terminal"
assert_eq "-1" "$(rc TTL 'mh:{example.com}:users')" "imported list does not expire"
assert_eq "0" "$(staging_keys)" "no staging key left"

# --add merges
printf 'zoe\nanna\n' >"$TMP/more.txt"
run mh users import --add example.com - <"$TMP/more.txt"
assert_eq 0 "$T_RC" "merge from stdin exits 0"
assert_eq "example.com: 2 imported (merged), 6 in the list" "$T_OUT" "merge summary"
assert_eq '"d e" anna ben carl last-no-newline zoe' "$(members)" "merged"

# a bad line aborts before anything changes, naming the line
before=$(members)
printf 'one\ntwo\nbad local\nfour\n' >"$TMP/bad.txt"
assert_exit 65 mh users import example.com "$TMP/bad.txt"
assert_contains "$T_ERR" 'line 3: "bad local"' "bad line named by number"
assert_contains "$T_ERR" "nothing changed" "says nothing changed"
assert_eq "$before" "$(members)" "list unchanged after a bad line"
assert_eq "0" "$(staging_keys)" "staging key dropped after a bad line"

# NUL byte
printf 'one\ntw\0o\n' >"$TMP/nul.txt"
assert_exit 65 mh users import example.com "$TMP/nul.txt"
assert_contains "$T_ERR" "line 2: NUL byte" "NUL byte named"
assert_eq "$before" "$(members)" "unchanged after NUL"

# a 1 MB line: refused as soon as it passes the limit
{ echo ok; head -c 1048576 /dev/zero | tr '\0' 'a'; echo; } >"$TMP/long.txt"
assert_exit 65 mh users import example.com "$TMP/long.txt"
assert_contains "$T_ERR" "line 2: longer than 1024 bytes" "long line named"
assert_eq "$before" "$(members)" "unchanged after a long line"

# a 2 GB file (sparse: NUL bytes) fails at once without reading it all
truncate -s 2G "$TMP/huge.txt"
t0=$(now_ms)
assert_exit 65 mh users import example.com "$TMP/huge.txt"
t1=$(now_ms)
assert_contains "$T_ERR" "line 1:" "2 GB file refused at line 1"
check "2 GB file refused in under 5 s ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 5000
rm -f "$TMP/huge.txt"

# a line with the wrong domain
printf 'a@example.com\nb@elsewhere.example\n' >"$TMP/dom.txt"
assert_exit 65 mh users import example.com "$TMP/dom.txt"
assert_contains "$T_ERR" "line 2:" "wrong-domain line named"

# an empty import replaces with an empty list; --add of nothing changes nothing
: >"$TMP/empty.txt"
assert_exit 0 mh users import --add example.com "$TMP/empty.txt"
assert_eq "$before" "$(members)" "merging an empty file changes nothing"
assert_exit 0 mh users import example.com "$TMP/empty.txt"
assert_eq "" "$(members)" "replacing with an empty file empties the list"

# 100,000 lines stream in, batch boundaries included
seq -f 'user%06g' 1 100000 >"$TMP/many.txt"
assert_exit 0 mh users import example.com "$TMP/many.txt"
assert_eq "100000" "$(rc SCARD 'mh:{example.com}:users')" "100,000 members imported"
assert_eq "1" "$(rc SISMEMBER 'mh:{example.com}:users' user100000)" "last line imported"

# missing file, unknown domain
assert_exit 66 mh users import example.com "$TMP/does-not-exist"
assert_exit 65 mh users import nosuch.example "$TMP/list.txt"
assert_exit 64 mh users import

# a progress bar on a terminal (script(1) gives stderr a tty)
if command -v script >/dev/null; then
	script -qec "$MHLIST -c $CONF users import example.com $TMP/many.txt" /dev/null >"$TMP/tty.out" 2>&1
	assert_match "$(tr '\r' '\n' <"$TMP/tty.out")" '100% 100000 lines' "progress bar on a terminal"
fi

done_testing
