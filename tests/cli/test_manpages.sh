#!/bin/bash
# The manual pages (doc/man): each renders with no groff or man(1) warning
# and has a NAME line lexgrog/mandb can index; mhkit.conf(5) has an entry for
# every setting of the settings table (conf_table in common/conf.c) and none
# for a setting the table lacks; mhlist(1) has an entry for every command and
# subcommand `mhlist --help` lists, every domain setting (domain_settings[] in
# common/domain.c) and every exit status `mhlist --help` names; mhpolicyd(8)
# for every option of its usage line. A new setting, command or option
# without its man entry fails here.
. "${TESTS_LIB:?}/common.sh"

MH=${MHLIST:?}
SRC=$(cd "$TESTS_LIB/../.." && pwd)
MAN=$SRC/doc/man
PAGES=(mhpolicyd.8 mhlist.1 mhkit.conf.5)

need_cmd groff

# render PAGE - plain ASCII text; every filled paragraph on one line (no line
# breaks, so no name is ever hyphenated or split), no bold/underline codes
render() {
	groff -man -Tascii -P-cbou -rLL=4000n "$MAN/$1" 2>/dev/null
}

# section TEXT HEADING - the lines of one section (.SH) of a rendered page
section() {
	printf '%s\n' "$1" | awk -v h="$2" '/^[A-Z]/ { on = ($0 == h); next } on'
}

# has_entry TEXT WORDS - some line of TEXT is an entry (a .TP tag) starting with WORDS
has_entry() {
	printf '%s\n' "$1" | grep -qE -- "^ +$(printf '%s' "$2" | sed 's/[][\.|*^$+?(){}]/\\&/g')( |\$)"
}

# --- every page: clean rendering, NAME indexable ------------------------------

for page in "${PAGES[@]}"; do
	check "$page exists" test -s "$MAN/$page"
	run groff -ww -z -man "$MAN/$page"
	assert_eq "" "$T_ERR$T_OUT" "$page: groff -ww -z -man: no warnings"
	if command -v man >/dev/null 2>&1; then
		out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings=w -l "$MAN/$page" 2>&1 >/dev/null)
		assert_eq "" "$out" "$page: man --warnings=w -l: no warnings"
	fi
	if command -v lexgrog >/dev/null 2>&1; then
		run lexgrog "$MAN/$page"
		assert_match "$T_OUT" ": \"${page%.*} - [^\"]+\"\$" "$page: lexgrog parses the NAME section"
	fi
	text=$(render "$page")
	for h in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
		check "$page: has a $h section" grep -qx "$h" <<<"$text"
	done
done

# --- mhkit.conf(5): every setting of the table, and only those -------------------

settings=$(sed -n 's/^[[:space:]]*{E("\([a-z0-9_.]*\)".*/\1/p' "$SRC/common/conf.c")
count=$(printf '%s\n' "$settings" | grep -c .)
check "common/conf.c: conf_table read ($count settings)" test "$count" -gt 20
assert_contains "$settings" "redis.sentinel.master" "conf_table parsed into dotted names"
conf_settings=$(section "$(render mhkit.conf.5)" SETTINGS)
for s in $settings; do
	if has_entry "$conf_settings" "$s"; then
		pass "mhkit.conf.5 documents $s"
	else
		fail "mhkit.conf.5 documents $s" "no entry for $s in the SETTINGS section"
	fi
done
# entries (lower-case .TP tags) that are not settings
for s in $(printf '%s\n' "$conf_settings" | sed -n 's/^       \([a-z][a-z0-9_.]*\)\( .*\)\{0,1\}$/\1/p'); do
	if printf '%s\n' "$settings" | grep -qx -- "$s"; then
		pass "mhkit.conf.5 entry $s is a setting"
	else
		fail "mhkit.conf.5 entry $s is a setting" "$s is not in conf_table (common/conf.c)"
	fi
done

# --- mhlist(1): every command and subcommand of --help, domain settings, exits ---

assert_exit 0 "$MH" --help
help=$T_OUT
usage=$(printf '%s\n' "$help" | sed -n 's/^  mhlist //p')
commands=$(printf '%s\n' "$usage" | awk '{print $1}' | sort -u)
check "mhlist --help lists commands (${commands//$'\n'/ })" test -n "$commands"
list_text=$(render mhlist.1)
list_commands=$(section "$list_text" COMMANDS)
for c in $commands; do
	if has_entry "$list_commands" "$c"; then
		pass "mhlist.1 documents command $c"
	else
		fail "mhlist.1 documents command $c" "no entry starting with '$c' in COMMANDS"
	fi
done
# "domain add", "users import", "whitelist add|del", ...: the words before the first argument
while read -r c sub _; do
	case $sub in
	'' | *[!a-z\|]*) continue ;;	# no subcommand (check DOMAIN, explain SENDER ...)
	esac
	if has_entry "$list_commands" "$c $sub"; then
		pass "mhlist.1 documents $c $sub"
	else
		fail "mhlist.1 documents $c $sub" "no entry starting with '$c $sub' in COMMANDS"
	fi
done <<<"$usage"

dsettings=$(sed -n 's/^[[:space:]]*\[DOMAIN_SET_[A-Z_]*\] = {"\([a-z_]*\)".*/\1/p' "$SRC/common/domain.c")
check "common/domain.c: domain_settings read (${dsettings//$'\n'/ })" test -n "$dsettings"
for s in $dsettings; do
	if has_entry "$list_commands" "$s"; then
		pass "mhlist.1 documents domain setting $s"
	else
		fail "mhlist.1 documents domain setting $s" "no entry for $s in COMMANDS (Domain settings)"
	fi
done

statuses=$(printf '%s\n' "$help" | sed -n '/^exit:/,$p' | grep -oE '[0-9]+ [A-Za-z]' | cut -d' ' -f1)
check "mhlist --help names exit statuses (${statuses//$'\n'/ })" test -n "$statuses"
list_exit=$(section "$list_text" "EXIT STATUS")
for n in $statuses; do
	if has_entry "$list_exit" "$n"; then
		pass "mhlist.1 documents exit status $n"
	else
		fail "mhlist.1 documents exit status $n" "no entry for $n in EXIT STATUS"
	fi
done

# --- mhpolicyd(8): every option of the usage line ----------------------------------

if [ -n "${MHPOLICYD:-}" ]; then
	run "$MHPOLICYD" -h
	opts=$(printf '%s\n' "$T_ERR" | grep -oE '\[-[A-Za-z]' | cut -c2-)
	check "mhpolicyd usage lists options (${opts//$'\n'/ })" test -n "$opts"
	pd_options=$(section "$(render mhpolicyd.8)" OPTIONS)
	for o in $opts; do
		if has_entry "$pd_options" "$o"; then
			pass "mhpolicyd.8 documents $o"
		else
			fail "mhpolicyd.8 documents $o" "no entry for $o in OPTIONS"
		fi
	done
fi

done_testing
