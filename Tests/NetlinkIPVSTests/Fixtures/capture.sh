#!/bin/sh
# Captures the generic netlink traffic of ipvsadm for the fixtures in this
# directory. Run as root inside the kernel VM (IPVS + nlmon loaded), from a
# fresh network namespace: unshare -n sh capture.sh OUTDIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
tmp=$(mktemp -d)

ip link set lo up
ip link add ipvscap0 type nlmon
ip link set ipvscap0 up
ip link add ipvsd0 type dummy
ip link set ipvsd0 up
ip addr add 192.0.2.10/32 dev ipvsd0
ip route add 10.0.0.0/8 dev ipvsd0
ip -6 route add 2001:db8:1::/48 dev ipvsd0

# capture NAME COMMAND...: the traffic of one command, then its output
# (lines "#| "), into NAME.txt
capture() {
    name=$1; shift
    tcpdump -q -i ipvscap0 -U -w "$tmp/$name.pcap" 2>/dev/null & pid=$!
    # tcpdump writes the pcap header once it listens; under TCG that takes a while.
    until [ -s "$tmp/$name.pcap" ]; do sleep 0.2; done
    "$@" > "$tmp/$name.out" 2>&1 || true
    sleep 2
    kill -INT "$pid"; wait "$pid" || true
    {
        python3 "$here/pcap2hex.py" "$tmp/$name.pcap" "$*"
        sed 's/^/#| /' "$tmp/$name.out"
    } > "$out/$name.txt"
}

capture svc-add-tcp4         ipvsadm -A -t 192.0.2.10:80 -s rr
capture svc-add-udp6-persist ipvsadm -A -u [2001:db8::10]:53 -s wlc -p 600 -M 64
capture svc-add-sctp4-sh     ipvsadm -A --sctp-service 192.0.2.11:5000 -s sh -b sh-fallback,sh-port -p 300 -M 255.255.255.0
capture svc-add-fwm4-mh      ipvsadm -A -f 7 -s mh -b mh-fallback,mh-port
capture svc-add-fwm6         ipvsadm -A -f 8 -6 -s lc
capture svc-add-udp4-ops     ipvsadm -A -u 192.0.2.12:53 -s rr -o
capture svc-edit-tcp4        ipvsadm -E -t 192.0.2.10:80 -s wrr
capture dest-add-masq4       ipvsadm -a -t 192.0.2.10:80 -r 10.0.0.5:8080 -m -w 3 -x 100 -y 10
capture dest-add-route6      ipvsadm -a -u [2001:db8::10]:53 -r [2001:db8:1::5]:5353 -g -w 2
capture dest-add-tunnel-fwm4 ipvsadm -a -f 7 -r 10.0.0.6:0 -i -w 1
capture dest-edit-masq4      ipvsadm -e -t 192.0.2.10:80 -r 10.0.0.5:8080 -m -w 5 -x 100 -y 10
capture err-dest-add-esrch   ipvsadm -a -t 192.0.2.99:80 -r 10.0.0.5:8080 -m
capture err-svc-add-eexist   ipvsadm -A -t 192.0.2.10:80 -s rr

# One connection attempt through the masquerading destination, so that the
# dump carries non-zero counters (IPVS balances locally generated traffic).
python3 -c 'import socket; s = socket.socket(); s.settimeout(1)
try: s.connect(("192.0.2.10", 80))
except OSError: pass' || true
capture dump-all             ipvsadm -Ln

capture dest-del-masq4       ipvsadm -d -t 192.0.2.10:80 -r 10.0.0.5:8080
capture svc-del-tcp4         ipvsadm -D -t 192.0.2.10:80
capture svc-del-fwm6         ipvsadm -D -f 8 -6

ip link del ipvscap0
ip link del ipvsd0
rm -rf "$tmp"
