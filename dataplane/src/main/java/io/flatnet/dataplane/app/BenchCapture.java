package io.flatnet.dataplane.app;

import io.flatnet.control.CaptureFile;
import io.flatnet.control.CaptureFilter;
import io.flatnet.dataplane.Router;
import io.flatnet.dataplane.capture.CaptureSpec;
import java.util.Locale;
import java.util.concurrent.locks.LockSupport;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;

/**
 * A capture for {@code flatnet run} under {@code bench e2e} ({@code --capture-filter}): every
 * port's received packets that match the filter are copied by the workers into {@code capture.dat}
 * (the same {@link CaptureSpec} and rings {@code ctl capture} uses, default snaplen), and a thread
 * of this process consumes the rings: it renews the lease and drops the records instead of writing
 * pcapng (ctl's writer is another process; here every thread but the workers shares the worker's
 * CPU, so the copy on the worker and this consumer are what the bench charges to capture).
 */
final class BenchCapture {
  private static final MessageHandler DISCARD = (type, buffer, index, length) -> {};

  private final Router router;
  private final CaptureSpec spec;
  private final Thread consumer;
  private volatile boolean running = true;
  private long records;

  BenchCapture(Router router, String filterText) {
    this.router = router;
    CaptureFilter filter = CaptureFilter.parse(filterText);
    CaptureFile.Mapped file = router.captureFile();
    file.drain();
    file.renewLease(System.currentTimeMillis());
    this.spec =
        CaptureSpec.capture(
            router.nextCaptureSession(),
            file,
            null,
            true,
            false,
            false,
            CaptureFile.DEFAULT_SNAPLEN,
            filter,
            0);
    router.startCapture(spec);
    this.consumer = new Thread(this::consume, "flatnet-bench-capture");
    consumer.setDaemon(true);
    consumer.start();
  }

  private void consume() {
    CaptureFile.Mapped file = router.captureFile();
    long nextLease = 0;
    while (running) {
      int n = 0;
      for (int w = 0; w < file.workers(); w++) {
        OneToOneRingBuffer ring = file.ring(w);
        n += ring.read(DISCARD, Integer.MAX_VALUE);
      }
      records += n;
      long now = System.currentTimeMillis();
      if (now >= nextLease) {
        file.renewLease(now);
        nextLease = now + CaptureFile.LEASE_RENEW_MILLIS;
      }
      if (n == 0) {
        LockSupport.parkNanos(200_000); // a 2 MiB ring holds 2 ms or more of 64 B records
      }
    }
  }

  /** Records consumed so far (read after {@link #stop}). */
  long records() {
    return records;
  }

  /** Records the workers could not write because a ring was full. */
  long ringFull() {
    return router.captureFile().ringFullTotal();
  }

  /** Ends the capture and the consumer; returns the summary's {@code capture} fields. */
  String stop() throws InterruptedException {
    router.stopCapture(spec.session);
    running = false;
    consumer.join(2_000);
    return String.format(
        Locale.ROOT,
        "\"capture\":{\"filter\":\"%s\",\"taken\":%d,\"records\":%d,\"ring_full\":%d}",
        spec.filter().toString().replace("\"", "'"),
        records + ringFull(),
        records,
        ringFull());
  }
}
