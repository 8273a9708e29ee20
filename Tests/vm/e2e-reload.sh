#!/usr/bin/env bash
# Bad input end to end. A SIGHUP with an invalid configuration is rejected:
# the kernel's state is unchanged (`ipvsadm -Sn` and `nft list ruleset`
# identical, several resyncs later), `ballastctl status` (text and JSON)
# shows the configuration STALE with the error at file:line, and the metric
# ballast_config_stale is 1; a good reload clears both. A malformed manifest
# file is reported with its file:line while the other files keep working
# (and keep being read), and the broken file's last good version stays in
# force; fixing it recovers. Traffic is checked at every step.
source "$(dirname "${BASH_SOURCE[0]}")/e2e-lib.sh"

e2e_segment
e2e_client
e2e_node n1 192.0.2.1/24
e2e_backend n1 b1 1 local
e2e_backend n1 b2 2 remote

web() { { node_doc n1; service_doc web 80; slice_doc web 8080 "$@"; } | put web.yaml; }
api_doc() { service_doc api 81; slice_doc api 8080 10.0.2.5@n2; }
web 10.0.1.5@n1
api_doc | put api.yaml
e2e_config n1 "ipvs: {resyncInterval: 1s}"
e2e_start n1
web_vip=$(vip_of n1 web)
api_vip=$(vip_of n1 api)
assert_eq b1 "$(http "$web_vip" | cut -d' ' -f1)"
assert_eq b2 "$(http "$api_vip:81" | cut -d' ' -f1)"
# The data plane as the kernel holds it (api's backend is remote: SNAT).
data_plane() { ipvs n1; in_ns "${node_ns[n1]}" nft list ruleset; }
before=$(data_plane)
assert_contains "$before" "masquerade" "the SNAT rule for api's remote endpoint"
unchanged() {
    local now
    now=$(data_plane)
    [[ $now == "$before" ]] || { diff <(echo "$before") <(echo "$now") >&2; fail "$1"; }
}
config=$work/n1/ballast.yaml

# An invalid configuration: a pool range with host bits set.
cp "$config" "$work/good.yaml"
sed -i 's|addresses: \[.*\]|addresses: [192.0.2.1/24]|' "$config"
line=$(grep -n 'addresses: \[192.0.2.1/24\]' "$config" | cut -d: -f1)
kill -HUP "${node_pid[n1]}"
stale() { prints '"state":"stale"' api n1 status; }
wait_until 20 "the rejected reload shows in status" stale
text=$(ctl n1 status)
assert_contains "$text" "ballastd on n1: degraded"
assert_contains "$text" "  ! the configuration in force is stale: the last reload of $config was rejected"
assert_contains "$text" "(STALE, loaded"
assert_contains "$text" "rejected reload: $config:$line:"
assert_contains "$text" "host bits set"
assert_eq "degraded stale $config:$line" "$(ctl n1 status --output json | json '
c = d["config"]
print(d["health"], c["state"], ":".join(c["error"].split(":")[:2]))')" "status --output json"
assert_contains "$(metrics n1)" "ballast_config_stale 1"
await_syncs n1 2
unchanged "IPVS or nftables changed after the rejected reload"
assert_eq b1 "$(http "$web_vip" | cut -d' ' -f1)" "traffic with the old configuration"
assert_eq b2 "$(http "$api_vip:81" | cut -d' ' -f1)" "traffic with the old configuration (SNAT)"

# The fixed file reloads; status is current again.
cp "$work/good.yaml" "$config"
kill -HUP "${node_pid[n1]}"
wait_until 20 "the good reload clears the stale state" not stale
assert_contains "$(ctl n1 status)" "ballastd on n1: ok"
assert_contains "$(metrics n1)" "ballast_config_stale 0"
await_syncs n1 1
unchanged "a reload of the same configuration changed IPVS or nftables"

# A broken edit of api.yaml: port 99999. Its last good version stays.
api_doc | sed 's/port: 81,/port: 99999,/' | put api.yaml
bad_line=$(grep -n 'port: 99999' "$manifests/api.yaml" | cut -d: -f1)
# A new file that was never good: nothing from it is used.
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: new, namespace: e2e}\nspec: [\n' | put new.yaml
wait_until 10 "both broken files are reported" prints '2 manifest problems' api n1 status
text=$(ctl n1 status)
assert_contains "$text" "ballastd on n1: degraded"
assert_contains "$text" "  ! 2 manifest problems (see source below)"
assert_contains "$text" "api.yaml:$bad_line:"
assert_contains "$text" "(the last good version of api.yaml stays in force)"
assert_contains "$text" "new.yaml:"
assert_contains "$text" "(nothing from new.yaml is in use)"
assert_eq "2 problems, api.yaml:$bad_line" "$(ctl n1 status --output json | json '
p = d["sourceProblems"]
api = [x.split("/api.yaml:")[1].split(":")[0] for x in p if "/api.yaml:" in x]
print(len(p), "problems, api.yaml:" + ",".join(api))')" "sourceProblems in status --output json"
assert_eq b2 "$(http "$api_vip:81" | cut -d' ' -f1)" "api served from the last good version of its file"
# Other files keep being read: web gains an endpoint.
web 10.0.1.5@n1 10.0.2.5@n2
wait_until 10 "web's new endpoint is programmed" prints "-a -t $web_vip:80 -r 10.0.2.5:8080" ipvs n1
assert_contains "$(ipvs n1)" "$(grep -- "$api_vip:81" <<< "$before")" "api's virtual service, from its last good version"
assert_eq "b1 b2" "$(for _ in 1 2; do http "$web_vip" | cut -d' ' -f1; done | sort | tr '\n' ' ' | sed 's/ $//')"

# Fixing the files recovers.
api_doc | put api.yaml
rm "$manifests/new.yaml"
wait_until 10 "the manifest problems clear" prints '"sourceProblems":[]' api n1 status
assert_contains "$(ctl n1 status)" "ballastd on n1: ok"
assert_eq b2 "$(http "$api_vip:81" | cut -d' ' -f1)"
pass "a rejected reload and broken manifests are reported with file:line and change nothing else"
