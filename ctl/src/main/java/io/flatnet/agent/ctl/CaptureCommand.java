package io.flatnet.agent.ctl;

import com.fasterxml.jackson.databind.JsonNode;
import io.flatnet.control.CaptureFile;
import java.io.BufferedOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ctl capture}: the dataplane's workers copy matching packets into the capture file's rings
 * and this process writes them as pcapng, with the port as the interface, the direction, and for
 * drops the reason as a comment.
 */
@Command(
    name = "capture",
    mixinStandardHelpOptions = true,
    description =
        "Captures packets on the router's ports into a pcapng file (or - for stdout, to pipe into"
            + " tshark -r - or wireshark -k -i -), with each port as an interface, the direction,"
            + " and with --drops the dropped packets and their reason as a comment.")
final class CaptureCommand implements Callable<Integer> {
  @Mixin CtlMain.Common common;

  @Option(names = "--pod", paramLabel = "NAME", description = "Only this pod's port(s).")
  List<String> pods;

  @Option(names = "--port", paramLabel = "NAME", description = "Only this port (repeatable).")
  List<String> ports;

  @Option(names = "--direction", paramLabel = "DIR", description = "rx, tx or both (default both).")
  String direction = "both";

  @Option(names = "--drops", description = "Dropped packets too, with their drop reason.")
  boolean drops;

  @Option(names = "--count", paramLabel = "N", description = "Stop after N packets (0: Ctrl-C).")
  long count;

  @Option(
      names = "--snaplen",
      paramLabel = "N",
      description = "Bytes kept of each packet (default " + CaptureFile.DEFAULT_SNAPLEN + ").")
  int snaplen = CaptureFile.DEFAULT_SNAPLEN;

  @Option(
      names = "--filter",
      paramLabel = "EXPR",
      description =
          "host|net|port with src/dst, tcp udp sctp icmp icmp6 ip ip6 arp, proto N; and or not ()"
              + " (e.g. 'host 10.244.1.2 and tcp and port 80').")
  String filter;

  @Option(
      names = "-w",
      paramLabel = "FILE",
      required = true,
      description = "The pcapng file to write, or - for stdout.")
  String output;

  @Override
  public Integer call() {
    Map<String, String> args = new LinkedHashMap<>();
    if (pods != null) {
      args.put("pods", String.join(",", pods));
    }
    if (ports != null) {
      args.put("ports", String.join(",", ports));
    }
    args.put("direction", direction);
    args.put("drops", Boolean.toString(drops));
    args.put("count", Long.toString(count));
    args.put("snaplen", Integer.toString(snaplen));
    if (filter != null) {
      args.put("filter", filter);
    }
    PrintWriter err = common.mixee.commandLine().getErr();
    boolean stdout = output.equals("-");
    OutputStream stream;
    try {
      stream =
          new BufferedOutputStream(stdout ? System.out : new FileOutputStream(output), 1 << 16);
    } catch (IOException e) {
      err.println("flatnet ctl: " + output + ": " + e.getMessage());
      err.flush();
      return CtlMain.REFUSED;
    }
    Sink sink = new Sink(stream, stdout, err);
    return LiveCapture.run(common, args, null, sink);
  }

  private final class Sink implements LiveCapture.Sink {
    private final OutputStream stream;
    private final boolean stdout;
    private PcapngWriter writer;
    private Map<Integer, String> names;
    private List<String> reasons;
    long written;
    long ringFull;

    private final PrintWriter err;

    Sink(OutputStream stream, boolean stdout, PrintWriter err) {
      this.stream = stream;
      this.stdout = stdout;
      this.err = err;
    }

    @Override
    public void start(JsonNode answer) throws IOException {
      names = LiveCapture.ports(answer);
      reasons = LiveCapture.dropReasons(answer);
      writer = new PcapngWriter(stream, "flatnet ctl capture", Math.max(snaplen, 64));
      for (Map.Entry<Integer, String> e : new TreeMap<>(names).entrySet()) {
        writer.addInterface(e.getKey(), e.getValue());
      }
      writer.flush();
    }

    @Override
    public boolean accept(CaptureFile.Record r, CaptureFile.Mapped file) throws IOException {
      if (r.isTrace()) {
        return false;
      }
      int direction = r.kind() == CaptureFile.TX ? PcapngWriter.OUTBOUND : PcapngWriter.INBOUND;
      String comment =
          r.kind() == CaptureFile.DROP ? "drop: " + LiveCapture.reason(reasons, r.reason()) : null;
      writer.packet(r.port(), file.epochNanos(r.time()), r.data(), r.length(), direction, comment);
      written++;
      if (stdout) {
        writer.flush(); // a reader on a pipe sees each packet as it comes
      }
      return count > 0 && written >= count;
    }

    @Override
    public void finish(long full) throws IOException {
      ringFull = full;
      if (stdout) {
        writer.flush();
      } else {
        writer.close();
      }
      // Here, not after run returns: on Ctrl-C the JVM halts once the session has ended.
      err.println(
          "capture: "
              + written
              + " packets written to "
              + (stdout ? "stdout" : output)
              + ", "
              + ringFull
              + " lost (ring full)");
      err.flush();
    }
  }
}
