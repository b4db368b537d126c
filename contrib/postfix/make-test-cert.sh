#!/bin/sh
# make-test-cert.sh DIR [NAME...] - a self-signed certificate for TESTS AND
# DEMOS ONLY: DIR/key.pem (RSA 2048, mode 600) and DIR/cert.pem (10 years,
# CN = the first NAME, every NAME a subjectAltName; default localhost).
# outbound.main.cf's smtpd_tls_chain_files reads them from
# /etc/postfix/tls/.  Clients cannot verify it: in production use a
# certificate from a real CA for the name customers connect to.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 DIR [NAME...]" >&2; exit 64; }
dir=$1
shift
[ $# -ge 1 ] || set -- localhost
san=
for n in "$@"; do
	san="${san:+$san,}DNS:$n"
done
mkdir -p "$dir"
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
	-subj "/CN=$1/O=mhkit test certificate" -addext "subjectAltName=$san" \
	-keyout "$dir/key.pem" -out "$dir/cert.pem" 2>"$dir/openssl.log" ||
	{ cat "$dir/openssl.log" >&2; exit 1; }
rm -f "$dir/openssl.log"
chmod 600 "$dir/key.pem"
chmod 644 "$dir/cert.pem"
