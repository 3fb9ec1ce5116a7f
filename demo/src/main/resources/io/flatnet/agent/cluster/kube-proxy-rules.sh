#!/usr/bin/env bash
# The nat rules kube-proxy's iptables mode writes for Services, in the same chain shapes, for
# nodes where no kube-proxy runs (the cluster demo and CI run this in each node's kernel). On a
# real node kube-proxy writes these itself; run it with --masquerade-all (docs/services.md).
#
#   kube-proxy-rules.sh init
#       the fixed chains: KUBE-SERVICES (from PREROUTING and OUTPUT), KUBE-NODEPORTS (last in
#       KUBE-SERVICES, for local destinations), KUBE-MARK-MASQ, KUBE-POSTROUTING (MASQUERADE)
#   kube-proxy-rules.sh service NAMESPACE/NAME tcp|udp CLUSTER_IP PORT NODE_PORT|- ENDPOINT...
#       one Service port: KUBE-SVC-* (statistic random over the endpoints), one KUBE-SEP-* per
#       endpoint (hairpin mark, DNAT), and KUBE-EXT-* behind KUBE-NODEPORTS for a node port.
#       ENDPOINT is ip:port, or [ipv6]:port. The family follows CLUSTER_IP.
#
# Uses iptables-restore/ip6tables-restore --noflush (Debian's are the nf_tables backend).
set -euo pipefail

restore() { # family
  if [[ $1 == 6 ]]; then ip6tables-restore --noflush; else iptables-restore --noflush; fi
}

# kube-proxy names chains by a hash of the service port; 16 hex digits are as unique here.
chain() { # prefix key
  echo "$1-$(printf '%s' "$2" | sha256sum | cut -c1-16 | tr a-f A-F)"
}

init() {
  for family in 4 6; do
    restore "$family" <<EOF
*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
COMMIT
EOF
  done
}

service() {
  local name=$1 proto=$2 cluster_ip=$3 port=$4 node_port=$5
  shift 5
  (($# > 0)) || { echo "kube-proxy-rules.sh: service $name has no endpoints" >&2; exit 2; }
  local family=4 host=/32
  if [[ $cluster_ip == *:* ]]; then family=6 host=/128; fi
  local key="$name:$port/$proto"
  local svc ext rules endpoint ip left probability sep
  svc=$(chain KUBE-SVC "$key")
  ext=$(chain KUBE-EXT "$key")
  rules="*nat"$'\n'":$svc - [0:0]"$'\n'
  for endpoint in "$@"; do
    rules+=":$(chain KUBE-SEP "$key $endpoint") - [0:0]"$'\n'
  done
  # Inserted, so that KUBE-NODEPORTS stays the last rule of KUBE-SERVICES.
  rules+="-I KUBE-SERVICES 1 -d $cluster_ip$host -p $proto -m comment --comment \"$name cluster IP\" -m $proto --dport $port -j $svc"$'\n'
  # What --masquerade-all writes: every packet to the cluster IP is SNATed to the node, so the
  # reply comes back through this kernel to be un-DNATed.
  rules+="-A $svc -d $cluster_ip$host -p $proto -m comment --comment \"$name cluster IP\" -m $proto --dport $port -j KUBE-MARK-MASQ"$'\n'
  left=$#
  for endpoint in "$@"; do
    sep=$(chain KUBE-SEP "$key $endpoint")
    probability=""
    if ((left > 1)); then
      probability="-m statistic --mode random --probability $(awk "BEGIN { printf \"%.10f\", 1 / $left }") "
    fi
    rules+="-A $svc -m comment --comment \"$name -> $endpoint\" $probability-j $sep"$'\n'
    ip=${endpoint%:*}
    ip=${ip#[}
    ip=${ip%]}
    rules+="-A $sep -s $ip$host -m comment --comment \"$name\" -j KUBE-MARK-MASQ"$'\n'
    rules+="-A $sep -p $proto -m comment --comment \"$name\" -m $proto -j DNAT --to-destination $endpoint"$'\n'
    left=$((left - 1))
  done
  if [[ $node_port != - ]]; then
    rules+=":$ext - [0:0]"$'\n'
    rules+="-A KUBE-NODEPORTS -p $proto -m comment --comment \"$name\" -m $proto --dport $node_port -j $ext"$'\n'
    rules+="-A $ext -m comment --comment \"masquerade traffic for $name external destinations\" -j KUBE-MARK-MASQ"$'\n'
    rules+="-A $ext -j $svc"$'\n'
  fi
  rules+="COMMIT"$'\n'
  restore "$family" <<<"$rules"
}

case "${1:-}" in
  init) init ;;
  service) shift; service "$@" ;;
  *) sed -n '2,15p' "$0" >&2; exit 2 ;;
esac
