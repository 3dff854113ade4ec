package io.lowbit.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lowbit.model.Interrupts;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import jdk.jshell.EvalException;
import jdk.jshell.JShell;
import jdk.jshell.SnippetEvent;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The in-process engine: exits are refused; a stop reaches code that has not started or runs outside a snippet. */
class EngineTest {
    private static JShell shell;

    @BeforeAll
    static void start() {
        shell = Engine.create(List.of());
    }

    @AfterAll
    static void close() {
        Engine.stopWhen(() -> false);
        shell.close();
    }

    /** The exception a snippet threw (its class name), or null when it ran to the end. */
    private static String thrown(String code) {
        for (SnippetEvent e : shell.eval(code)) {
            if (e.causeSnippet() == null && e.exception() instanceof EvalException x) return x.getExceptionClassName();
            if (e.causeSnippet() == null && e.exception() != null)
                return e.exception().getClass().getName();
        }
        return null;
    }

    /** The live value of an expression (the engine keeps it, and gives JShell no string of it). */
    private static Object value(String expression) {
        assertNull(thrown(expression));
        return Engine.lastValue();
    }

    /** Each call is one snippet: JShell's eval takes the first of several. */
    private static String message(String code) {
        for (SnippetEvent e : shell.eval(code))
            if (e.exception() != null) return e.exception().getMessage();
        return null;
    }

    @Test
    void everyWayToCallExitOrHaltIsRefusedAndTheStateIsKept() {
        assertNull(thrown("int kept = 41;"));
        String refused = ExitRefused.class.getName();
        assertEquals(refused, thrown("System.exit(3);"));
        assertTrue(message("System.exit(3);").startsWith("System.exit(3) was refused"), message("System.exit(3);"));
        assertTrue(message("Runtime.getRuntime().halt(1);").startsWith("Runtime.halt(1) was refused"));
        assertNull(thrown("Runtime r = Runtime.getRuntime();"));
        assertEquals(refused, thrown("r.exit(2);"));
        assertNull(thrown("void bye(int s) { if (s > 0) System.exit(s); }")); // defining it is fine
        assertNull(thrown("bye(0);"));
        assertEquals(refused, thrown("bye(4);"));
        assertEquals(refused, thrown("{ Runnable quit = () -> System.exit(6); quit.run(); }"));
        String reference = "{ java.util.function.IntConsumer q = System::exit; q.accept(5); }";
        assertTrue(message(reference).startsWith("System.exit(5)"), message(reference));
        String bound = "{ java.util.function.IntConsumer h = Runtime.getRuntime()::halt; h.accept(7); }";
        assertTrue(message(bound).startsWith("Runtime.halt(7)"), message(bound));
        String unbound = "{ java.util.function.ObjIntConsumer<Runtime> e = Runtime::exit;"
                + " e.accept(Runtime.getRuntime(), 8); }";
        assertTrue(message(unbound).startsWith("Runtime.exit(8)"), message(unbound));
        assertEquals(42, value("kept + 1"));
    }

    @Test
    void codeWithoutAnExitIsLoadedAsJavacWroteIt() throws Exception {
        byte[] plain;
        byte[] exits;
        try (var in = EngineTest.class.getResourceAsStream("EngineTest.class");
                var main = Main.class.getResourceAsStream("Main.class")) {
            plain = in.readAllBytes();
            exits = main.readAllBytes();
        }
        assertSame(plain, ExitRefused.rewrite(plain)); // names System.exit only in strings
        assertNotSame(exits, ExitRefused.rewrite(exits));
        String s = "java.util.List.of(1, 2).stream().map(i -> \"x\" + i).reduce(\"\", String::concat)";
        assertEquals("x1x2", value(s));
    }

    @Test
    void aStopAskedForBeforeTheSnippetRunsStopsIt() {
        AtomicBoolean stop = new AtomicBoolean(true); // as when the interrupt came while the snippet compiled
        Engine.stopWhen(stop::get);
        try {
            String ex = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> thrown("while (true) { }"));
            assertEquals(Interrupts.Cancelled.class.getName(), ex);
        } finally {
            Engine.stopWhen(() -> false);
        }
        assertEquals(3, value("1 + 2")); // and the next snippet runs
    }

    @Test
    void aStopReachesSnippetCodeRunningOutsideASnippetLikeAToStringWhileRendering() throws Exception {
        assertNull(thrown("class Endless { public String toString() { while (true) { } } }"));
        Object endless = value("new Endless()");
        assertEquals("Endless", endless.getClass().getSimpleName());
        Thread stopper = Thread.ofPlatform().start(() -> {
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                return;
            }
            Engine.stopAll();
        });
        Throwable t = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            try {
                endless.toString();
                return null;
            } catch (Throwable e) {
                return e;
            }
        });
        stopper.join();
        assertNotNull(t, "toString() returned");
        assertEquals("java.lang.ThreadDeath", t.getClass().getName()); // JShell's stop check
        assertEquals(3, value("1 + 2")); // the next snippet clears the stop
    }
}
