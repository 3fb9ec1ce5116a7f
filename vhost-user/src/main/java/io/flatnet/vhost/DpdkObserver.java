package io.flatnet.vhost;

import io.flatnet.dpdk.EthDev;
import io.flatnet.dpdk.vhost.VhostDevices;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/** Observes net_vhost ports through ethdev, the PMD, rte_vhost and {@code /proc/net/unix}. */
final class DpdkObserver implements VhostPortMonitor.Observer {
  private final Path unixTable;
  private UnixSocketTable sockets = UnixSocketTable.empty();

  DpdkObserver(Path unixTable) {
    this.unixTable = unixTable;
  }

  @Override
  public void beginPoll() {
    sockets = UnixSocketTable.read(unixTable);
  }

  @Override
  public VhostPortMonitor.Observation observe(int port, VhostPortSpec spec) {
    boolean linkUp = EthDev.link(port).up();
    int vid = VhostDevices.vidOfPort(port);
    EthDev.Stats stats = EthDev.stats(port);
    return new VhostPortMonitor.Observation(
        linkUp,
        vid,
        sockets.connections(spec.socket()) > 0,
        Files.exists(spec.socket(), LinkOption.NOFOLLOW_LINKS),
        stats.rxPackets(),
        stats.txPackets(),
        stats.txErrors());
  }

  @Override
  public VhostDevices.DeviceInfo describe(int vid) {
    return VhostDevices.describe(vid);
  }
}
