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
    assertEquals("ip link del dev fnabc", ran.get(ran.size() - 2));
    assertEquals("nft " + LEAVE, ran.getLast());
  }

  /** What DEL runs to remove fnabc's guards: its element and chain, in one transaction. */
  static final String LEAVE =
      String.join(
          "\n",
          "add chain bridge flatnet pod-fnabc",
          "add element bridge flatnet pods { \"fnabc\" : jump pod-fnabc }",
          "delete element bridge flatnet pods { \"fnabc\" }",
          "flush chain bridge flatnet pod-fnabc",
          "delete chain bridge flatnet pod-fnabc");

  @Test
  void delIsIdempotent() throws Exception {
    answer =
        c ->
            new CommandRunner.Result(
                1, "", "Device \"fnabc\" does not exist. / Error: No such file or directory");
    plumber.del("fnabc");
    assertEquals(
        List.of(
            "ip link show dev fnabc",
            "nft " + LEAVE,
            "nft list chain bridge flatnet pod-fnabc"), // fails: nothing of fnabc's is left
        ran);
  }

  @Test
  void delRemovesTheGuardsEvenWithoutNftOrTable() throws Exception {
    // no nft at all: no guards can exist
    CommandRunner noNft =
        argv -> {
          ran.add(String.join(" ", argv));
          if (argv.getFirst().equals("nft")) {
            throw new java.io.IOException("Cannot run program \"nft\": error=2");
          }
          return new CommandRunner.Result(1, "", "");
        };
    new IpCommandPlumber(noNft, 4242).del("fnabc");
    assertEquals(List.of("ip link show dev fnabc", "nft " + LEAVE), ran);
    // the pod's chain exists but the delete fails: an error, not silence
    ran.clear();
    answer =
        c ->
            c.startsWith("nft list chain")
                ? new CommandRunner.Result(0, "table bridge flatnet { chain pod-fnabc { } }", "")
                : new CommandRunner.Result(
                    c.startsWith("nft") ? 1 : 0, "", "Error: Operation not permitted");
    NetnsPlumber.PlumbingException e =
        assertThrows(NetnsPlumber.PlumbingException.class, () -> plumber.del("fnabc"));
    assertTrue(e.getMessage().contains("Operation not permitted"), e.getMessage());
    assertEquals("ip link del dev fnabc", ran.get(1));
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
            "bridge link set dev fnabc isolated on learning off",
            "bridge fdb replace 02:00:00:00:00:05 dev fnabc master static",
            "bridge link set dev fnabc locked on",
            "nft " + GUARDS,
            "ip link set fnabc up"),
        ran.subList(ran.size() - 7, ran.size()));

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

  /** fnabc's guards for 02:00:00:00:00:05, 10.244.1.5 and fd00::5: one nft transaction. */
  static final String GUARDS =
      String.join(
          "\n",
          "add table bridge flatnet",
          "add map bridge flatnet pods { type ifname : verdict; }",
          "add chain bridge flatnet prerouting { type filter hook prerouting priority filter;"
              + " policy accept; }",
          "flush chain bridge flatnet prerouting",
          "add rule bridge flatnet prerouting iifname vmap @pods",
          "add chain bridge flatnet pod-fnabc",
          "flush chain bridge flatnet pod-fnabc",
          "add rule bridge flatnet pod-fnabc ether saddr != 02:00:00:00:00:05 counter drop"
              + " comment \"source MAC not the pod's\"",
          "add rule bridge flatnet pod-fnabc ether type arp arp htype 1 arp ptype ip arp hlen 6"
              + " arp plen 4 arp saddr ether 02:00:00:00:00:05 arp saddr ip { 10.244.1.5, 0.0.0.0 }"
              + " accept",
          "add rule bridge flatnet pod-fnabc ether type arp counter drop comment \"ARP sender not"
              + " the pod's MAC and IPv4\"",
          "add rule bridge flatnet pod-fnabc ether type ip ip saddr 10.244.1.5 accept",
          "add rule bridge flatnet pod-fnabc ether type ip counter drop comment \"IPv4 source not"
              + " the pod's\"",
          "add rule bridge flatnet pod-fnabc ether type ip6 ip6 saddr { fd00::5, ::, fe80::/10 }"
              + " accept",
          "add rule bridge flatnet pod-fnabc ether type ip6 counter drop comment \"IPv6 source not"
              + " the pod's\"",
          "add rule bridge flatnet pod-fnabc counter drop comment \"not IPv4, IPv6 or ARP\"",
          "add element bridge flatnet pods { \"fnabc\" : jump pod-fnabc }");

  @Test
  void anIpv4OnlyPodSendsNoIpv6ButLinkLocalAndDad() {
    String script =
        PodSegment.guardScript("fnabc", "02:00:00:00:00:05", List.of(IpAddress.parse("10.0.0.9")));
    assertTrue(script.contains("ip6 saddr { ::, fe80::/10 } accept\n"), "IPv6: DAD and NDP only");
    assertTrue(script.contains("arp saddr ip { 10.0.0.9, 0.0.0.0 } accept"), script);
    script =
        PodSegment.guardScript("fnabc", "02:00:00:00:00:05", List.of(IpAddress.parse("fd00::9")));
    assertTrue(script.contains("arp saddr ip 0.0.0.0 accept"), "ARP: probes only: " + script);
    assertTrue(!script.contains("ip saddr"), "no IPv4 accepted: " + script);
  }

  /** A shared ADD on a node without nft: fails naming the package, and leaves nothing behind. */
  @Test
  void sharedAddWithoutNftFailsNamingThePackage() {
    List<String> warnings = new ArrayList<>();
    CommandRunner noNft =
        argv -> {
          String c = String.join(" ", argv);
          ran.add(c);
          if (argv.getFirst().equals("nft")) {
            throw new java.io.IOException(
                "Cannot run program \"nft\": error=2, No such file or directory");
          }
          if (c.contains("link show dev fn-pods0-br")) {
            return new CommandRunner.Result(
                0, "[{\"ifname\":\"fn-pods0-br\",\"master\":\"fn-pods\",\"flags\":[\"UP\"]}]", "");
          }
          if (c.startsWith("ip link show")) {
            return new CommandRunner.Result(
                ran.stream().anyMatch(r -> r.contains("link add")) ? 0 : 1, "", "");
          }
          return new CommandRunner.Result(0, "", "");
        };
    IpCommandPlumber p = new IpCommandPlumber(noNft, 4242, new PodSegment(noNft, warnings::add));
    NetnsPlumber.PlumbingException e =
        assertThrows(
            NetnsPlumber.PlumbingException.class,
            () -> p.add("/ns", "eth0", "fnabc", "02:00:00:00:00:05", IPS, GWS, 1500, true));
    assertTrue(e.getMessage().contains("apt-get install nftables"), e.getMessage());
    assertTrue(!ran.contains("ip link set fnabc up"), "never up unguarded: " + ran);
    assertTrue(ran.contains("ip link del dev fnabc"), "the pair is undone: " + ran);
    assertEquals(List.of(), warnings);
  }

  /** A kernel without bridge port locking: ADD goes on, with one clear warning. */
  @Test
  void sharedAddWithoutPortLockingWarnsAndGoesOn() throws Exception {
    List<String> warnings = new ArrayList<>();
    answer =
        c -> {
          if (c.endsWith("locked on")) {
            return new CommandRunner.Result(255, "", "Error: unknown attribute \"locked\"");
          }
          if (c.contains("link show dev fn-pods0-br")) {
            return new CommandRunner.Result(
                0, "[{\"ifname\":\"fn-pods0-br\",\"master\":\"fn-pods\",\"flags\":[\"UP\"]}]", "");
          }
          return new CommandRunner.Result(c.startsWith("ip link show") ? 1 : 0, "", "");
        };
    new IpCommandPlumber(recorder, 4242, new PodSegment(recorder, warnings::add))
        .add("/ns", "eth0", "fnabc", "02:00:00:00:00:05", IPS, GWS, 1500, true);
    assertEquals("ip link set fnabc up", ran.getLast());
    assertEquals(1, warnings.size(), warnings.toString());
    assertTrue(
        warnings.getFirst().contains("bridge port locking is not available")
            && warnings.getFirst().contains("unknown attribute"),
        warnings.getFirst());
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
      "[{\"ifname\":\"eth0\",\"address\":\"02:00:00:00:00:05\",\"addr_info\":[{\"family\":\"inet\",\"local\":\"10.244.1.5\",\"prefixlen\":32},"
          + "{\"family\":\"inet6\",\"local\":\"fd00::5\",\"prefixlen\":128}]}]";

  String fdb =
      "[{\"mac\":\"02:00:00:00:00:05\",\"ifname\":\"fnabc\",\"flags\":[],"
          + "\"master\":\"fn-pods\",\"state\":\"static\"}]";
  CommandRunner.Result element =
      new CommandRunner.Result(
          0,
          "table bridge flatnet {\n\tmap pods {\n\t\ttype ifname : verdict\n"
              + "\t\telements = { \"fnabc\" : jump pod-fnabc }\n\t}\n}\n",
          "");
  CommandRunner.Result chain =
      new CommandRunner.Result(
          0,
          "table bridge flatnet {\n\tchain pod-fnabc {\n"
              + "\t\tether saddr != 02:00:00:00:00:05 counter packets 0 bytes 0 drop\n"
              + "\t\tarp htype 1 arp ptype ip arp hlen 6 arp plen 4 arp saddr ether"
              + " 02:00:00:00:00:05 arp saddr ip { 0.0.0.0, 10.244.1.5 } accept\n"
              + "\t\tip saddr 10.244.1.5 accept\n"
              + "\t\tip6 saddr { ::, fd00::5, fe80::/10 } accept\n\t}\n}\n",
          "");

  Function<String, CommandRunner.Result> healthy(String hostLink) {
    return c -> {
      String out;
      if (c.contains("addr show")) {
        out = ADDRS;
      } else if (c.contains("-4 route show default")) {
        out = "[{\"dst\":\"default\",\"gateway\":\"169.254.1.1\",\"dev\":\"eth0\"}]";
      } else if (c.contains("-6 route show default")) {
        out = "[{\"dst\":\"default\",\"gateway\":\"fe80::1\",\"dev\":\"eth0\"}]";
      } else if (c.equals("ip -j -d link show dev fnabc")) {
        out = hostLink;
      } else if (c.equals("bridge -j fdb show dev fnabc")) {
        out = fdb;
      } else if (c.startsWith("nft get element")) {
        return element;
      } else if (c.startsWith("nft list chain")) {
        return chain;
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
          + "\"linkinfo\":{\"info_slave_data\":{\"isolated\":true,\"learning\":false,"
          + "\"locked\":true}}}]";

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
            "bridge -j fdb show dev fnabc",
            "nft get element bridge flatnet pods { \"fnabc\" }",
            "nft list chain bridge flatnet pod-fnabc",
            "ip -j -d link show dev fn-pods0-br"),
        ran);
    NetnsPlumber.PlumbingException e =
        assertThrows(
            NetnsPlumber.PlumbingException.class,
            () ->
                plumber.check(
                    "/ns", "eth0", "fnabc", List.of(IpAddress.parse("10.244.1.6")), GWS, true));
    assertTrue(e.getMessage().contains("does not hold 10.244.1.6"), e.getMessage());
    answer = healthy(JOINED.replace("\"isolated\":true", "\"isolated\":false"));
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
    // each guard, missing, is named
    answer = healthy(JOINED.replace("\"learning\":false", "\"learning\":true"));
    assertCheckFails("fnabc learns MAC addresses on fn-pods");
    answer = healthy(JOINED.replace("\"locked\":true", "\"locked\":false"));
    assertCheckFails("fnabc is not locked on fn-pods");
    answer = healthy(JOINED.replace(",\"locked\":true", "")); // a kernel without locking
    plumber.check("/ns", "eth0", "fnabc", IPS, GWS, true);
    answer = healthy(JOINED);
    fdb = fdb.replace("static", "");
    assertCheckFails("no static FDB entry for the pod's MAC 02:00:00:00:00:05 on fnabc");
    fdb = fdb.replace("\"state\":\"\"", "\"state\":\"static\"");
    plumber.check("/ns", "eth0", "fnabc", IPS, GWS, true);
    element = new CommandRunner.Result(1, "", "Error: Could not process rule: No such file");
    assertCheckFails("fnabc has no element in the nftables map bridge flatnet pods");
    element =
        new CommandRunner.Result(
            0, "elements = { \"fnabc\" : jump pod-fnabc }", ""); // present again
    chain = new CommandRunner.Result(0, chain.stdout().replace("10.244.1.5", "10.244.1.6"), "");
    assertCheckFails("does not bind fnabc to 02:00:00:00:00:05 and [10.244.1.5, fd00::5]");
    chain = new CommandRunner.Result(1, "", "Error: No such file or directory");
    assertCheckFails("the nftables chain bridge flatnet pod-fnabc is missing");
    // attach mode port: the host end must only be up
    answer = healthy("[{\"flags\":[\"UP\"]}]");
    plumber.check("/ns", "eth0", "fnabc", IPS, GWS, false);
  }

  void assertCheckFails(String what) {
    NetnsPlumber.PlumbingException e =
        assertThrows(
            NetnsPlumber.PlumbingException.class,
            () -> plumber.check("/ns", "eth0", "fnabc", IPS, GWS, true));
    assertTrue(e.getMessage().contains(what), e.getMessage());
  }
}
