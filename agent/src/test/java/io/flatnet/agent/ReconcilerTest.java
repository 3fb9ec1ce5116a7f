package io.flatnet.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.state.DesiredState;
import io.flatnet.agent.state.InMemoryDataplane;
import io.flatnet.control.State;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReconcilerTest {

  private final InMemoryDataplane dp = new InMemoryDataplane();
  private final Reconciler reconciler = new Reconciler(dp);

  private static State state(String yaml) throws Exception {
    return DesiredState.from(ConfigLoader.parse(yaml, "test"), List.of());
  }

  private static final String WITH_NODE_C =
      TestConfigs.BASE.replace(
          "routes:",
          "  - {name: node-c, nodeIPs: [192.0.2.12], podCIDRs: [10.244.3.0/24]}\nroutes:");

  @Test
  void appliesTheDifferenceOnceAsTheNextGeneration() throws Exception {
    State desired = state(TestConfigs.BASE);
    assertInstanceOf(ApplyResult.Applied.class, reconciler.apply(desired));
    assertEquals(1, reconciler.generation());
    assertEquals(new ApplyResult.Unchanged(1), reconciler.apply(desired));
    assertTrue(dp.installed().sameSpecs(desired));
  }

  @Test
  void plansAgainstWhatItCommittedWhileTheDataplaneSaysSoAndAsksOtherwise() throws Exception {
    dp.publishesCommits = true;
    State base = state(TestConfigs.BASE);
    State withNodeC = state(WITH_NODE_C);
    assertInstanceOf(ApplyResult.Applied.class, reconciler.apply(base));
    int asked = dp.installedCalls;
    assertInstanceOf(ApplyResult.Applied.class, reconciler.apply(withNodeC));
    assertEquals(asked, dp.installedCalls, "the dataplane's last commit is ours: no call");
    assertTrue(dp.installed().sameSpecs(withNodeC));

    dp.restart(); // a new dataplane: its last commit is not ours, so it is asked
    asked = dp.installedCalls;
    assertInstanceOf(ApplyResult.Applied.class, reconciler.apply(withNodeC));
    assertEquals(asked + 1, dp.installedCalls);
    assertTrue(dp.installed().sameSpecs(withNodeC), "the whole state is back");

    dp.failOn = c -> c.startsWith("removeRoute");
    assertInstanceOf(ApplyResult.Failed.class, reconciler.apply(base));
    dp.failOn = c -> false;
    asked = dp.installedCalls;
    reconciler.apply(withNodeC);
    assertEquals(asked + 1, dp.installedCalls, "after a failure it asks");
  }

  @Test
  void aGenerationFoundInstalledIsContinued() throws Exception {
    new Reconciler(dp).apply(state(TestConfigs.BASE));
    assertInstanceOf(ApplyResult.Applied.class, reconciler.apply(state(WITH_NODE_C)));
    assertEquals(2, reconciler.generation());
  }

  @Test
  void aFailureRestoresTheAcceptedStateOnly() throws Exception {
    State good = state(TestConfigs.BASE);
    dp.failOn = c -> c.equals("addRoute 10.244.3.0/24");
    ApplyResult.Failed f =
        assertInstanceOf(ApplyResult.Failed.class, reconciler.apply(state(WITH_NODE_C)));
    assertFalse(f.rolledBack(), "nothing accepted yet: nothing to restore");

    dp.failOn = c -> false;
    assertTrue(reconciler.apply(good).ok());
    reconciler.accept(good);
    long before = reconciler.generation();
    dp.failOn = c -> c.equals("addRoute 10.244.3.0/24");
    f = assertInstanceOf(ApplyResult.Failed.class, reconciler.apply(state(WITH_NODE_C)));
    assertTrue(f.rolledBack());
    assertTrue(dp.installed().sameSpecs(good), dp.installed().toString());
    assertTrue(reconciler.generation() > before);
    assertEquals(reconciler.generation(), dp.installed().generation());
  }
}
