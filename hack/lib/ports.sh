# shellcheck shell=bash
# free_ports N: print N distinct TCP ports on 127.0.0.1 that nothing listens on now, one per line.
# They are picked below (or above) the kernel's ephemeral range, so that outgoing connections,
# which take their local ports from that range, cannot grab one between the pick and the bind.
free_ports() {
  local n=$1 lo hi from to p picked=" "
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
  if ((lo > 12000)); then from=10000 to=$((lo - 1)); else from=$((hi + 1)) to=65000; fi
  for _ in $(seq 1 $((n * 100))); do
    p=$((from + RANDOM % (to - from + 1)))
    [[ "$picked" == *" $p "* ]] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    picked+="$p "
    echo "$p"
    (($(wc -w <<<"$picked") == n)) && return 0
  done
  echo "free_ports: found fewer than $n free ports in $from-$to" >&2
  return 1
}
