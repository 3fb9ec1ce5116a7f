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
    plumber.add("/var/run/netns/p1", "eth0", "fnabc", "02:00:00:00:00:05", IPS, GWS, 1500);
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
            () -> plumber.add("/ns", "eth0", "fnabc", "02:00:00:00:00:05", IPS, GWS, 1500));
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
  void checkReadsAddressesFromIpJson() throws Exception {
    String json =
        "[{\"ifname\":\"eth0\",\"addr_info\":[{\"family\":\"inet\",\"local\":\"10.244.1.5\",\"prefixlen\":32},"
            + "{\"family\":\"inet6\",\"local\":\"fd00::5\",\"prefixlen\":128}]}]";
    answer = c -> new CommandRunner.Result(0, json, "");
    plumber.check("/ns", "eth0", IPS);
    assertEquals(List.of("nsenter --net=/ns ip -j addr show dev eth0"), ran);
    NetnsPlumber.PlumbingException e =
        assertThrows(
            NetnsPlumber.PlumbingException.class,
            () -> plumber.check("/ns", "eth0", List.of(IpAddress.parse("10.244.1.6"))));
    assertTrue(e.getMessage().contains("does not hold 10.244.1.6"), e.getMessage());
  }
}
