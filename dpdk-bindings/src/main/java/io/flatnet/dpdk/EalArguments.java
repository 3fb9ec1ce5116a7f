package io.flatnet.dpdk;

import java.util.ArrayList;
import java.util.List;

/**
 * Builds an {@code rte_eal_init} argument list. The defaults suit flatnet: no PCI scan unless
 * asked, hugepage memory private to the process ({@code --in-memory}, nothing left in
 * /dev/hugepages), one file descriptor for all memory so vhost-user peers can map it, and a main
 * lcore that may float over every CPU (so threads it starts are not all pinned to one CPU).
 */
public final class EalArguments {
  private final String program;
  private boolean pci = false;
  private String logLevel = "notice";
  private final List<String> allowedDevices = new ArrayList<>();
  private final List<String> vdevs = new ArrayList<>();
  private final List<String> extra = new ArrayList<>();

  private EalArguments(String program) {
    this.program = program;
  }

  public static EalArguments forProgram(String program) {
    return new EalArguments(program);
  }

  /** Scans the PCI bus, limited to these devices if any are given. */
  public EalArguments pci(List<String> allowed) {
    this.pci = true;
    this.allowedDevices.addAll(allowed);
    return this;
  }

  public EalArguments vdev(String devargs) {
    vdevs.add(devargs);
    return this;
  }

  public EalArguments logLevel(String level) {
    this.logLevel = level;
    return this;
  }

  public EalArguments extra(String... arguments) {
    extra.addAll(List.of(arguments));
    return this;
  }

  public List<String> build() {
    List<String> args = new ArrayList<>();
    args.add(program);
    int cpus = Runtime.getRuntime().availableProcessors();
    args.add("--lcores=0@(0-" + Math.max(0, cpus - 1) + ")");
    args.add("--in-memory");
    args.add("--single-file-segments");
    args.add("--no-telemetry");
    args.add("--log-level=" + logLevel);
    if (!pci) {
      args.add("--no-pci");
    }
    for (String device : allowedDevices) {
      args.add("--allow=" + device);
    }
    for (String vdev : vdevs) {
      args.add("--vdev=" + vdev);
    }
    args.addAll(extra);
    return args;
  }
}
