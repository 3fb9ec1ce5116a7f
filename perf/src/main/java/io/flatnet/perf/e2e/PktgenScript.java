package io.flatnet.perf.e2e;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The Lua script {@code bench e2e --generator pktgen} gives Pktgen-DPDK ({@code pktgen -f
 * run_dir/pktgen.lua}) for one offered-load trial. It was written for, and run with, Pktgen-DPDK
 * 23.06.1 built with {@code -Denable_lua=true} (perf/pktgen/build-pktgen.sh).
 *
 * <p>Both ports send at full speed, each to a range of destinations that the routes send out of the
 * other port (port 0 to the first route of port 1 and the other way round: 512 UDP flows a port for
 * the standard /23s), with timestamped latency probes every {@code latencyMicros} on each port.
 * After the warm-up it clears pktgen's counters (its latency figures too), prints pktgen's 1 s
 * rates for the measured seconds, stops, waits for the rings to drain and for pktgen's statistics
 * timer to take one more sample, then prints each port's totals since the clear and its latency
 * figures, and quits. Every line it prints starts with {@link PktgenStats#MARKER}.
 *
 * <p>pktgen's latency probes are copies of its "single" packet (72 bytes, UDP to port 1028), so
 * that packet's addresses are set to the first destination of the port's range: the probes are
 * routed as the range's packets are. A port's latency figures are those of the probes it received,
 * i.e. those the other port sent through the DUT.
 */
public final class PktgenScript {
  private PktgenScript() {}

  /** The UDP ports of the range packets: 1000 to 1001, as testpmd flowgen sends. */
  static final int SRC_UDP = 1000;

  static final int DST_UDP = 1001;

  /** What one pktgen port sends: its source address and a destination range. */
  public record Flow(int port, int source, int firstDestination, int lastDestination) {
    int flows() {
      return lastDestination - firstDestination + 1;
    }
  }

  /**
   * Each port's flow: port {@code p} sends to every address of the first route out of port {@code 1
   * - p} (512 for a /23), from 10.254.{p}.1.
   */
  public static List<Flow> flows(RouteSet routes) {
    List<Flow> out = new ArrayList<>();
    for (int p = 0; p < 2; p++) {
      int other = 1 - p;
      RouteSet.Route r =
          routes.routes().stream()
              .filter(x -> x.port() == other)
              .findFirst()
              .orElseThrow(
                  () ->
                      new IllegalArgumentException(
                          "pktgen needs a route out of port "
                              + other
                              + " (routes "
                              + routes
                              + ")"));
      if (r.length() < 16) {
        throw new IllegalArgumentException(
            "pktgen's range would be too long: route " + r.prefix() + " (at most a /16)");
      }
      int first = r.address();
      int last = first + (1 << (32 - r.length())) - 1;
      out.add(new Flow(p, 0x0AFE0001 | p << 8, first, last));
    }
    return out;
  }

  /**
   * The script's text.
   *
   * @param frameBytes Ethernet frame size with FCS (pktgen's "size")
   * @param routes the DUT's routes (see {@link #flows})
   * @param warmupSeconds seconds of traffic before the counters are cleared
   * @param measureSeconds measured seconds after the clear (and one partial second)
   * @param latencyMicros microseconds between latency probes on each port
   * @param ratePercent each port's rate in % of its link speed; 100: as fast as pktgen can
   */
  public static String lua(
      int frameBytes,
      RouteSet routes,
      int warmupSeconds,
      int measureSeconds,
      int latencyMicros,
      double ratePercent) {
    if (frameBytes < 64 || frameBytes > 1518) {
      throw new IllegalArgumentException("frame size " + frameBytes + " outside 64..1518");
    }
    List<Flow> flows = flows(routes);
    StringBuilder sb = new StringBuilder();
    sb.append("-- flatnet bench e2e: one offered-load trial with Pktgen-DPDK (23.06.1, Lua).\n");
    sb.append(
        "-- Generated; see docs/benchmarking.md. Run: pktgen ... -- -P -m '1.[0-1]' -f this\n");
    sb.append(
        f(
            "local WARMUP, MEASURE, FRAME, LAT_US, RATE = %d, %d, %d, %d, %s%n",
            warmupSeconds,
            measureSeconds,
            frameBytes,
            latencyMicros,
            ratePercent == Math.rint(ratePercent)
                ? Long.toString((long) ratePercent)
                : Double.toString(ratePercent)));
    sb.append(
        """
        local function say(s) io.write("%s " .. s .. "\\n"); io.flush() end
        local flows = {
        """
            .formatted(PktgenStats.MARKER));
    for (Flow fl : flows) {
      sb.append(
          f(
              "  [%d] = {src = \"%s\", first = \"%s\", last = \"%s\", dmac = \"%s\"},%n",
              fl.port(),
              RouteSet.dotted(fl.source()),
              RouteSet.dotted(fl.firstDestination()),
              RouteSet.dotted(fl.lastDestination()),
              // flatnet, l3fwd and testpmd io do not check it; the DUT's vhost port has no
              // fixed MAC. A locally administered one.
              f("02:00:00:00:01:%02x", fl.port())));
    }
    sb.append(
        f(
            """
            }
            pktgen.screen("off")
            pktgen.stop("all")
            for p = 0, 1 do
              local fl = flows[p]
              -- the single packet: the latency probes are copies of it
              pktgen.set_proto(p, "udp")
              pktgen.set(p, "size", FRAME)
              pktgen.set(p, "sport", %d)
              pktgen.set(p, "dport", %d)
              pktgen.set(p, "ttl", 64)
              pktgen.set_ipaddr(p, "src", fl.src .. "/16")
              pktgen.set_ipaddr(p, "dst", fl.first)
              pktgen.set_mac(p, "dst", fl.dmac)
              -- the range: every destination of the route, in turn
              pktgen.range.dst_mac(p, "start", fl.dmac)
              pktgen.range.src_ip(p, "start", fl.src)
              pktgen.range.src_ip(p, "inc", "0.0.0.0")
              pktgen.range.src_ip(p, "min", fl.src)
              pktgen.range.src_ip(p, "max", fl.src)
              pktgen.range.dst_ip(p, "start", fl.first)
              pktgen.range.dst_ip(p, "inc", "0.0.0.1")
              pktgen.range.dst_ip(p, "min", fl.first)
              pktgen.range.dst_ip(p, "max", fl.last)
              for _, what in ipairs({"src_port", "dst_port"}) do
                local v = (what == "src_port") and %d or %d
                pktgen.range[what](p, "start", v)
                pktgen.range[what](p, "inc", 0)
                pktgen.range[what](p, "min", v)
                pktgen.range[what](p, "max", v)
              end
              pktgen.range.ttl(p, "start", 64)
              pktgen.range.ttl(p, "inc", 0)
              pktgen.range.ttl(p, "min", 64)
              pktgen.range.ttl(p, "max", 64)
              pktgen.range.pkt_size(p, "start", FRAME)
              pktgen.range.pkt_size(p, "inc", 0)
              pktgen.range.pkt_size(p, "min", FRAME)
              pktgen.range.pkt_size(p, "max", FRAME)
            end
            pktgen.set("all", "rate", RATE)
            pktgen.set_range("all", "on")
            pktgen.latency("all", "rate", LAT_US)
            pktgen.latency("all", "enable")
            say(string.format("ready frame %%d ports %%d", FRAME, pktgen.portCount()))
            local function rates(phase, n)
              local r = pktgen.portStats("all", "rate")
              say(string.format("sec %%s %%d rx0 %%d rx1 %%d tx0 %%d tx1 %%d", phase, n,
                r[0].ipackets, r[1].ipackets, r[0].opackets, r[1].opackets))
            end
            pktgen.start("all")
            for s = 1, WARMUP do pktgen.sleep(1); rates("warmup", s) end
            -- the warm-up's latency (the DUT's first packets: JIT, first calls), before the clear
            local w = pktgen.pktStats("all")
            local wt = pktgen.portStats("all", "port")
            for p = 0, 1 do
              local l = w[p].latency
              say(string.format("warmup_latency %%d lat_pkts %%d lat_avg_us %%.3f lat_max_us %%.3f"
                .. " tx %%d rx %%d", p, l.num_pkts, l.avg_us, l.max_us, wt[p].opackets,
                wt[p].ipackets))
            end
            pktgen.clr()
            pktgen.sleep(1); rates("partial", 1)
            for s = 1, MEASURE do pktgen.sleep(1); rates("measure", s) end
            pktgen.stop("all")
            -- drain, and let pktgen's 1 s statistics timer take its sample
            pktgen.delay(1500)
            local t = pktgen.portStats("all", "port")
            local k = pktgen.pktStats("all")
            for p = 0, 1 do
              local l = k[p].latency
              say(string.format("port %%d tx %%d rx %%d missed %%d ierrors %%d oerrors %%d"
                .. " nombuf %%d lat_pkts %%d lat_skipped %%d lat_min_us %%.3f lat_avg_us %%.3f"
                .. " lat_max_us %%.3f", p, t[p].opackets, t[p].ipackets, t[p].imissed,
                t[p].ierrors, t[p].oerrors, t[p].rx_nombuf, l.num_pkts, l.num_skipped,
                l.min_us, l.avg_us, l.max_us))
            end
            say("done")
            pktgen.quit()
            """,
            SRC_UDP, DST_UDP, SRC_UDP, DST_UDP));
    return sb.toString();
  }

  private static String f(String format, Object... args) {
    return String.format(Locale.ROOT, format, args);
  }
}
