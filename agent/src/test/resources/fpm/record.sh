#!/bin/bash
# Records what FRR's zebra sends over FPM (dplane_fpm_nl) into this directory.
# Usage (as root): ./record.sh nhg-off|nhg-on
# Needs FRR (zebra, staticd, vtysh) and python3. See README.md.
set -euo pipefail
mode=$1
here=$(cd "$(dirname "$0")" && pwd)
ns=fpmrec-$$
work=$(mktemp -d /tmp/fpmrec.XXXXXX)
chmod 755 "$work"
cleanup() {
  for p in "$work"/staticd.pid "$work"/zebra.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true; done
  [ -n "${listener:-}" ] && kill "$listener" 2>/dev/null || true
  sleep 0.5
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns"
ip -n "$ns" link set lo up
# Two "uplinks" (veth pairs, both ends up so the kernel keeps their connected routes).
for i in 0 1; do
  ip -n "$ns" link add up$i type veth peer name up${i}p
  ip -n "$ns" link set up$i up
  ip -n "$ns" link set up${i}p up
  ip -n "$ns" addr add 192.168.$((i + 1)).10/24 dev up$i
  ip -n "$ns" addr add fd00:$((i + 1))::10/64 dev up$i nodad
done

if [ "$mode" = nhg-off ]; then nhg="no fpm use-next-hop-groups"; else nhg=""; fi
cat > "$work/zebra.conf" <<CONF
hostname fpmrec
log file $work/zebra.log debugging
debug zebra fpm
fpm address 127.0.0.1 port 2620
$nhg
CONF
cat > "$work/staticd.conf" <<CONF
hostname fpmrec
ip route 10.9.0.0/16 192.168.1.1
ip route 10.10.0.0/16 192.168.1.1
ip route 10.10.0.0/16 192.168.2.1
ipv6 route fd00:99::/64 fd00:1::1
ipv6 route fd00:98::/64 fe80::1 up0
ip route 10.11.0.0/16 blackhole
ip route 10.12.0.0/16 up0
CONF
chown -R frr:frr "$work"

ip netns exec "$ns" python3 "$here/fpm-listener.py" 127.0.0.1 2620 "$work" &
listener=$!
sleep 0.5
common=(-d -u frr -g frr -N "$ns" -P 0 -z "$work/zserv.api" --vty_socket "$work")
ip netns exec "$ns" /usr/lib/frr/zebra "${common[@]}" -f "$work/zebra.conf" -i "$work/zebra.pid" -M dplane_fpm_nl
sleep 1
ip netns exec "$ns" /usr/lib/frr/staticd "${common[@]}" -f "$work/staticd.conf" -i "$work/staticd.pid"
sleep 5 # zebra connects 3 s after start and sends its table

vty() { ip netns exec "$ns" vtysh --vty_socket "$work" "$@"; }
vty -c 'conf t' -c 'ip route 10.13.0.0/16 192.168.2.1'
sleep 1
vty -c 'conf t' -c 'no ip route 10.9.0.0/16 192.168.1.1' -c 'no ipv6 route fd00:99::/64 fd00:1::1'
sleep 1
vty -c 'conf t' -c 'no ip route 10.10.0.0/16 192.168.2.1'   # ECMP -> one path: DEL + NEW in one frame
sleep 1
ip netns exec "$ns" ip route add 10.50.0.0/16 via 192.168.1.1   # a kernel route
sleep 1
vty -c 'show ip route' -c 'show ipv6 route' > "$work/routes.txt"
# Reconnect: close the connection; zebra reconnects after 3 s and sends its table again.
kill "$listener"; wait "$listener" 2>/dev/null || true
mv "$work/conn-1.bin" "$work/first.bin"
ip netns exec "$ns" python3 "$here/fpm-listener.py" 127.0.0.1 2620 "$work" &
listener=$!
sleep 6
vty -c 'show fpm counters' >> "$work/routes.txt"
cp "$work/first.bin" "$here/$mode-connection1.fpm"
cp "$work/conn-1.bin" "$here/$mode-connection2.fpm"
cp "$work/routes.txt" "$here/$mode-routes.txt"
grep -h -E "fpm|FPM" "$work/zebra.log" | sed -E 's/^[0-9/]+ [0-9:]+ //' > "$here/$mode-zebra-fpm.log" || true
echo "recorded $mode into $here"
