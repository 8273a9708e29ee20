#!/usr/bin/env bash
# `ballastctl ipvs apply` of a file using every field programs exactly what
# ipvsadm programs for the same rules (compared through `ipvsadm -Sn` of two
# fresh namespaces), `show --json` prints the documented schema, and a second
# apply is a no-op.
source "$(dirname "${BASH_SOURCE[0]}")/ipvs-lib.sh"

ours=$(unique_name rcn-f)
theirs=$(unique_name rcn-g)
ipvs_ns "$ours"
ipvs_ns "$theirs"

cat > "$work/table.yaml" <<'YAML'
services:
  - address: 192.0.2.10
    port: 80
    protocol: tcp
    scheduler: wlc
    persistence: {timeout: 10800, netmask: 24}
    destinations:
      - {address: 10.0.0.5, port: 8080, weight: 3, forward: masq, upperThreshold: 100, lowerThreshold: 10}
      - {address: 10.0.0.6, port: 8080}
  - address: 192.0.2.10
    port: 53
    protocol: udp
    scheduler: sh
    flags: [one-packet, sh-port, sh-fallback]
    destinations:
      - address: 10.0.0.7
  - address: "2001:db8::10"
    port: 443
    protocol: sctp
    scheduler: mh
    flags: [mh-port]
    persistence: {timeout: 60, netmask: 64}
    destinations:
      - {address: "2001:db8:1::5", weight: 0}
  - fwmark: 7
    family: ipv4
    persistence: {}
    destinations:
      - {address: 10.0.0.8, forward: route}
      - {address: 10.0.0.9, port: 8080, forward: tunnel}
  - fwmark: 8
    family: ipv6
    scheduler: lc
    destinations:
      - {address: "2001:db8:1::8", port: 8080, weight: 2}
  - address: 192.0.2.11
    port: 80
    destinations:
      - {address: 10.0.0.5, forward: route}
      - {address: 10.0.0.6, port: 80, forward: tunnel}
YAML

# The same table in ipvsadm's own words.
cat > "$work/rules" <<'RULES'
-A -t 192.0.2.10:80 -s wlc -p 10800 -M 255.255.255.0
-a -t 192.0.2.10:80 -r 10.0.0.5:8080 -m -w 3 -x 100 -y 10
-a -t 192.0.2.10:80 -r 10.0.0.6:8080 -m -w 1
-A -u 192.0.2.10:53 -s sh -b sh-port,sh-fallback -o
-a -u 192.0.2.10:53 -r 10.0.0.7:53 -m -w 1
-A --sctp-service [2001:db8::10]:443 -s mh -b mh-port -p 60 -M 64
-a --sctp-service [2001:db8::10]:443 -r [2001:db8:1::5]:443 -m -w 0
-A -f 7 -s rr -p 300
-a -f 7 -r 10.0.0.8:0 -g -w 1
-a -f 7 -r 10.0.0.9:8080 -i -w 1
-A -f 8 -6 -s lc
-a -f 8 -6 -r [2001:db8:1::8]:8080 -m -w 2
-A -t 192.0.2.11:80 -s rr
-a -t 192.0.2.11:80 -r 10.0.0.5:80 -g -w 1
-a -t 192.0.2.11:80 -r 10.0.0.6:80 -i -w 1
RULES
ip netns exec "$theirs" ipvsadm -R < "$work/rules"

out=$(ctl "$ours" ipvs apply "$work/table.yaml")
assert_contains "$out" "applied 15 writes (0 failed), 0 draining, 0 conflicts, 1 dump"
assert_eq "$(ipvs_rules "$theirs")" "$(ipvs_rules "$ours")" "ipvsadm -Sn of ballastctl's table vs ipvsadm's"
# -S leaves out thresholds and persistence netmasks of IPv6; these listings show them.
for view in --thresholds --persistent-conn; do
    assert_eq "$(ip netns exec "$theirs" ipvsadm -Ln $view | sort)" "$(ip netns exec "$ours" ipvsadm -Ln $view | sort)" \
        "ipvsadm -Ln $view of ballastctl's table vs ipvsadm's"
done

# Reading the table back: nothing differs, so nothing is written.
out=$(ctl "$ours" ipvs apply "$work/table.yaml")
assert_eq "applied 0 writes (0 failed), 0 draining, 0 conflicts, 1 dump" "$out" "second apply"

# show --json: the documented schema, with every key explicit and in its
# order (a fresh namespace has no traffic, so the counters are zero).
ctl "$ours" ipvs show --json > "$work/show.json"
diff -u - "$work/show.json" <<'JSON' || fail "show --json differs from the documented schema"
{
  "services": [
    {
      "address": "192.0.2.10",
      "port": 53,
      "protocol": "udp",
      "scheduler": "sh",
      "flags": [
        "one-packet",
        "sh-fallback",
        "sh-port"
      ],
      "stats": {
        "connections": 0,
        "inPackets": 0,
        "outPackets": 0,
        "inBytes": 0,
        "outBytes": 0,
        "cps": 0,
        "inPPS": 0,
        "outPPS": 0,
        "inBPS": 0,
        "outBPS": 0
      },
      "destinations": [
        {
          "address": "10.0.0.7",
          "port": 53,
          "forward": "masq",
          "weight": 1,
          "upperThreshold": 0,
          "lowerThreshold": 0,
          "connections": {
            "active": 0,
            "inactive": 0,
            "persistent": 0
          },
          "stats": {
            "connections": 0,
            "inPackets": 0,
            "outPackets": 0,
            "inBytes": 0,
            "outBytes": 0,
            "cps": 0,
            "inPPS": 0,
            "outPPS": 0,
            "inBPS": 0,
            "outBPS": 0
          }
        }
      ]
    },
    {
      "address": "192.0.2.10",
      "port": 80,
      "protocol": "tcp",
      "scheduler": "wlc",
      "flags": [],
      "persistence": {
        "timeout": 10800,
        "netmask": 24
      },
      "stats": {
        "connections": 0,
        "inPackets": 0,
        "outPackets": 0,
        "inBytes": 0,
        "outBytes": 0,
        "cps": 0,
        "inPPS": 0,
        "outPPS": 0,
        "inBPS": 0,
        "outBPS": 0
      },
      "destinations": [
        {
          "address": "10.0.0.5",
          "port": 8080,
          "forward": "masq",
          "weight": 3,
          "upperThreshold": 100,
          "lowerThreshold": 10,
          "connections": {
            "active": 0,
            "inactive": 0,
            "persistent": 0
          },
          "stats": {
            "connections": 0,
            "inPackets": 0,
            "outPackets": 0,
            "inBytes": 0,
            "outBytes": 0,
            "cps": 0,
            "inPPS": 0,
            "outPPS": 0,
            "inBPS": 0,
            "outBPS": 0
          }
        },
        {
          "address": "10.0.0.6",
          "port": 8080,
          "forward": "masq",
          "weight": 1,
          "upperThreshold": 0,
          "lowerThreshold": 0,
          "connections": {
            "active": 0,
            "inactive": 0,
            "persistent": 0
          },
          "stats": {
            "connections": 0,
            "inPackets": 0,
            "outPackets": 0,
            "inBytes": 0,
            "outBytes": 0,
            "cps": 0,
            "inPPS": 0,
            "outPPS": 0,
            "inBPS": 0,
            "outBPS": 0
          }
        }
      ]
    },
    {
      "address": "192.0.2.11",
      "port": 80,
      "protocol": "tcp",
      "scheduler": "rr",
      "flags": [],
      "stats": {
        "connections": 0,
        "inPackets": 0,
        "outPackets": 0,
        "inBytes": 0,
        "outBytes": 0,
        "cps": 0,
        "inPPS": 0,
        "outPPS": 0,
        "inBPS": 0,
        "outBPS": 0
      },
      "destinations": [
        {
          "address": "10.0.0.5",
          "port": 80,
          "forward": "route",
          "weight": 1,
          "upperThreshold": 0,
          "lowerThreshold": 0,
          "connections": {
            "active": 0,
            "inactive": 0,
            "persistent": 0
          },
          "stats": {
            "connections": 0,
            "inPackets": 0,
            "outPackets": 0,
            "inBytes": 0,
            "outBytes": 0,
            "cps": 0,
            "inPPS": 0,
            "outPPS": 0,
            "inBPS": 0,
            "outBPS": 0
          }
        },
        {
          "address": "10.0.0.6",
          "port": 80,
          "forward": "tunnel",
          "weight": 1,
          "upperThreshold": 0,
          "lowerThreshold": 0,
          "connections": {
            "active": 0,
            "inactive": 0,
            "persistent": 0
          },
          "stats": {
            "connections": 0,
            "inPackets": 0,
            "outPackets": 0,
            "inBytes": 0,
            "outBytes": 0,
            "cps": 0,
            "inPPS": 0,
            "outPPS": 0,
            "inBPS": 0,
            "outBPS": 0
          }
        }
      ]
    },
    {
      "address": "2001:db8::10",
      "port": 443,
      "protocol": "sctp",
      "scheduler": "mh",
      "flags": [
        "mh-port"
      ],
      "persistence": {
        "timeout": 60,
        "netmask": 64
      },
      "stats": {
        "connections": 0,
        "inPackets": 0,
        "outPackets": 0,
        "inBytes": 0,
        "outBytes": 0,
        "cps": 0,
        "inPPS": 0,
        "outPPS": 0,
        "inBPS": 0,
        "outBPS": 0
      },
      "destinations": [
        {
          "address": "2001:db8:1::5",
          "port": 443,
          "forward": "masq",
          "weight": 0,
          "upperThreshold": 0,
          "lowerThreshold": 0,
          "connections": {
            "active": 0,
            "inactive": 0,
            "persistent": 0
          },
          "stats": {
            "connections": 0,
            "inPackets": 0,
            "outPackets": 0,
            "inBytes": 0,
            "outBytes": 0,
            "cps": 0,
            "inPPS": 0,
            "outPPS": 0,
            "inBPS": 0,
            "outBPS": 0
          }
        }
      ]
    },
    {
      "fwmark": 7,
      "family": "ipv4",
      "scheduler": "rr",
      "flags": [],
      "persistence": {
        "timeout": 300,
        "netmask": 32
      },
      "stats": {
        "connections": 0,
        "inPackets": 0,
        "outPackets": 0,
        "inBytes": 0,
        "outBytes": 0,
        "cps": 0,
        "inPPS": 0,
        "outPPS": 0,
        "inBPS": 0,
        "outBPS": 0
      },
      "destinations": [
        {
          "address": "10.0.0.8",
          "port": 0,
          "forward": "route",
          "weight": 1,
          "upperThreshold": 0,
          "lowerThreshold": 0,
          "connections": {
            "active": 0,
            "inactive": 0,
            "persistent": 0
          },
          "stats": {
            "connections": 0,
            "inPackets": 0,
            "outPackets": 0,
            "inBytes": 0,
            "outBytes": 0,
            "cps": 0,
            "inPPS": 0,
            "outPPS": 0,
            "inBPS": 0,
            "outBPS": 0
          }
        },
        {
          "address": "10.0.0.9",
          "port": 8080,
          "forward": "tunnel",
          "weight": 1,
          "upperThreshold": 0,
          "lowerThreshold": 0,
          "connections": {
            "active": 0,
            "inactive": 0,
            "persistent": 0
          },
          "stats": {
            "connections": 0,
            "inPackets": 0,
            "outPackets": 0,
            "inBytes": 0,
            "outBytes": 0,
            "cps": 0,
            "inPPS": 0,
            "outPPS": 0,
            "inBPS": 0,
            "outBPS": 0
          }
        }
      ]
    },
    {
      "fwmark": 8,
      "family": "ipv6",
      "scheduler": "lc",
      "flags": [],
      "stats": {
        "connections": 0,
        "inPackets": 0,
        "outPackets": 0,
        "inBytes": 0,
        "outBytes": 0,
        "cps": 0,
        "inPPS": 0,
        "outPPS": 0,
        "inBPS": 0,
        "outBPS": 0
      },
      "destinations": [
        {
          "address": "2001:db8:1::8",
          "port": 8080,
          "forward": "masq",
          "weight": 2,
          "upperThreshold": 0,
          "lowerThreshold": 0,
          "connections": {
            "active": 0,
            "inactive": 0,
            "persistent": 0
          },
          "stats": {
            "connections": 0,
            "inPackets": 0,
            "outPackets": 0,
            "inBytes": 0,
            "outBytes": 0,
            "cps": 0,
            "inPPS": 0,
            "outPPS": 0,
            "inBPS": 0,
            "outBPS": 0
          }
        }
      ]
    }
  ]
}
JSON

# The output of show --json is itself a table file: applying it changes nothing.
out=$(ctl "$ours" ipvs apply "$work/show.json")
assert_eq "applied 0 writes (0 failed), 0 draining, 0 conflicts, 1 dump" "$out" "apply of show --json"

# The text form lists every service, sorted.
text=$(ctl "$ours" ipvs show)
assert_contains "$text" "IPVS table: 6 services, 9 destinations"
assert_contains "$text" "TCP  192.0.2.10:80"
assert_contains "$text" "persistent 10800s mask /24"
