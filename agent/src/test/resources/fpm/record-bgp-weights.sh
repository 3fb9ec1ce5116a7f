#!/bin/bash
# Records what zebra sends over FPM for a weighted ECMP BGP route (link bandwidth), into this
# directory as bgp-weights.fpm. Usage (as root): ./record-bgp-weights.sh. See README.md.
# Node "a" (zebra with dplane_fpm_nl + bgpd, AS 65001) peers with "b" (AS 65002, 192.168.1.1) and
# "c" (AS 65003, 192.168.2.1), bgpd without zebra; both announce 10.77.0.0/16 with link
# bandwidth 100 and 300 Mbps, so a's bgpd selects both paths with weights.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tag=fpmw-$$
work=$(mktemp -d /tmp/fpmw.XXXXXX)
chmod 755 "$work"
cleanup() {
  for p in "$work"/*/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true; done
  [ -n "${listener:-}" ] && kill "$listener" 2>/dev/null || true
  sleep 0.5
  for n in a b c; do ip netns del "$tag-$n" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

for n in a b c; do ip netns add "$tag-$n"; ip -n "$tag-$n" link set lo up; mkdir "$work/$n"; done
ip link add "$tag-0" type veth peer name "$tag-0p"
ip link set "$tag-0" netns "$tag-a" name up0
ip link set "$tag-0p" netns "$tag-b" name tor
ip link add "$tag-1" type veth peer name "$tag-1p"
ip link set "$tag-1" netns "$tag-a" name up1
ip link set "$tag-1p" netns "$tag-c" name tor
ip -n "$tag-a" addr add 192.168.1.10/24 dev up0
ip -n "$tag-a" addr add 192.168.2.10/24 dev up1
ip -n "$tag-b" addr add 192.168.1.1/24 dev tor
ip -n "$tag-c" addr add 192.168.2.1/24 dev tor
for l in "a up0" "a up1" "b tor" "c tor"; do set -- $l; ip -n "$tag-$1" link set "$2" up; done

cat > "$work/a/zebra.conf" <<CONF
hostname a
fpm address 127.0.0.1 port 2620
no fpm use-next-hop-groups
CONF
cat > "$work/a/bgpd.conf" <<CONF
hostname a
router bgp 65001
 bgp router-id 192.168.1.10
 no bgp ebgp-requires-policy
 bgp bestpath as-path multipath-relax
 neighbor 192.168.1.1 remote-as 65002
 neighbor 192.168.2.1 remote-as 65003
 address-family ipv4 unicast
  maximum-paths 4
 exit-address-family
CONF
tor() { # name asn address peer bandwidth
  cat > "$work/$1/bgpd.conf" <<CONF
hostname $1
router bgp $2
 bgp router-id $3
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor $4 remote-as 65001
 address-family ipv4 unicast
  network 10.77.0.0/16
  neighbor $4 route-map bw out
 exit-address-family
route-map bw permit 10
 set extcommunity bandwidth $5
CONF
}
tor b 65002 192.168.1.1 192.168.1.10 100
tor c 65003 192.168.2.1 192.168.2.10 300
chown -R frr:frr "$work"

ip netns exec "$tag-a" python3 "$here/fpm-listener.py" 127.0.0.1 2620 "$work" &
listener=$!
sleep 0.5
daemon() { # netns-suffix daemon args...
  local n=$1 d=$2; shift 2
  ip netns exec "$tag-$n" /usr/lib/frr/$d -d -u frr -g frr -N "$tag-$n" -P 0 \
    -z "$work/$n/zserv.api" --vty_socket "$work/$n" -i "$work/$n/$d.pid" -f "$work/$n/$d.conf" "$@"
}
daemon a zebra -M dplane_fpm_nl
sleep 1
daemon a bgpd
daemon b bgpd -Z
daemon c bgpd -Z
for i in $(seq 1 60); do
  if ip netns exec "$tag-a" vtysh --vty_socket "$work/a" -c 'show ip route 10.77.0.0/16' 2>/dev/null | grep -q 'weight'; then
    n=$(ip netns exec "$tag-a" vtysh --vty_socket "$work/a" -c 'show ip route 10.77.0.0/16' | grep -c 'via')
    [ "$n" -ge 2 ] && break
  fi
  sleep 1
done
sleep 3
ip netns exec "$tag-a" vtysh --vty_socket "$work/a" -c 'show ip route 10.77.0.0/16' -c 'show bgp ipv4 unicast 10.77.0.0/16' > "$work/routes.txt"
kill "$listener"; wait "$listener" 2>/dev/null || true
listener=
cp "$work/conn-1.bin" "$here/bgp-weights.fpm"
cp "$work/routes.txt" "$here/bgp-weights-routes.txt"
echo "recorded bgp-weights.fpm into $here"
