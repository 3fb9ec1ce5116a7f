package io.flatnet.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class QsbrTest {

  @Test
  void deferredActionWaitsForEveryOnlineReader() {
    QsbrDomain domain = new QsbrDomain();
    QsbrReader r1 = domain.register();
    QsbrReader r2 = domain.register();
    AtomicInteger ran = new AtomicInteger();
    domain.defer(ran::incrementAndGet);
    assertEquals(0, domain.reclaim());
    r1.quiescent();
    assertEquals(0, domain.reclaim(), "r2 has not passed a quiescent point");
    r2.quiescent();
    assertEquals(1, domain.reclaim());
    assertEquals(1, ran.get());
    assertEquals(0, domain.pendingReclaims());
  }

  @Test
  void offlineAndUnregisteredReadersDoNotBlock() {
    QsbrDomain domain = new QsbrDomain();
    QsbrReader r1 = domain.register();
    QsbrReader r2 = domain.register();
    r1.offline();
    r2.close();
    assertEquals(1, domain.readerCount());
    assertTrue(domain.isGracePeriodOver(domain.advance()));
    r1.online();
    long target = domain.advance();
    assertFalse(domain.isGracePeriodOver(target), "online again: blocks new grace periods");
    r1.quiescent();
    assertTrue(domain.isGracePeriodOver(target));
  }

  @Test
  void quiescentAfterOfflineGoesOnline() {
    QsbrDomain domain = new QsbrDomain();
    QsbrReader r = domain.register();
    r.offline();
    assertFalse(r.isOnline());
    r.quiescent();
    assertTrue(r.isOnline());
  }

  @Test
  void synchronizeWaitsForAStalledReader() throws Exception {
    QsbrDomain domain = new QsbrDomain();
    QsbrReader r = domain.register();
    assertFalse(domain.awaitGracePeriod(domain.advance(), 50, TimeUnit.MILLISECONDS));
    CompletableFuture<Void> sync = CompletableFuture.runAsync(domain::synchronize);
    Thread.sleep(100);
    assertFalse(sync.isDone(), "synchronize returned while the reader was stalled");
    r.quiescent();
    sync.get(5, TimeUnit.SECONDS);
  }

  @Test
  void synchronizeWithALiveReaderThread() throws Exception {
    QsbrDomain domain = new QsbrDomain();
    AtomicBoolean stop = new AtomicBoolean();
    Thread worker =
        new Thread(
            () -> {
              try (QsbrReader r = domain.register()) {
                while (!stop.get()) {
                  r.quiescent();
                  Thread.onSpinWait();
                }
              }
            });
    worker.start();
    for (int i = 0; i < 200; i++) {
      domain.synchronize();
    }
    stop.set(true);
    worker.join();
  }

  /**
   * Ipv4Fib updates in place (it used to wait here for readers to leave its spare copy): commits
   * never wait for a stalled reader, except to reuse a tbl8 group the reader may still be reading.
   */
  @Test
  void fibReusesAnUnlinkedGroupOnlyAfterReadersMovedOn() throws Exception {
    QsbrDomain domain = new QsbrDomain();
    NextHopTable nht = new NextHopTable(4, domain);
    int nh = nht.addForward(1, 1, 1);
    QsbrReader reader = domain.register();
    try (Ipv4Fib fib = new Ipv4Fib(domain, nht, 1)) {
      fib.add(Ipv4Prefix.parse("10.0.0.0/8"), nh);
      fib.add(Ipv4Prefix.parse("10.0.0.0/25"), nh); // the only group
      assertEquals(nh, fib.lookup(0x0A00_0001)); // the reader may now hold a pointer to it
      fib.delete(Ipv4Prefix.parse("10.0.0.0/25")); // unlinked: no wait
      fib.add(Ipv4Prefix.parse("11.0.0.0/8"), nh); // no group needed: no wait
      CompletableFuture<Long> commit =
          CompletableFuture.supplyAsync(() -> fib.add(Ipv4Prefix.parse("10.0.1.0/25"), nh));
      Thread.sleep(100);
      assertFalse(commit.isDone(), "commit reused a group a reader may be reading");
      reader.quiescent();
      assertEquals(5L, commit.get(5, TimeUnit.SECONDS));
      assertEquals(nh, fib.lookup(0x0A00_0101));
      assertEquals(nh, fib.lookup(0x0B00_0001));
    } finally {
      reader.close();
    }
  }
}
