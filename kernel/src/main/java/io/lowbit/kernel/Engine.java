package io.lowbit.kernel;

import io.lowbit.model.Interrupts;
import java.io.File;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import jdk.jshell.JShell;
import jdk.jshell.execution.LocalExecutionControl;
import jdk.jshell.spi.ExecutionControl;
import jdk.jshell.spi.ExecutionControl.ClassBytecodes;
import jdk.jshell.spi.ExecutionControl.ClassInstallException;
import jdk.jshell.spi.ExecutionControl.EngineTerminationException;
import jdk.jshell.spi.ExecutionControl.InternalException;
import jdk.jshell.spi.ExecutionControl.NotImplementedException;
import jdk.jshell.spi.ExecutionControl.RunException;
import jdk.jshell.spi.ExecutionControlProvider;
import jdk.jshell.spi.ExecutionEnv;

/**
 * JShell running snippets in this JVM, so tensors and GPU memory live in the kernel. It is JDK's
 * {@link LocalExecutionControl} (whose bytecode stop checks make {@link JShell#stop()} end a
 * runaway loop, and which interrupts the snippet's thread so the DSL's own checks fire) with two
 * changes. Redefinition keeps JShell's own semantics (a variable computed from a method that is
 * redefined is reset), because accepting a redefinition without doing it would keep old code
 * running. The changes: the live value of each snippet is kept for rendering, instead of the JDK's string copy
 * of it (which calls {@code toString()} on anything, however large), and snippets see a class
 * path without the kernel's own libraries (JeroMQ, Gson), so a user's jar of another version wins.
 * Two more keep the kernel in charge: a stop asked for before a snippet starts (while it compiles)
 * applies as it starts, and calls that would end the JVM are rewritten to refuse ({@link ExitRefused}).
 */
final class Engine {
    private Engine() {}

    /** Packages of the kernel's transport: hidden from snippets, so user jars are not shadowed. */
    static final List<String> HIDDEN = List.of("org.zeromq.", "zmq.", "com.neilalexander.jnacl.", "com.google.gson.");

    private static final List<String> HIDDEN_JARS = List.of("jeromq-", "jnacl-", "gson-");

    private static volatile Method pending;
    private static volatile Object result;
    private static volatile BooleanSupplier stopAsked = () -> false;
    private static volatile Control control;

    /**
     * Whether the cell being run was interrupted. JShell's own stop only reaches a snippet that is
     * already running (its invoke clears the flag), so each snippet also asks this as it starts.
     */
    static void stopWhen(BooleanSupplier asked) {
        stopAsked = asked;
    }

    /**
     * Stops snippet code wherever it runs, a value's {@code toString()} while the kernel renders it
     * included: JShell's {@link JShell#stop()} acts only while a snippet's {@code do_it$} runs.
     */
    static void stopAll() {
        Control c = control;
        if (c != null) c.stopEverywhere();
    }

    /** The live value the last snippet produced (null for statements and void calls). */
    static Object lastValue() {
        return result;
    }

    static JShell create(List<String> compilerOptions) {
        // javac inside JShell takes its class path from this property, once, at creation
        String cp = Arrays.stream(System.getProperty("java.class.path", "").split(File.pathSeparator))
                .filter(p -> HIDDEN_JARS.stream()
                        .noneMatch(h -> new File(p).getName().startsWith(h)))
                .collect(Collectors.joining(File.pathSeparator));
        String saved = System.getProperty("java.class.path");
        System.setProperty("java.class.path", cp);
        try {
            JShell shell = JShell.builder()
                    .executionEngine(new Provider(), Map.of())
                    .compilerOptions(compilerOptions.toArray(String[]::new))
                    .out(System.out)
                    .err(System.err)
                    .in(System.in)
                    .build();
            shell.sourceCodeAnalysis(); // builds the compiler now, not in the first cell
            return shell;
        } finally {
            System.setProperty("java.class.path", saved);
        }
    }

    /**
     * Runs in the snippet's thread in place of JShell's {@code do_it$}: calls it, keeps its value,
     * and returns nothing, so JShell never builds a string of the value. Exceptions pass through
     * unwrapped, so a stop still reads as a stop and a user's exception as the user's.
     */
    public static Object trampoline() throws Throwable {
        result = null;
        // after JShell cleared its stop flag: an interrupt that came while this snippet compiled is not lost
        if (stopAsked.getAsBoolean()) throw new Interrupts.Cancelled();
        try {
            result = pending.invoke(null);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
        return null;
    }

    private static final class Control extends LocalExecutionControl {
        private static final Method TRAMPOLINE;

        static {
            try {
                TRAMPOLINE = Engine.class.getMethod("trampoline");
                TRAMPOLINE.setAccessible(true); // Engine is package-private; JShell's module calls it reflectively
            } catch (NoSuchMethodException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        private static final String CANCEL_CLASS = "REPL.$Cancel$";
        private boolean warned;

        Control() {
            super(new HidingLoader(Engine.class.getClassLoader()));
        }

        @Override
        public void load(ClassBytecodes[] cbcs)
                throws ClassInstallException, NotImplementedException, EngineTerminationException {
            ClassBytecodes[] guarded = new ClassBytecodes[cbcs.length];
            for (int i = 0; i < cbcs.length; i++)
                guarded[i] = new ClassBytecodes(cbcs[i].name(), ExitRefused.rewrite(cbcs[i].bytecodes()));
            super.load(guarded);
        }

        /**
         * Sets the flag that the stop checks JShell weaves into snippet code read (in JDK 25 the
         * public static {@code allStop} of its generated class {@code REPL.$Cancel$}); the next snippet's
         * invoke clears it. Without that class (another JDK) only a running snippet can be stopped.
         */
        void stopEverywhere() {
            try {
                findClass(CANCEL_CLASS).getField("allStop").setBoolean(null, true);
            } catch (ReflectiveOperationException | RuntimeException e) {
                if (!warned) Kernels.log("a stop cannot reach code outside a running snippet: " + e);
                warned = true;
            }
        }

        /** JShell asks for a variable's value after running its snippet: keep the object itself. */
        @Override
        public String varValue(String className, String varName)
                throws RunException, EngineTerminationException, InternalException {
            try {
                result = findClass(className).getField(varName).get(null);
                return "";
            } catch (ReflectiveOperationException e) {
                return super.varValue(className, varName);
            }
        }

        @Override
        protected String invoke(Method doit) throws Exception {
            pending = doit;
            try {
                return super.invoke(TRAMPOLINE);
            } finally {
                pending = null;
            }
        }
    }

    private static final class Provider implements ExecutionControlProvider {
        @Override
        public String name() {
            return "lowbit-local";
        }

        @Override
        public ExecutionControl generate(ExecutionEnv env, Map<String, String> parameters) {
            Control c = new Control();
            control = c;
            return c;
        }
    }

    /** The parent of the snippets' loader: the application's classes minus the kernel's transport. */
    static final class HidingLoader extends ClassLoader {
        HidingLoader(ClassLoader parent) {
            super("lowbit-snippets-parent", parent);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            for (String h : HIDDEN) if (name.startsWith(h)) throw new ClassNotFoundException(name);
            return super.loadClass(name, resolve);
        }

        @Override
        public java.net.URL getResource(String name) {
            String dotted = name.replace('/', '.');
            for (String h : HIDDEN) if (dotted.startsWith(h)) return null;
            return super.getResource(name);
        }
    }
}
