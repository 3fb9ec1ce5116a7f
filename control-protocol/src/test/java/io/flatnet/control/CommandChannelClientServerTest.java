package io.flatnet.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.ringbuffer.RingBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's {@link DataplaneClient} against a {@link CommandServer} on its own thread over a real
 * {@code cnc.dat}, with an in-memory dataplane behind it.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CommandChannelClientServerTest {
  private static final Duration CONNECT = Duration.ofMillis(500);
  private static final Duration CALL = Duration.ofSeconds(10);

  @TempDir Path dir;
  private final List<AutoCloseable> closeAtEnd = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = closeAtEnd.size() - 1; i >= 0; i--) {
      closeAtEnd.get(i).close();
    }
  }

  private <T extends AutoCloseable> T closing(T t) {
    closeAtEnd.add(t);
    return t;
  }

  private ServerHarness server() throws Exception {
    return closing(new ServerHarness(dir));
  }

  private DataplaneClient client(Duration connect, Duration call) {
    return closing(DataplaneClient.connect(dir, connect, call));
  }

  private DataplaneClient client() {
    return client(CONNECT, CALL);
  }

  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(1);
    }
  }

  /** One raw response read off the agent ring. */
  private record Response(int type, long correlation, int status, int more, byte[] payload) {
    String message() {
      return new Records.Reader(new org.agrona.concurrent.UnsafeBuffer(payload), 0, payload.length)
          .getString();
    }
  }

  private static Response readResponse(RingBuffer toAgent) throws InterruptedException {
    List<Response> got = new ArrayList<>();
    await(
        () ->
            toAgent.read(
                    (int type, MutableDirectBuffer b, int i, int l) -> {
                      byte[] payload = new byte[l - 16];
                      b.getBytes(i + 16, payload);
                      got.add(
                          new Response(
                              type, b.getLong(i), b.getInt(i + 8), b.getInt(i + 12), payload));
                    },
                    1)
                > 0,
        "a response");
    return got.getFirst();
  }

  private static void writeRaw(RingBuffer ring, int type, Records.Writer w) {
    assertTrue(ring.write(type, w.buffer(), 0, w.length()), "the command ring has room");
  }

  private static State bigState(int routes) {
    List<RouteSpec> list = new ArrayList<>(routes);
    for (int i = 0; i < routes; i++) {
      list.add(
          new RouteSpec(
              "10." + (i >> 16) + "." + ((i >> 8) & 255) + "." + (i & 255) + "/32",
              i % 3 == 0 ? null : "10.0.0." + (i % 250 + 2),
              "p0"));
    }
    return State.of(7, List.of(RecordsTest.PORT), List.of(RecordsTest.POD), list);
  }

  // --- 2. round trips ------------------------------------------------------------------------

  @Test
  void everyCallRoundTrips() throws Exception {
    ServerHarness s = server().start();
    DataplaneClient c = client();
    FakeDataplane d = s.dataplane;

    assertTrue(c.alive());
    assertEquals(ProcessHandle.current().pid(), c.dataplanePid());
    assertEquals(s.channel.incarnation(), c.incarnation());
    long[] hello = c.hello();
    assertEquals(ProcessHandle.current().pid(), hello[0]);
    assertEquals(s.channel.incarnation(), hello[1]);

    assertEquals(State.EMPTY, c.installed());

    c.addPort(RecordsTest.PORT);
    c.addPort(RecordsTest.BARE_PORT);
    c.addPod(RecordsTest.POD);
    c.addPod(RecordsTest.BARE_POD);
    c.addRoute(RecordsTest.ROUTE);
    c.addRoute(RecordsTest.ON_LINK);
    c.setPolicy(RecordsTest.POLICY);
    c.setPolicy(RecordsTest.DENY_ALL);
    c.commit(42);
    assertEquals(RecordsTest.STATE, c.installed());

    RouteSpec moved = new RouteSpec(RecordsTest.ROUTE.prefix(), "10.0.0.9", "p0");
    c.replaceRoute(RecordsTest.ROUTE, moved);
    assertEquals(moved, c.installed().routes().get(moved.prefix()));

    assertEquals(List.of(), c.podProblems(RecordsTest.POD.name()));
    assertEquals(
        List.of("pod ns/gone is not installed", "its port is gone"), c.podProblems("ns/gone"));

    c.removeRoute(moved);
    c.removeRoute(RecordsTest.ON_LINK);
    c.removePod(RecordsTest.POD.name());
    c.removePod(RecordsTest.BARE_POD.name());
    c.removePort("p0");
    c.removePort("p1");
    c.removePolicy(RecordsTest.POLICY.pod());
    c.removePolicy(RecordsTest.DENY_ALL.pod());
    c.commit(43);
    assertEquals(State.EMPTY.withGeneration(43), c.installed());

    Map<String, String> args = new LinkedHashMap<>();
    args.put("src", "10.0.0.1");
    args.put("dst", "10.244.2.\"7\"");
    JsonNode answer = new ObjectMapper().readTree(c.query(QueryNames.TRACE, args));
    assertEquals(QueryNames.TRACE, answer.path("op").asText());
    assertEquals("10.244.2.\"7\"", answer.path("args").path("dst").asText());
    assertEquals("{\"op\":\"show-ports\",\"args\":{}}", c.query(QueryNames.SHOW_PORTS, Map.of()));

    assertEquals(
        List.of(
            "installed",
            "addPort p0",
            "addPort p1",
            "addPod default/vm-1",
            "addPod " + RecordsTest.BARE_POD.name(),
            "addRoute 10.244.2.0/24",
            "addRoute fd00:2::/64",
            "setPolicy default/vm-1",
            "setPolicy " + RecordsTest.DENY_ALL.pod(),
            "commit 42",
            "installed",
            "replaceRoute 10.244.2.0/24 -> 10.0.0.9",
            "installed",
            "podProblems default/vm-1",
            "podProblems ns/gone",
            "removeRoute 10.244.2.0/24",
            "removeRoute fd00:2::/64",
            "removePod default/vm-1",
            "removePod " + RecordsTest.BARE_POD.name(),
            "removePort p0",
            "removePort p1",
            "removePolicy default/vm-1",
            "removePolicy " + RecordsTest.DENY_ALL.pod(),
            "commit 43",
            "installed"),
        d.calls,
        "each call reached the dataplane once, in order");
    assertEquals(List.of(), s.errors);
  }

  private static RouteSpec route(int i, String via) {
    return new RouteSpec(
        "10." + (i >> 16 & 255) + "." + (i >> 8 & 255) + "." + (i & 255) + "/32", via, "up");
  }

  @Test
  void aRouteBatchIsOneCommandAndCommitsItsGeneration() throws Exception {
    ServerHarness s = server().start();
    DataplaneClient c = client();
    c.addPort(new PortSpec("up", "net_null0", "uplink", List.of("10.0.0.2/24"), 1500));
    long before = s.server.commands();
    List<RouteChange> changes = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      changes.add(RouteChange.add(route(i, "10.0.0.1")));
    }
    c.applyRoutes(changes, 7);
    assertEquals(1, s.server.commands() - before, "one command for the batch and its commit");
    State installed = c.installed();
    assertEquals(7, installed.generation());
    assertEquals(100, installed.routes().size());
    assertEquals(7, c.committedGeneration());
    c.applyRoutes(
        List.of(
            RouteChange.remove(route(0, "10.0.0.1")),
            RouteChange.replace(route(1, "10.0.0.1"), route(1, "10.0.0.3"))),
        -1);
    installed = c.installed();
    assertEquals(7, installed.generation(), "a negative generation commits nothing");
    assertEquals(99, installed.routes().size());
    assertEquals("10.0.0.3", installed.routes().get(route(1, "x").prefix()).via());
  }

  @Test
  void aBatchLargerThanARecordTravelsInPartsAndIsAppliedWhole() throws Exception {
    ServerHarness s = server().start();
    DataplaneClient c = client();
    c.addPort(new PortSpec("up", "net_null0", "uplink", List.of("10.0.0.2/24"), 1500));
    List<RouteChange> changes = new ArrayList<>();
    for (int i = 0; i < 20_000; i++) { // about 1 MB: eight or more parts
      changes.add(RouteChange.add(route(i, "10.0.0.1")));
    }
    long before = s.server.commands();
    c.applyRoutes(changes, 3);
    assertTrue(s.server.commands() - before > 4, "parts: " + (s.server.commands() - before));
    State installed = c.installed();
    assertEquals(20_000, installed.routes().size());
    assertEquals(3, installed.generation());
  }

  @Test
  void aFailedChangeInABatchIsReportedWithItsRoute() throws Exception {
    ServerHarness s = server().start();
    DataplaneClient c = client();
    c.addPort(new PortSpec("up", "net_null0", "uplink", List.of("10.0.0.2/24"), 1500));
    c.applyRoutes(List.of(RouteChange.add(route(5, "10.0.0.1"))), 1);
    List<RouteChange> changes = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      changes.add(RouteChange.add(route(i, "10.0.0.1"))); // 5 exists: the fake refuses it
    }
    RouteBatchException e =
        assertThrows(RouteBatchException.class, () -> c.applyRoutes(changes, 2));
    assertEquals(5, e.index());
    assertTrue(e.refused());
    assertTrue(e.getMessage().contains("10.0.0.5/32"), e.getMessage());
    assertTrue(e.getMessage().contains("exists"), e.getMessage());
    assertEquals(1, c.installed().generation(), "nothing committed");
    assertEquals(1, c.committedGeneration());
    c.applyRoutes(List.of(RouteChange.remove(route(5, "10.0.0.1"))), 3); // the server carries on
    assertEquals(3, c.installed().generation());
  }

  @Test
  void aBatchOfAnotherProtocolVersionIsRefused() throws Exception {
    ServerHarness s = server().start();
    RingBuffer in = s.channel.toDataplane();
    Records.Writer w =
        new Records.Writer()
            .putLong(42)
            .putLong(1)
            .putInt(CommandChannel.VERSION - 1)
            .putInt(0)
            .putInt(1)
            .putLong(5)
            .putInt(0);
    writeRaw(in, Records.ROUTE_BATCH, w);
    Response r = readResponse(s.channel.toAgent());
    assertEquals(42, r.correlation());
    assertEquals(Records.REFUSED, r.status());
    assertTrue(r.message().contains("protocol " + (CommandChannel.VERSION - 1)), r.message());
    assertEquals(0, s.dataplane.installed().generation());
  }

  @Test
  void aLargeStateArrivesWholeOverManyChunks() throws Exception {
    ServerHarness s = server().start();
    State big = bigState(20_000);
    int bytes = new Records.Writer().put(big).length();
    assertTrue(bytes > 5 * CommandChannel.CHUNK, "the state is " + bytes + " bytes");
    s.dataplane.set(big);
    DataplaneClient c = client();
    for (int i = 0; i < 3; i++) {
      State got = c.installed();
      assertEquals(big, got);
      assertEquals(20_000, got.routes().size());
    }
    // A small answer after the big ones is still right (no chunk left over).
    assertEquals(List.of(), c.podProblems(RecordsTest.POD.name()));
  }

  @Test
  void aCommandLargerThanARecordIsRefusedBeforeItIsSent() throws Exception {
    ServerHarness s = server().start();
    DataplaneClient c = client();
    PortSpec huge =
        new PortSpec("p9", "x".repeat(CommandChannel.RING_CAPACITY / 8), "uplink", List.of(), 1500);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> c.addPort(huge));
    assertTrue(e.getMessage().contains("larger than the channel's records"), e.getMessage());
    c.addPort(RecordsTest.PORT);
    assertEquals(List.of("addPort p0"), s.dataplane.calls);
  }

  @Test
  void connectingWithNoDataplaneFailsAfterTheConnectTimeout() {
    long start = System.nanoTime();
    DataplaneClient.DataplaneGone e =
        assertThrows(
            DataplaneClient.DataplaneGone.class,
            () -> DataplaneClient.connect(dir, Duration.ofMillis(300), CALL));
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertTrue(millis >= 250 && millis < 2_000, millis + " ms");
    assertTrue(e.getMessage().contains(dir.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("no dataplane command channel"), e.getMessage());
  }

  // --- 3. errors -----------------------------------------------------------------------------

  @Test
  void refusalsAndFailuresArriveAsTheirExceptionsAndTheServerCarriesOn() throws Exception {
    ServerHarness s = server().start();
    DataplaneClient c = client();
    c.addPort(RecordsTest.PORT);

    IllegalArgumentException refused =
        assertThrows(IllegalArgumentException.class, () -> c.addPort(RecordsTest.PORT));
    assertEquals("port p0 exists", refused.getMessage());

    c.commit(5);
    IllegalStateException failed = assertThrows(IllegalStateException.class, () -> c.commit(4));
    assertSame(IllegalStateException.class, failed.getClass(), "not DataplaneGone");
    assertTrue(failed.getMessage().contains("generation 4 is older than 5"), failed.getMessage());

    s.dataplane.nextFailure = new UnsupportedOperationException("no such thing");
    IllegalStateException other = assertThrows(IllegalStateException.class, () -> c.removePod("x"));
    assertSame(IllegalStateException.class, other.getClass());
    assertTrue(other.getMessage().contains("no such thing"), other.getMessage());

    s.dataplane.nextFailure = new IllegalArgumentException("bad spec: \"quoted\" ünïcode");
    IllegalArgumentException withMessage =
        assertThrows(IllegalArgumentException.class, () -> c.addRoute(RecordsTest.ROUTE));
    assertEquals("bad spec: \"quoted\" ünïcode", withMessage.getMessage());

    s.dataplane.nextFailure = new IllegalStateException("while reading installed()");
    assertThrows(IllegalStateException.class, c::installed);

    // Still serving.
    c.addRoute(RecordsTest.ROUTE);
    assertEquals(5, c.installed().generation());
    assertEquals(List.of(), s.errors, "the server never stopped for an error");
    assertTrue(c.alive());
  }

  // --- 4. unknown and malformed commands ------------------------------------------------------

  @Test
  void anUnknownCommandIsAnsweredUnknownAndTheServerCarriesOn() throws Exception {
    ServerHarness s = server().start();
    RingBuffer in = s.channel.toDataplane();
    RingBuffer out = s.channel.toAgent();

    writeRaw(in, 999, new Records.Writer().putLong(4242).putString("whatever"));
    Response r = readResponse(out);
    assertEquals(Records.RESPONSE, r.type());
    assertEquals(4242, r.correlation());
    assertEquals(Records.UNKNOWN, r.status());
    assertEquals(0, r.more());
    assertEquals(
        "unknown command type 999 (dataplane protocol " + CommandChannel.VERSION + ")",
        r.message());

    // A record too short for a correlation id has nobody to answer: it is skipped.
    writeRaw(in, Records.HELLO, new Records.Writer().putInt(1));
    // A truncated command is refused, with the reader's message.
    writeRaw(in, Records.ADD_PORT, new Records.Writer().putLong(4243).putString("p0").putInt(99));
    Response truncated = readResponse(out);
    assertEquals(4243, truncated.correlation());
    assertEquals(Records.REFUSED, truncated.status());
    assertTrue(truncated.message().startsWith("truncated record"), truncated.message());

    writeRaw(in, Records.HELLO, new Records.Writer().putLong(4244));
    Response hello = readResponse(out);
    assertEquals(4244, hello.correlation());
    assertEquals(Records.OK, hello.status());
    assertEquals(16, hello.payload().length);
    await(() -> s.server.commands() == 4, "four commands counted");

    // And a client after all that.
    DataplaneClient c = client();
    c.addPort(RecordsTest.PORT);
    assertEquals(1, c.installed().ports().size());
    assertEquals(List.of(), s.errors);
  }

  // --- 5. a writer died mid-record --------------------------------------------------------------

  @Test
  void aClaimNeverCommittedIsUnblockedAndTheNextCommandServed() throws Exception {
    ServerHarness s = server().start();
    DataplaneClient c = client();
    c.addPort(RecordsTest.PORT);

    int claimed = s.channel.toDataplane().tryClaim(Records.HELLO, 64);
    assertTrue(claimed > 0, "claimed");
    // ...and the writer "dies" here, never committing.

    long start = System.nanoTime();
    c.addPort(RecordsTest.BARE_PORT);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertTrue(millis < 2_500, "served after " + millis + " ms");
    assertEquals(List.of("addPort p0", "addPort p1"), s.dataplane.calls);
    assertEquals(2, c.installed().ports().size());
    assertEquals(List.of(), s.errors);
  }

  @Test
  void aClaimNeverCommittedBehindCommittedOnesIsUnblockedToo() throws Exception {
    ServerHarness s = server();
    RingBuffer in = s.channel.toDataplane();
    writeRaw(in, Records.HELLO, new Records.Writer().putLong(1));
    assertTrue(in.tryClaim(Records.HELLO, 16) > 0);
    s.start();
    DataplaneClient c = client();
    c.addPort(RecordsTest.PORT);
    assertEquals(List.of("addPort p0"), s.dataplane.calls);
  }

  // --- 6. the dataplane is gone -----------------------------------------------------------------

  @Test
  void aCallFailsWithDataplaneGoneSoonAfterTheHeartbeatStops() throws Exception {
    ServerHarness s = server().start();
    DataplaneClient c = client(Duration.ofMillis(300), Duration.ofSeconds(30));
    c.addPort(RecordsTest.PORT);

    s.stop();
    long stopped = System.currentTimeMillis();
    long lastBeat = s.channel.lastHeartbeat();
    assertTrue(stopped - lastBeat < 1_000, "it beat until it stopped");

    DataplaneClient.DataplaneGone e =
        assertThrows(DataplaneClient.DataplaneGone.class, () -> c.addPort(RecordsTest.BARE_PORT));
    long millis = System.currentTimeMillis() - lastBeat;
    assertTrue(
        millis < CommandChannel.STALE_MILLIS + 1_000,
        "failed " + millis + " ms after the dataplane's last heartbeat");
    assertTrue(e.getMessage().contains("stopped"), e.getMessage());
    assertFalse(c.alive());

    // The next call looks for a live dataplane for the connect timeout, then gives up.
    long start = System.nanoTime();
    DataplaneClient.DataplaneGone again =
        assertThrows(DataplaneClient.DataplaneGone.class, c::installed);
    long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertTrue(waited < 2_000, waited + " ms");
    assertTrue(again.getMessage().contains("heartbeat is older"), again.getMessage());
    assertEquals(-1, c.dataplanePid());
  }

  @Test
  void aDataplaneThatNeverAnswersTimesTheCallOut() throws Exception {
    // Beating but not reading commands (a wedged control thread): the call timeout ends the wait.
    ServerHarness s = server();
    DataplaneClient c = client(CONNECT, Duration.ofMillis(400));
    long start = System.nanoTime();
    DataplaneClient.DataplaneGone e =
        assertThrows(DataplaneClient.DataplaneGone.class, () -> c.addPort(RecordsTest.PORT));
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertTrue(millis >= 350 && millis < 2_000, millis + " ms");
    assertTrue(e.getMessage().contains("did not answer"), e.getMessage());
    // When it comes round, it answers the stale command (ignored) and the next one.
    s.start();
    c.addPort(RecordsTest.BARE_PORT);
    assertEquals(List.of("addPort p0", "addPort p1"), s.dataplane.calls);
    assertEquals(2, c.installed().ports().size());
  }

  // --- 7. the dataplane restarts --------------------------------------------------------------

  @Test
  void theNextCallReachesARestartedDataplane() throws Exception {
    ServerHarness first = server().start();
    DataplaneClient c = client();
    c.addPort(RecordsTest.PORT);
    long firstIncarnation = c.incarnation();
    assertEquals(first.channel.incarnation(), firstIncarnation);

    // A new dataplane replaces cnc.dat; the old one still beats on its (now unlinked) file.
    ServerHarness second = server();
    assertNotEquals(firstIncarnation, second.channel.incarnation());
    // Responses left on the new channel before the client gets there are not its answers.
    second
        .channel
        .toAgent()
        .write(
            Records.RESPONSE,
            new Records.Writer()
                .putLong(0)
                .putInt(Records.REFUSED)
                .putInt(0)
                .putString("stale")
                .buffer(),
            0,
            8 + 4 + 4 + 4 + 5);
    second.start();
    assertFalse(first.channel.dataplaneAlive(System.currentTimeMillis()), "the file was replaced");

    assertEquals(State.EMPTY, c.installed(), "the new dataplane answered");
    assertEquals(second.channel.incarnation(), c.incarnation());
    assertEquals(second.channel.incarnation(), c.hello()[1]);
    c.addPort(RecordsTest.BARE_PORT);
    assertEquals(List.of("installed", "addPort p1"), second.dataplane.calls);
    assertEquals(List.of("addPort p0"), first.dataplane.calls);
  }

  @Test
  void theLastCommitIsReadWithoutACallAndForgottenWhenTheDataplaneRestarts() throws Exception {
    ServerHarness first = server().start();
    DataplaneClient c = client();
    assertEquals(-1, c.committedGeneration(), "nothing committed yet");
    c.commit(7);
    assertEquals(7, c.committedGeneration());
    int calls = first.dataplane.calls.size();
    assertEquals(7, c.committedGeneration());
    assertEquals(calls, first.dataplane.calls.size(), "read from cnc.dat, not asked");

    server().start(); // a restarted dataplane: a new cnc.dat
    assertEquals(-1, c.committedGeneration(), "the old file's generation is not the new one's");
  }

  @Test
  void aCommandLongerThanTheStaleTimeIsAnsweredNotTakenForADeadDataplane() throws Exception {
    ServerHarness s = server().start();
    DataplaneClient c = client(CONNECT, Duration.ofSeconds(30));
    s.dataplane.set(RecordsTest.STATE);
    CountDownLatch gate = new CountDownLatch(1);
    s.dataplane.installedGate = gate;
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Future<State> busy = pool.submit(c::installed);
      await(() -> s.dataplane.calls.contains("installed"), "the dataplane busy");
      // Busy past the stale time: the command thread beats nothing meanwhile, the heartbeat
      // thread does (the first bridge pod once took this long on a loaded CI machine).
      Thread.sleep(CommandChannel.STALE_MILLIS + 500);
      assertFalse(busy.isDone(), "still waiting, not failed");
      gate.countDown();
      assertEquals(RecordsTest.STATE.ports(), busy.get(10, TimeUnit.SECONDS).ports());
      assertTrue(c.alive());
    } finally {
      gate.countDown();
      pool.shutdownNow();
    }
  }

  @Test
  void aCallInFlightWhenTheDataplaneRestartsFailsAndTheNextReachesTheNewOne() throws Exception {
    ServerHarness first = server().start();
    DataplaneClient c = client();
    first.dataplane.set(RecordsTest.STATE);
    CountDownLatch gate = new CountDownLatch(1);
    first.dataplane.installedGate = gate;
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Future<State> inFlight = pool.submit(c::installed);
      await(() -> first.dataplane.calls.contains("installed"), "the old dataplane busy");

      ServerHarness second = server().start();
      java.util.concurrent.ExecutionException e =
          assertThrows(
              java.util.concurrent.ExecutionException.class,
              () -> inFlight.get(5, TimeUnit.SECONDS));
      assertSame(DataplaneClient.DataplaneGone.class, e.getCause().getClass());

      // The old dataplane finishes now: its answer goes to the old file, nowhere near the client.
      gate.countDown();
      assertEquals(State.EMPTY, c.installed());
      assertEquals(second.channel.incarnation(), c.incarnation());
    } finally {
      gate.countDown();
      pool.shutdownNow();
    }
  }

  // --- 8. stale responses from a dead agent ---------------------------------------------------

  @Test
  void answersLeftUnreadByADeadAgentDoNotConfuseANewClient() throws Exception {
    ServerHarness s = server().start();
    s.dataplane.set(bigState(5_000));
    RingBuffer in = s.channel.toDataplane();
    // The dead agent's commands, answered while nobody reads.
    writeRaw(in, Records.INSTALLED, new Records.Writer().putLong(1));
    writeRaw(in, Records.ADD_PORT, new Records.Writer().putLong(2).put(RecordsTest.PORT));
    writeRaw(in, Records.POD_PROBLEMS, new Records.Writer().putLong(3).putString("ns/x"));
    await(() -> s.server.commands() == 3, "the dead agent's commands answered");

    DataplaneClient c = client();
    assertEquals(List.of("pod ns/x is not installed", "its port is gone"), c.podProblems("ns/x"));
    assertEquals(5_000, c.installed().routes().size());
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> c.addPort(RecordsTest.PORT));
    assertEquals("port p0 exists", e.getMessage());
  }

  @Test
  void answersToADeadAgentsPendingCommandsDoNotConfuseANewClient() throws Exception {
    // The dead agent's commands are still queued when the new client connects, so their
    // answers (a refusal, a failure and a many-chunk state) arrive after it drained the ring.
    ServerHarness s = server();
    s.dataplane.set(bigState(20_000));
    RingBuffer in = s.channel.toDataplane();
    writeRaw(in, Records.ADD_PORT, new Records.Writer().putLong(11).put(RecordsTest.PORT));
    writeRaw(in, Records.COMMIT, new Records.Writer().putLong(12).putLong(1));
    writeRaw(in, Records.INSTALLED, new Records.Writer().putLong(13));
    writeRaw(in, 555, new Records.Writer().putLong(14));

    DataplaneClient c = client();
    s.start();
    c.addPort(RecordsTest.BARE_PORT);
    State got = c.installed();
    assertEquals(20_000, got.routes().size());
    assertEquals(List.of("p0", "p1"), List.copyOf(got.ports().keySet()));
    c.commit(8);
    assertEquals(8, c.installed().generation());
  }

  @Test
  void aNewClientAfterAClosedOneCarriesOn() throws Exception {
    ServerHarness s = server().start();
    try (DataplaneClient old = DataplaneClient.connect(dir, CONNECT, CALL)) {
      old.addPort(RecordsTest.PORT);
    }
    DataplaneClient c = client();
    assertEquals(1, c.installed().ports().size());
    assertEquals(List.of("addPort p0", "installed"), s.dataplane.calls);
    assertTrue(Files.exists(dir.resolve(CommandChannel.FILE)));
  }
}
