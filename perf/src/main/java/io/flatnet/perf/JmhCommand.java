package io.flatnet.perf;

import java.util.concurrent.Callable;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ./flatnet bench jmh [pattern]}: runs the JMH microbenchmarks (LPM, pipeline stages). */
@Command(
    name = "jmh",
    mixinStandardHelpOptions = true,
    description =
        "JMH microbenchmarks: io.flatnet.perf.lpm.* (FIB lookups and updates) and"
            + " io.flatnet.perf.pipeline.* (per-packet stage costs on real mbufs).")
public final class JmhCommand implements Callable<Integer> {
  @Parameters(
      index = "0",
      arity = "0..1",
      description = "Regex of benchmarks to run (default all).")
  String pattern = "io\\.flatnet\\.perf\\..*";

  @Option(
      names = "--quick",
      description = "1 warm-up and 3 measured 1 s iterations (default 3 and 5).")
  boolean quick;

  @Option(names = "--json", description = "Also write JMH's JSON results to this file.")
  String json;

  @Override
  public Integer call() throws Exception {
    ChainedOptionsBuilder options =
        new OptionsBuilder()
            .include(pattern)
            .forks(1)
            .warmupIterations(quick ? 1 : 3)
            .warmupTime(TimeValue.seconds(1))
            .measurementIterations(quick ? 3 : 5)
            .measurementTime(TimeValue.seconds(1))
            .jvmArgsAppend(
                "--enable-native-access=ALL-UNNAMED",
                "--add-exports",
                "java.base/jdk.internal.misc=ALL-UNNAMED",
                "-Xmx2g");
    if (json != null) {
      options.resultFormat(org.openjdk.jmh.results.format.ResultFormatType.JSON).result(json);
    }
    return new Runner(options.build()).run().isEmpty() ? 1 : 0;
  }
}
