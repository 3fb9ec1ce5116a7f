package io.flatnet.agent.process;

import java.lang.reflect.Proxy;

/**
 * Runs an action on SIGHUP, as daemons reload their config. The JDK's only way to catch a signal is
 * {@code sun.misc.Signal} (module jdk.unsupported); it is reached reflectively so the build's
 * warnings-as-errors stays on for everything else.
 */
final class HangUpSignal {
  private HangUpSignal() {}

  /** Returns false (and the caller carries on) if this JVM cannot catch SIGHUP. */
  static boolean onHangUp(Runnable action) {
    try {
      Class<?> signalClass = Class.forName("sun.misc.Signal");
      Class<?> handlerClass = Class.forName("sun.misc.SignalHandler");
      Object signal = signalClass.getConstructor(String.class).newInstance("HUP");
      Object handler =
          Proxy.newProxyInstance(
              HangUpSignal.class.getClassLoader(),
              new Class<?>[] {handlerClass},
              (proxy, method, args) -> {
                if (method.getName().equals("handle")) {
                  action.run();
                }
                return null;
              });
      signalClass.getMethod("handle", signalClass, handlerClass).invoke(null, signal, handler);
      return true;
    } catch (ReflectiveOperationException | RuntimeException e) {
      return false;
    }
  }
}
