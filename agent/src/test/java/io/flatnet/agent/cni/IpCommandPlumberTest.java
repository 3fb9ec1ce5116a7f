package io.flatnet.agent.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.config.IpAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The commands {@link IpCommandPlumber} would run, recorded instead of run (no namespaces are
 * touched; the lead's end-to-end tests run them for real).
 */
class IpCommandPlumberTest {

  final List<String> ran = new ArrayList<>();
  Function<String, CommandRunner.Result> answer = c -> new CommandRunner.Result(0, "", "");

  final CommandRunner recorder =
      argv -> {
        String c = String.join(" ", argv);
        ran.add(c);
        return answer.apply(c);
      };

  final IpCommandPlumber plumber = new IpCommandPlumber(recorder, 4242);

  static final List<IpAddress> IPS =
      List.of(IpAddress.parse("10.244.1.5"), IpAddress.parse("fd00::5"));
  static final List<IpAddress> GWS =
      List.of(IpAddress.parse("169.254.1.1"), IpAddress.parse("fe80::1"));

  @Test
  void addCreatesThePairInsideTheNamespaceAndConfiguresIt() throws Exception {
    answer = c -> new CommandRunner.Result(c.startsWith("ip link show") ? 1 : 0, "", "");
    plumber.add("/var/run/netns/p1", "eth0", "fnabc", "02:00:00:00:00:05", IPS, GWS, 1500, false);
    String ns = "nsenter --net=/var/run/netns/p1 ";
    assertEquals(
        List.of(
            "ip link show dev fnabc",
            ns
                + "ip link add eth0 mtu 1500 address 02:00:00:00:00:05 type veth peer name fnabc mtu 1500 netns 4242",
            ns + "ip link set lo up",
            ns + "ip -4 addr add 10.244.1.5/32 dev eth0",
            ns + "ip -6 addr add fd00::5/128 dev eth0 nodad",
            ns + "ip link set eth0 up",
            ns + "ip -4 route replace 169.254.1.1/32 dev eth0 scope link",
            ns + "ip -4 route replace default via 169.254.1.1 dev eth0",
            ns + "ip -6 route replace fe80::1/128 dev eth0 scope link",
            ns + "ip -6 route replace default via fe80::1 dev eth0",
            ns + "ethtool -K eth0 tx off",
            "sysctl -q -w net.ipv6.conf.fnabc.disable_ipv6=1",
            "ip link set fnabc up"),
        ran);
  }

  @Test
  void aFailedStepDeletesThePair() {
    answer =
        c -> {
          if (c.contains("addr add 10.244.1.5")) {
            return new CommandRunner.Result(2, "", "RTNETLINK answers: Permission denied\n");
          }
          if (c.startsWith("ip link show")) {
            // absent before the add, present afterwards
            return new CommandRunner.Result(
                ran.stream().anyMatch(r -> r.contains("link add")) ? 0 : 1, "", "");
          }
          return new CommandRunner.Result(0, "", "");
        };
    NetnsPlumber.PlumbingException e =
        assertThrows(
            NetnsPlumber.PlumbingException.class,
            () -> plumber.add("/ns", "eth0", "fnabc", "02:00:00:00:00:05", IPS, GWS, 1500, false));
    assertTrue(
        e.getMessage().endsWith("exited 2: RTNETLINK answers: Permission denied"), e.getMessage());
    assertEquals("ip link del dev fnabc", ran.getLast());
  }

  @Test
  void delIsIdempotent() throws Exception {
    answer = c -> new CommandRunner.Result(1, "", "Device \"fnabc\" does not exist.");
    plumber.del("fnabc");
    assertEquals(List.of("ip link show dev fnabc"), ran);
  }

  @Test
  void sharedAddMakesTheSegmentOnceAndJoinsTheBridgeIsolated() throws Exception {
    answer =
        c ->
            new CommandRunner.Result(
                c.startsWith("ip link show") || c.contains("-j -d link show") ? 1 : 0, "", "");
    plumber.add("/var/run/netns/p1", "eth0", "fnabc", "02:00:00:00:00:05", IPS, GWS, 1500, true);
    String ns = "nsenter --net=/var/run/netns/p1 ";
    assertEquals(
        List.of(
            "ip -j -d link show dev fn-pods0-br",
            "ip link add fn-pods type bridge mcast_snooping 0",
            "sysctl -q -w net.ipv6.conf.fn-pods.disable_ipv6=1",
            "ip link set fn-pods up",
            "ip link add fn-pods0 mtu 1500 type veth peer name fn-pods0-br mtu 1500",
            "sysctl -q -w net.ipv6.conf.fn-pods0.disable_ipv6=1",
            "sysctl -q -w net.ipv6.conf.fn-pods0-br.disable_ipv6=1",
            "sysctl -q -w net.ipv4.conf.fn-pods0.forwarding=0",
            "ip link set fn-pods0 up",
            "ip link set fn-pods0-br master fn-pods",
            "bridge link set dev fn-pods0-br isolated off",
            "ip link set fn-pods0-br up",
            "ip link show dev fnabc",
            ns
                + "ip link add eth0 mtu 1500 address 02:00:00:00:00:05 type veth peer name fnabc mtu 1500 netns 4242"),
        ran.subList(0, 14));
    assertEquals(
        List.of(
            "sysctl -q -w net.ipv6.conf.fnabc.disable_ipv6=1",
            "ip link set fnabc master fn-pods",
            "bridge link set dev fnabc isolated on",
            "ip link set fnabc up"),
        ran.subList(ran.size() - 4, ran.size()));

    // The segment is there: one look, nothing made.
    ran.clear();
    answer =
        c ->
            c.contains("link show dev fn-pods0-br")
                ? new CommandRunner.Result(
                    0,
                    "[{\"ifname\":\"fn-pods0-br\",\"master\":\"fn-pods\",\"flags\":[\"UP\"]}]",
                    "")
                : new CommandRunner.Result(c.startsWith("ip link show") ? 1 : 0, "", "");
    plumber.add("/var/run/netns/p1", "eth0", "fnabc", "02:00:00:00:00:05", IPS, GWS, 1500, true);
    assertEquals("ip -j -d link show dev fn-pods0-br", ran.get(0));
    assertEquals("ip link show dev fnabc", ran.get(1));
  }

  @Test
  void aRacingAddThatMadeTheBridgeFirstIsFine() throws Exception {
    answer =
        c -> {
          if (c.equals("ip link add fn-pods type bridge mcast_snooping 0")) {
            return new CommandRunner.Result(2, "", "RTNETLINK answers: File exists");
          }
          return new CommandRunner.Result(
              c.contains("link show") && !c.contains("dev fn-pods") ? 1 : 0, "", "");
        };
    new PodSegment(recorder).ensure(1500);
    assertTrue(ran.contains("ip link show dev fn-pods"), ran.toString());
    assertEquals("ip link set fn-pods0-br up", ran.getLast());
  }

  static final String ADDRS =
      "[{\"ifname\":\"eth0\",\"addr_info\":[{\"family\":\"inet\",\"local\":\"10.244.1.5\",\"prefixlen\":32},"
          + "{\"family\":\"inet6\",\"local\":\"fd00::5\",\"prefixlen\":128}]}]";

  Function<String, CommandRunner.Result> healthy(String hostLink) {
    return c -> {
      String out;
      if (c.contains("addr show")) {
        out = ADDRS;
      } else if (c.contains("-4 route show default")) {
        out = "[{\"dst\":\"default\",\"gateway\":\"169.254.1.1\",\"dev\":\"eth0\"}]";
      } else if (c.contains("-6 route show default")) {
        out = "[{\"dst\":\"default\",\"gateway\":\"fe80::1\",\"dev\":\"eth0\"}]";
      } else if (c.endsWith("dev fnabc")) {
        out = hostLink;
      } else if (c.endsWith("dev fn-pods0-br")) {
        out = "[{\"master\":\"fn-pods\",\"flags\":[\"UP\"]}]";
      } else {
        out = "[]";
      }
      return new CommandRunner.Result(0, out, "");
    };
  }

  static final String JOINED =
      "[{\"master\":\"fn-pods\",\"flags\":[\"BROADCAST\",\"UP\"],"
          + "\"linkinfo\":{\"info_slave_data\":{\"isolated\":true}}}]";

  @Test
  void checkReadsAddressesRoutesAndTheBridgePort() throws Exception {
    answer = healthy(JOINED);
    plumber.check("/ns", "eth0", "fnabc", IPS, GWS, true);
    assertEquals(
        List.of(
            "nsenter --net=/ns ip -j addr show dev eth0",
            "nsenter --net=/ns ip -j -4 route show default",
            "nsenter --net=/ns ip -j -6 route show default",
            "ip -j -d link show dev fnabc",
            "ip -j -d link show dev fn-pods0-br"),
        ran);
    NetnsPlumber.PlumbingException e =
        assertThrows(
            NetnsPlumber.PlumbingException.class,
            () ->
                plumber.check(
                    "/ns", "eth0", "fnabc", List.of(IpAddress.parse("10.244.1.6")), GWS, true));
    assertTrue(e.getMessage().contains("does not hold 10.244.1.6"), e.getMessage());
    answer = healthy(JOINED.replace("true", "false"));
    e =
        assertThrows(
            NetnsPlumber.PlumbingException.class,
            () -> plumber.check("/ns", "eth0", "fnabc", IPS, GWS, true));
    assertTrue(e.getMessage().contains("fnabc is not isolated on fn-pods"), e.getMessage());
    answer = healthy(JOINED);
    e =
        assertThrows(
            NetnsPlumber.PlumbingException.class,
            () ->
                plumber.check(
                    "/ns", "eth0", "fnabc", IPS, List.of(IpAddress.parse("169.254.1.2")), true));
    assertTrue(
        e.getMessage().contains("no default route via 169.254.1.2 dev eth0"), e.getMessage());
    // attach mode port: the host end must only be up
    answer = healthy("[{\"flags\":[\"UP\"]}]");
    plumber.check("/ns", "eth0", "fnabc", IPS, GWS, false);
  }
}
