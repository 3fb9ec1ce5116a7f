package io.flatnet.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One router per run directory: the counters file's lock (pure Java and a second process). */
class DataplaneCountersTest {
  @TempDir File dir;

  @Test
  void aSecondRouterOnTheSameRunDirectoryIsRefusedAndTheFirstKeepsItsCounters() throws Exception {
    File file = new File(dir, "counters.dat");
    try (DataplaneCounters first = DataplaneCounters.create(file)) {
      first.newCounter(DataplaneCounters.TYPE_WORKER, "worker 0 rx-packets").set(42);
      // Another process: POSIX locks (what FileChannel takes) are per process.
      Process other =
          new ProcessBuilder(
                  "python3",
                  "-c",
                  "import fcntl,sys\n"
                      + "f=open(sys.argv[1],'a')\n"
                      + "try:\n"
                      + "  fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB); print('locked')\n"
                      + "except OSError: print('refused')\n",
                  file.getPath() + ".lock")
              .redirectErrorStream(true)
              .start();
      assertTrue(other.waitFor(10, TimeUnit.SECONDS));
      assertEquals(
          "refused",
          new String(other.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim());
      IllegalStateException second =
          assertThrows(IllegalStateException.class, () -> DataplaneCounters.create(file));
      assertTrue(second.getMessage().contains("counters.dat"), second.getMessage());
      assertEquals(42, first.sum("worker 0 rx-packets"), "the first router's counters are intact");
    }
    try (DataplaneCounters again = DataplaneCounters.create(file)) {
      assertEquals(0, again.sum("worker 0 rx-packets"), "once the first is gone, a new one starts");
    }
  }

  @Test
  void aLockHeldByAnotherProcessNamesItsPid() throws Exception {
    File file = new File(dir, "counters.dat");
    File lock = new File(dir, "counters.dat.lock");
    Process holder =
        new ProcessBuilder(
                "python3",
                "-c",
                "import fcntl,os,sys,time\n"
                    + "f=open(sys.argv[1],'w'); fcntl.lockf(f,fcntl.LOCK_EX)\n"
                    + "f.write(str(os.getpid())+'\\n'); f.flush(); print('held', flush=True)\n"
                    + "time.sleep(30)\n",
                lock.getPath())
            .start();
    try {
      BufferedReader out =
          new BufferedReader(
              new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
      assertEquals("held", out.readLine());
      IllegalStateException refused =
          assertThrows(IllegalStateException.class, () -> DataplaneCounters.create(file));
      assertTrue(refused.getMessage().contains("pid " + holder.pid()), refused.getMessage());
    } finally {
      holder.destroy();
    }
  }
}
