package io.flatnet.perf.fib;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.flatnet.dpdk.Dpdk;
import io.flatnet.dpdk.Eal;
import io.flatnet.dpdk.EalArguments;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code ./flatnet bench lpm}: flatnet's FIBs against DPDK's rte_fib and rte_fib6. */
@Command(
    name = "lpm",
    sortOptions = false,
    description = {
      "Compares flatnet's Ipv4Fib/Ipv6Fib with DPDK 22.11's rte_fib (DIR24_8) and rte_fib6 (TRIE)"
          + " in one run, on the same routes and lookup addresses: build rate, scalar and"
          + " bulk-of-32 lookup, delete rate, memory. Rounds alternate the two systems; the"
          + " report gives per-round flatnet/DPDK ratios, their median and spread. Every round"
          + " also checks that flatnet's answers equal DPDK's (exit 1 on any mismatch).",
      ""
    })
@SuppressWarnings("restricted") // reads the C string rte_version() returns (reinterpret)
public final class LpmCommand implements Callable<Integer> {

  @Spec private CommandSpec spec;

  @Option(
      names = "--routes4",
      defaultValue = "1000000",
      description = "IPv4 routes (lpm_perf_autotest length mix). Default: ${DEFAULT-VALUE}.")
  private int routes4;

  @Option(
      names = "--routes6",
      defaultValue = "100000",
      description = "IPv6 routes (hierarchical, realistic lengths). Default: ${DEFAULT-VALUE}.")
  private int routes6;

  @Option(
      names = "--lookups",
      defaultValue = "1048576",
      description =
          "Lookup addresses per family (rounded up to a multiple of 32). Default:"
              + " ${DEFAULT-VALUE}.")
  private int lookups;

  @Option(
      names = "--hit-fraction",
      defaultValue = "1.0",
      description =
          "Fraction of addresses inside an installed prefix (random route, random"
              + " host); the rest are uniformly random. Default: ${DEFAULT-VALUE}.")
  private double hitFraction;

  @Option(
      names = "--rounds",
      defaultValue = "5",
      description = "Measured rounds. Default: ${DEFAULT-VALUE}.")
  private int rounds;

  @Option(
      names = "--warmup",
      defaultValue = "2",
      description = "Untimed warm-up rounds before them (JIT). Default: ${DEFAULT-VALUE}.")
  private int warmup;

  @Option(
      names = "--family",
      defaultValue = "both",
      description = "ipv4, ipv6 or both. Default: ${DEFAULT-VALUE}.")
  private String family;

  @Option(
      names = "--min-ms",
      defaultValue = "300",
      description =
          "Each lookup figure repeats passes over the addresses for at least this"
              + " long. Default: ${DEFAULT-VALUE}.")
  private int minMillis;

  @Option(
      names = "--delete-sample",
      defaultValue = "10000",
      description =
          "Routes deleted (one by one) per round, at most half the table. Default:"
              + " ${DEFAULT-VALUE}.")
  private int deleteSample;

  @Option(
      names = "--verify-sample",
      defaultValue = "100000",
      description =
          "Addresses whose answers are compared after every build and after the"
              + " deletes. Default: ${DEFAULT-VALUE}.")
  private int verifySample;

  @Option(
      names = "--next-hops",
      defaultValue = "256",
      description = "Distinct next hops the routes point at. Default: ${DEFAULT-VALUE}.")
  private int nextHops;

  @Option(
      names = "--seed",
      defaultValue = "42",
      description = "Seed of routes and addresses. Default: ${DEFAULT-VALUE}.")
  private long seed;

  @Option(
      names = "--dpdk-avx512",
      description =
          "Let DPDK use its AVX512 lookup functions (EAL --force-max-simd-bitwidth=512"
              + " and rte_fib_select_lookup); by default EAL's SIMD limit picks the scalar ones.")
  private boolean avx512;

  @Option(
      names = "--json",
      description =
          "Print one JSON object with every figure on stdout (the table goes to" + " stderr).")
  private boolean json;

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "This help.")
  private boolean help;

  @Override
  public Integer call() {
    LpmBench.Config config = config();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter progress = spec.commandLine().getErr();
    List<String> eal = eal(avx512);
    progress.println("flatnet bench lpm: EAL " + String.join(" ", eal));
    Eal.initOnce(eal);

    LpmReport.Environment env =
        new LpmReport.Environment(
            jvm(),
            dpdkVersion(),
            cpuModel(),
            Runtime.getRuntime().availableProcessors(),
            arguments(),
            config);
    List<LpmBench.FamilyResult> results = new LpmBench(config, progress).run();

    String table = LpmReport.table(env, results);
    if (json) {
      progress.print(table);
      progress.flush();
      out.print(LpmReport.json(env, results));
    } else {
      out.print(table);
    }
    out.flush();
    long mismatches = results.stream().mapToLong(r -> r.mismatches).sum();
    if (mismatches > 0) {
      progress.printf(
          "flatnet bench lpm: FAILED: %,d lookups where flatnet and DPDK disagree%n", mismatches);
      return 1;
    }
    return 0;
  }

  LpmBench.Config config() {
    require(routes4 >= 2, "--routes4 must be at least 2");
    require(routes6 >= 2, "--routes6 must be at least 2");
    require(lookups >= 32, "--lookups must be at least 32");
    require(hitFraction >= 0 && hitFraction <= 1, "--hit-fraction must be in [0, 1]");
    require(rounds >= 1, "--rounds must be at least 1");
    require(warmup >= 0, "--warmup must not be negative");
    require(minMillis >= 1, "--min-ms must be at least 1");
    require(deleteSample >= 0, "--delete-sample must not be negative");
    require(verifySample >= 0, "--verify-sample must not be negative");
    require(nextHops >= 1 && nextHops <= 1 << 20, "--next-hops must be in [1, " + (1 << 20) + "]");
    require(
        List.of("both", "ipv4", "ipv6").contains(family), "--family must be ipv4, ipv6 or both");
    int padded = (int) Math.min(Integer.MAX_VALUE - 31, ((long) lookups + 31) / 32 * 32);
    return new LpmBench.Config(
        routes4,
        routes6,
        padded,
        hitFraction,
        rounds,
        warmup,
        seed,
        nextHops,
        deleteSample,
        verifySample,
        minMillis,
        !family.equals("ipv6"),
        !family.equals("ipv4"),
        avx512);
  }

  private void require(boolean ok, String message) {
    if (!ok) {
      throw new ParameterException(spec.commandLine(), message);
    }
  }

  static List<String> eal(boolean avx512) {
    EalArguments args = EalArguments.forProgram("flatnet-bench").logLevel("warning");
    if (avx512) {
      args.extra("--force-max-simd-bitwidth=512");
    }
    return args.build();
  }

  private String arguments() {
    List<String> all = spec.commandLine().getParseResult().originalArgs();
    int from = all.indexOf("lpm") + 1;
    return String.join(" ", all.subList(from, all.size()));
  }

  static String jvm() {
    return Runtime.version()
        + " ("
        + System.getProperty("java.vm.name")
        + ", "
        + System.getProperty("java.vendor")
        + ")";
  }

  /** {@code rte_version()} and EAL's SIMD limit, which picks rte_fib's default lookup. */
  static String dpdkVersion() {
    String version;
    try {
      MemorySegment text =
          (MemorySegment)
              Dpdk.downcall("rte_version", FunctionDescriptor.of(ADDRESS)).invokeExact();
      version = text.reinterpret(128).getString(0);
    } catch (Throwable t) {
      version = "DPDK 22.11 (rte_version failed: " + t + ")";
    }
    try {
      short bits =
          (short)
              Dpdk.downcall("rte_vect_get_max_simd_bitwidth", FunctionDescriptor.of(JAVA_SHORT))
                  .invokeExact();
      return version + " (EAL max SIMD bitwidth " + Short.toUnsignedInt(bits) + ")";
    } catch (Throwable t) {
      return version;
    }
  }

  static String cpuModel() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("model name")) {
          return line.substring(line.indexOf(':') + 1).trim();
        }
      }
    } catch (IOException e) {
      return "unknown (" + e.getMessage() + ")";
    }
    return "unknown";
  }
}
