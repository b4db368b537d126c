#!/bin/sh
# scripts/deps.sh - install what building and testing mhkit needs, from Debian's archive.
# Run as root (or with sudo) on Debian 12.
set -eu
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
# Postfix comes unconfigured: tests run private instances of their own
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
# wait (up to 10 min) for another apt or dpkg run instead of failing at once
APT_WAIT="-o DPkg::Lock::Timeout=600"
$SUDO apt-get $APT_WAIT update -q
$SUDO apt-get $APT_WAIT install -y -q --no-install-recommends \
	build-essential autoconf automake libtool pkg-config \
	libhiredis-dev libconfig-dev libevent-dev libc-ares-dev libmilter-dev \
	libspf2-dev libjansson-dev check \
	redis-server redis-tools redis-sentinel \
	jq valgrind iproute2 bsdutils procps ca-certificates \
	clang libclang-rt-14-dev \
	python3 python3-dnslib bind9-dnsutils \
	postfix swaks libio-socket-inet6-perl libnet-ssleay-perl miltertest \
	clamav-daemon spamassassin spamd \
	sasl2-bin libsasl2-modules libsasl2-modules-db openssl
