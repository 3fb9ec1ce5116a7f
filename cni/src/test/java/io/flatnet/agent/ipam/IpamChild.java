package io.flatnet.agent.ipam;

import io.flatnet.agent.config.IpAddress;
import io.flatnet.agent.config.IpNet;
import java.nio.file.Path;
import java.util.List;

/**
 * A child JVM for {@link IpamTest}: {@code IpamChild DIR CIDR GATEWAY COUNT PREFIX} allocates COUNT
 * addresses for containers PREFIX-0.. and prints each as "containerId address", or "EXHAUSTED".
 */
public final class IpamChild {
  private IpamChild() {}

  public static void main(String[] args) throws Exception {
    Ipam ipam =
        new Ipam(
            Path.of(args[0]), List.of(IpNet.parse(args[1])), List.of(IpAddress.parse(args[2])));
    int count = Integer.parseInt(args[3]);
    for (int i = 0; i < count; i++) {
      String id = args[4] + "-" + i;
      try {
        for (IpAddress a : ipam.allocate(id, "eth0")) {
          System.out.println(id + " " + a);
        }
      } catch (IpamException e) {
        System.out.println("EXHAUSTED");
      }
    }
    System.out.flush();
  }
}
