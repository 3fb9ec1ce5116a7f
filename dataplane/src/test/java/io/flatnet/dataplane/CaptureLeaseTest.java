package io.flatnet.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.control.CaptureFile;
import io.flatnet.control.CaptureFilter;
import io.flatnet.dataplane.capture.CaptureSpec;
import java.io.File;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A capture runs only while its consumer renews its lease: the router's control thread ends an
 * abandoned one (a ctl that was killed), and one capture runs at a time.
 */
class CaptureLeaseTest {
  @TempDir File dir;

  @Test
  void anAbandonedCaptureEndsAndOneRunsAtATime() throws Exception {
    DataplaneTestSupport.eal();
    try (Router router = Router.open(Router.Sizes.defaults(), dir)) {
      router.startWorker(-1, new SleepingMillisIdleStrategy(1));
      CaptureFile.Mapped file = router.captureFile();
      assertEquals(new File(dir, CaptureFile.FILE), file.file());
      assertEquals(
          "rw-------",
          java.nio.file.attribute.PosixFilePermissions.toString(
              java.nio.file.Files.getPosixFilePermissions(file.file().toPath())),
          "packets' contents: the dataplane's user only");
      CaptureSpec first =
          CaptureSpec.capture(
              router.nextCaptureSession(), file, null, true, true, false, 64, CaptureFilter.ANY, 0);
      router.startCapture(first);
      assertEquals(first.session, file.session());
      CaptureSpec second =
          CaptureSpec.trace(router.nextCaptureSession(), file, 64, CaptureFilter.ANY, 1);
      IllegalStateException refused =
          assertThrows(IllegalStateException.class, () -> router.startCapture(second));
      assertTrue(refused.getMessage().contains("a capture runs already"), refused.getMessage());

      // The consumer renews for a while: the capture goes on past the lease time.
      long until = System.currentTimeMillis() + CaptureFile.LEASE_MILLIS + 1000;
      while (System.currentTimeMillis() < until) {
        file.renewLease(System.currentTimeMillis());
        Thread.sleep(200);
      }
      assertSame(first, router.capture(), "renewed: still running");
      // Then it is gone: within the lease time (and a control-thread check), the capture ends.
      long deadline = System.currentTimeMillis() + CaptureFile.LEASE_MILLIS + 2000;
      while (router.capture() != null && System.currentTimeMillis() < deadline) {
        Thread.sleep(50);
      }
      assertNull(router.capture(), "the abandoned capture ended");
      assertEquals(0, file.session());
      assertEquals(first.session, file.ended());
      router.startCapture(second); // and another may start
      assertEquals(second.session, file.session());
      assertSame(second, router.stopCapture(second.session));
      assertNull(router.stopCapture(second.session), "stopped once");
      assertEquals(second.session, file.ended());
    }
  }
}
