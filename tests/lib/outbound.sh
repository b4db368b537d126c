# tests/lib/outbound.sh - outbound policy requests as Postfix sends them
# (policy_context=outbound, at RCPT and END-OF-MESSAGE), to feed to
# wire.py exchange.
#
#   . "$TESTS_LIB/outbound.sh"
#   message alice m1 2 100 | /usr/bin/python3 "$TESTS_LIB/wire.py" exchange 127.0.0.1 "$PPORT"

# req STATE ATTR=VALUE... - one outbound policy request, as Postfix sends it
req() {
	local state=$1 a
	shift
	printf 'request=smtpd_access_policy\nprotocol_state=%s\nprotocol_name=ESMTP\npolicy_context=outbound\nclient_address=192.0.2.7\nclient_name=client.test\nhelo_name=client.test\nsender=a@sender.test\n' "$state"
	for a in "$@"; do printf '%s\n' "$a"; done
	printf '\n'
}
# rcpt USER ID N SIZE - the Nth RCPT of transaction ID (instance i.ID), announced SIZE
rcpt() {
	req RCPT "sasl_username=$1" "instance=i.$2" "queue_id=" "recipient=r$3@dest.test" "recipient_count=0" "size=$4"
}
# eom USER ID N SIZE - END-OF-MESSAGE of transaction ID: queue ID Q+ID, N recipients, SIZE
eom() {
	req END-OF-MESSAGE "sasl_username=$1" "instance=i.$2" "queue_id=Q$2" "recipient=" "recipient_count=$3" "size=$4"
}
# message USER ID N SIZE - a whole transaction: N RCPTs and END-OF-MESSAGE
message() {
	local i
	for ((i = 1; i <= $3; i++)); do rcpt "$1" "$2" "$i" "$4"; done
	eom "$@"
}
# dunnos N - N lines of action=DUNNO
dunnos() {
	local i
	for ((i = 0; i < $1; i++)); do echo "action=DUNNO"; done
}
