package io.lowbit.kernel;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.github.spencerpark.jupyter.kernel.KernelConnectionProperties;
import io.github.spencerpark.jupyter.kernel.ReplacementOptions;
import io.github.spencerpark.jupyter.kernel.display.DisplayData;
import io.lowbit.kernel.Wire.Msg;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * The kernel's side of the Jupyter protocol: five sockets, a thread each for heartbeat, control
 * and shell (IOPub has its own, in {@link Iopub}), and one thread that runs cells, so the shell
 * thread can relay stdin while a cell runs and the control thread can interrupt it.
 *
 * <p>What it does that the base kernel 2.3.0 did not: every reply carries {@code status};
 * history and unknown requests are answered; requests are read as they arrive (no polling
 * sleep); {@code silent}, {@code store_history} and {@code stop_on_error} behave as in ipykernel
 * (cells queued behind a failure are aborted); nothing a cell throws, Errors included, ends a loop.
 */
final class Server {
    private static final int RECV_TIMEOUT_MS = 250;
    private static final boolean TRACE =
            System.getenv("LOWBIT_TRACE") != null; // how often a loop looks at the running flag

    private final ZContext ctx = new ZContext(1);
    private final Wire wire;
    private final KernelConnectionProperties props;
    private final ZMQ.Socket shell, control, stdin, heartbeat;
    final Iopub iopub;
    private final CompletableFuture<LowbitKernel> kernel = new CompletableFuture<>();
    private final Thread exec;
    private final LinkedBlockingQueue<Runnable> cells = new LinkedBlockingQueue<>();
    private final LinkedBlockingQueue<Object> shellEvents = new LinkedBlockingQueue<>();
    private final History history = new History();
    private final AtomicReference<InputRequest> pendingInput = new AtomicReference<>();
    /** The execute request being handled, from its arrival until its cell is done; guarded by {@code this}. */
    private CompletableFuture<Void> currentCell;
    /** When the last interrupt that found no cell was sent (null: none since the last cell); guarded by {@code this}. */
    private Instant unclaimedInterrupt;

    private volatile boolean running = true;
    private volatile boolean allowStdin;
    private int executionCount = 1;
    private final CompletableFuture<Boolean> stopped = new CompletableFuture<>();
    private final CompletableFuture<Void> warm = new CompletableFuture<>();
    /** Round trips of {@link #warmUp()}: about what it takes the JIT to compile the request path. */
    static final int WARM_UP_ROUND_TRIPS = 300;

    Server(KernelConnectionProperties props) {
        this.props = props;
        this.wire = new Wire(props.getKey());
        String base = props.getTransport() + "://" + props.getIp() + ":";
        iopub = new Iopub(ctx, wire, base + props.getIopubPort());
        shell = bind(SocketType.ROUTER, base + props.getShellPort());
        control = bind(SocketType.ROUTER, base + props.getControlPort());
        stdin = bind(SocketType.ROUTER, base + props.getStdinPort());
        heartbeat = bind(SocketType.REP, base + props.getHbPort());
        exec = Thread.ofPlatform().name("lowbit-exec").daemon().start(this::execLoop);
    }

    private ZMQ.Socket bind(SocketType type, String address) {
        ZMQ.Socket s = ctx.createSocket(type);
        s.setLinger(1000);
        s.setReceiveTimeOut(RECV_TIMEOUT_MS);
        s.bind(address);
        return s;
    }

    /** Starts answering. The kernel (JShell and the DSL) may still be starting; requests that need it wait. */
    void start() {
        iopub.status("starting", null);
        Thread.ofPlatform().name("lowbit-heartbeat").daemon().start(this::heartbeatLoop);
        Thread.ofPlatform().name("lowbit-control").daemon().start(() -> loop(control, true));
        Thread.ofPlatform().name("lowbit-shell").daemon().start(() -> loop(shell, false));
        Thread.ofPlatform().name("lowbit-warm-up").daemon().start(this::warmUp);
    }

    /**
     * Sends kernel_info requests and replies through this kernel's own code (signing, parsing, JSON,
     * JeroMQ over TCP) between two private sockets while JShell starts, on the core JShell's start
     * leaves idle. Interpreted, that path takes a round trip of several milliseconds; the first
     * requests a client sends should not pay for it.
     */
    private void warmUp() {
        try (ZMQ.Socket server = ctx.createSocket(SocketType.ROUTER);
                ZMQ.Socket client = ctx.createSocket(SocketType.DEALER)) {
            Wire w = new Wire(props.getKey()); // its own replay history: these messages are not a client's
            int port = server.bindToRandomPort("tcp://127.0.0.1");
            client.connect("tcp://127.0.0.1:" + port);
            server.setReceiveTimeOut(2000);
            client.setReceiveTimeOut(2000);
            long t0 = System.nanoTime();
            for (int i = 0; i < WARM_UP_ROUND_TRIPS && running; i++) {
                sendFrames(client, w.encode(w.message("kernel_info_request", null, new JsonObject())));
                List<byte[]> request = receive(server, 0);
                if (request == null) break;
                Msg m = w.decode(request);
                sendFrames(server, w.encode(w.message(m.type().replaceFirst("_request$", "_reply"), m, kernelInfo())));
                List<byte[]> reply = receive(client, 0);
                if (reply == null) break;
                w.decode(reply);
            }
            if (TRACE) Kernels.log(String.format("request path warm-up: %.0f ms", (System.nanoTime() - t0) / 1e6));
        } catch (RuntimeException e) {
            Kernels.log("warming up the request path failed (requests are only slower at first): " + e);
        } finally {
            warm.complete(null);
        }
    }

    void kernelReady(LowbitKernel k) {
        k.renderers().plotlyWhen(k.magics()::plotly);
        kernel.complete(k);
    }

    void kernelFailed(Throwable t) {
        kernel.completeExceptionally(t);
    }

    /** Blocks until a shutdown request (or {@link #stop()}); true when a restart was asked for. */
    boolean awaitShutdown() {
        try {
            return stopped.get();
        } catch (InterruptedException | ExecutionException e) {
            return false;
        }
    }

    void stop() {
        running = false;
        stopped.complete(false);
    }

    // ------------------------------------------------------------------------------ loops

    private void heartbeatLoop() {
        while (running) {
            try {
                byte[] ping = heartbeat.recv(0);
                if (ping != null) heartbeat.send(ping, 0);
            } catch (Throwable t) {
                if (running) Kernels.log("heartbeat: " + t);
            }
        }
    }

    private void loop(ZMQ.Socket socket, boolean isControl) {
        while (running) {
            try {
                List<byte[]> frames = receive(socket, 0);
                if (frames == null) continue;
                Msg m = wire.decode(frames);
                if (isControl) handleControl(socket, m);
                else handleShell(socket, m);
            } catch (IllegalArgumentException e) {
                Kernels.log("dropped a message: " + e.getMessage());
            } catch (Throwable t) { // a loop must outlive anything a request does
                if (running) Kernels.log((isControl ? "control" : "shell") + " request failed: " + t);
            }
        }
    }

    /** One multipart message, or null when none arrived in time. */
    private static List<byte[]> receive(ZMQ.Socket s, int flags) {
        byte[] first = s.recv(flags);
        if (first == null) return null;
        List<byte[]> frames = new ArrayList<>();
        frames.add(first);
        while (s.hasReceiveMore()) frames.add(s.recv(0));
        return frames;
    }

    private void send(ZMQ.Socket s, Msg m) {
        sendFrames(s, wire.encode(m));
    }

    private static void sendFrames(ZMQ.Socket s, List<byte[]> frames) {
        synchronized (s) {
            for (int i = 0; i < frames.size(); i++) s.send(frames.get(i), i < frames.size() - 1 ? ZMQ.SNDMORE : 0);
        }
    }

    private void reply(ZMQ.Socket s, Msg request, JsonObject content) {
        String type = request.type().replaceFirst("_request$", "_reply");
        send(s, wire.message(type, request, content));
    }

    // ------------------------------------------------------------------------------ control

    private void handleControl(ZMQ.Socket s, Msg m) {
        iopub.status("busy", m);
        try {
            switch (m.type()) {
                case "interrupt_request" -> {
                    interrupt(sent(m));
                    reply(s, m, Wire.obj("status", "ok"));
                }
                case "shutdown_request" -> shutdown(s, m);
                case "kernel_info_request" -> reply(s, m, kernelInfo());
                case "usage_request" -> reply(s, m, usage());
                default -> unknown(s, m);
            }
        } finally {
            iopub.status("idle", m);
        }
    }

    /**
     * Stops the cell being handled, whether it waits for the kernel to start, compiles, runs or renders.
     * Under the lock that also guards a cell's start and end, so a late interrupt never reaches the
     * next cell. With no cell, it stops the next one only if that was sent before it: both can arrive
     * together (a client that sends before the kernel listens) and the interrupt be read first.
     */
    synchronized void interrupt(Instant sent) {
        CompletableFuture<Void> cell = currentCell;
        if (cell == null) {
            unclaimedInterrupt = sent;
            return;
        }
        cell.complete(null);
        InputRequest pending = pendingInput.get();
        if (pending != null) pending.answer.cancel(true);
        LowbitKernel k = readyKernel();
        if (k != null) k.interrupt();
    }

    private synchronized void cellStarts(CompletableFuture<Void> cell, Instant sent) {
        currentCell = cell;
        if (unclaimedInterrupt != null && sent != null && !sent.isAfter(unclaimedInterrupt)) cell.complete(null);
        unclaimedInterrupt = null;
    }

    /** When the client sent {@code m} (its header's date), or null when that is missing or unreadable. */
    static Instant sent(Msg m) {
        try {
            return OffsetDateTime.parse(m.header().get("date").getAsString()).toInstant();
        } catch (RuntimeException e) {
            return null;
        }
    }

    private synchronized void cellEnds() {
        currentCell = null;
    }

    private void shutdown(ZMQ.Socket s, Msg m) {
        boolean restart = m.bool("restart", false);
        reply(s, m, Wire.obj("status", "ok", "restart", restart));
        running = false;
        stopped.complete(restart);
    }

    private void unknown(ZMQ.Socket s, Msg m) {
        if (!m.type().endsWith("_request")) return; // comm messages and the like get no reply
        reply(
                s,
                m,
                Wire.obj(
                        "status",
                        "error",
                        "ename",
                        "UnsupportedRequest",
                        "evalue",
                        "the Lowbit kernel does not handle " + m.type(),
                        "traceback",
                        List.of()));
    }

    private JsonObject kernelInfo() {
        JsonObject info = Wire.obj(
                "status",
                "ok",
                "protocol_version",
                Wire.PROTOCOL_VERSION,
                "implementation",
                "lowbit",
                "implementation_version",
                LowbitKernel.VERSION,
                "banner",
                "Lowbit " + LowbitKernel.VERSION + " on Java "
                        + Runtime.version().feature()
                        + ": low-bit LLM quantization. %lsmagic lists magics; Shift-Tab on a verb shows its help.",
                "debugger",
                false,
                "help_links",
                List.of());
        info.add(
                "language_info",
                Wire.obj(
                        "name",
                        "java",
                        "version",
                        Runtime.version().toString(),
                        "mimetype",
                        "text/x-java-source",
                        "file_extension",
                        ".jshell",
                        "pygments_lexer",
                        "java",
                        "codemirror_mode",
                        "text/x-java",
                        "nbconvert_exporter",
                        "script"));
        return info;
    }

    private static JsonObject usage() {
        Runtime rt = Runtime.getRuntime();
        return Wire.obj(
                "status",
                "ok",
                "pid",
                ProcessHandle.current().pid(),
                "cpu_count",
                rt.availableProcessors(),
                "kernel_memory",
                rt.totalMemory() - rt.freeMemory(),
                "kernel_memory_max",
                rt.maxMemory());
    }

    // ------------------------------------------------------------------------------ shell

    private void handleShell(ZMQ.Socket s, Msg m) {
        iopub.status("busy", m);
        try {
            switch (m.type()) {
                case "execute_request" -> execute(s, m);
                case "kernel_info_request" -> {
                    awaitStart(); // clients take this reply as "ready": by then the first cell compiles as fast as any
                    reply(s, m, kernelInfo());
                }
                case "is_complete_request" -> isComplete(s, m);
                case "complete_request" -> complete(s, m);
                case "inspect_request" -> inspect(s, m);
                case "history_request" -> reply(s, m, history.answer(m));
                case "comm_info_request" -> reply(s, m, Wire.obj("status", "ok", "comms", new JsonObject()));
                case "comm_open" ->
                    iopub.publish("comm_close", m, Wire.obj("comm_id", m.str("comm_id", ""), "data", new JsonObject()));
                case "shutdown_request" -> shutdown(s, m);
                default -> unknown(s, m);
            }
        } catch (Throwable t) {
            Kernels.log(m.type() + " failed: " + t);
            if (m.type().endsWith("_request"))
                reply(
                        s,
                        m,
                        Wire.obj(
                                "status",
                                "error",
                                "ename",
                                t.getClass().getSimpleName(),
                                "evalue",
                                String.valueOf(t.getMessage()),
                                "traceback",
                                List.of(String.valueOf(t))));
        } finally {
            iopub.status("idle", m);
        }
    }

    /** Returns when the kernel has started or failed to (a failure is told by the cells that need it). */
    private void awaitStart() {
        try {
            warm.get();
            kernel.get();
        } catch (ExecutionException e) {
            // the reply still goes: the first cell says why the engine is missing
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The kernel if it has started, else null (never waits). */
    private LowbitKernel readyKernel() {
        return kernel.isDone() && !kernel.isCompletedExceptionally() ? kernel.join() : null;
    }

    private LowbitKernel kernel() throws CellError {
        return kernel(new CompletableFuture<>());
    }

    /** Waits for the kernel to start, unless {@code stop} completes first (the cell waiting was interrupted). */
    private LowbitKernel kernel(CompletableFuture<Void> stop) throws CellError {
        try {
            CompletableFuture.anyOf(kernel, stop).get();
            if (!kernel.isDone())
                throw CellError.of("Interrupted", "the cell was stopped before the kernel had started");
            return kernel.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw CellError.of("Interrupted", "while the kernel was starting");
        } catch (ExecutionException e) {
            throw CellError.of("KernelStartFailed", "the Java engine did not start: " + e.getCause());
        }
    }

    private void execute(ZMQ.Socket s, Msg m) {
        String code = m.str("code", "");
        boolean silent = m.bool("silent", false);
        boolean store = m.bool("store_history", !silent) && !silent;
        boolean stopOnError = m.bool("stop_on_error", true);
        int count = executionCount;
        if (store) executionCount++;
        iopub.parent(m);
        if (!silent) iopub.publish("execute_input", Wire.obj("code", code, "execution_count", count));
        if (store) history.add(count, code);
        allowStdin = m.bool("allow_stdin", true);

        long t0 = System.nanoTime();
        Object outcome = runOnExecThread(s, m, code);
        long t1 = System.nanoTime();
        // one flush before the reply: the IOPub thread sends buffered output before each message, so the
        // cell's output, then its result or error, all leave before the reply
        if (outcome instanceof CellError e) {
            iopub.publish("error", Wire.obj("ename", e.ename, "evalue", e.evalue, "traceback", e.traceback));
            flushTimed(t0, t1);
            reply(
                    s,
                    m,
                    Wire.obj(
                            "status",
                            "error",
                            "execution_count",
                            count,
                            "ename",
                            e.ename,
                            "evalue",
                            e.evalue,
                            "traceback",
                            e.traceback,
                            "user_expressions",
                            new JsonObject(),
                            "payload",
                            List.of()));
            if (stopOnError) abortQueued(s);
            return;
        }
        if (outcome instanceof DisplayData d && !silent) {
            JsonObject c = Bundles.content(d);
            c.remove("transient");
            c.addProperty("execution_count", count);
            iopub.publish("execute_result", c);
        }
        flushTimed(t0, t1);
        JsonArray payload = new JsonArray();
        DisplayData page = readyKernel() == null ? null : readyKernel().page();
        if (page != null) payload.add(Wire.obj("source", "page", "data", Bundles.data(page), "start", 0));
        reply(
                s,
                m,
                Wire.obj(
                        "status",
                        "ok",
                        "execution_count",
                        count,
                        "user_expressions",
                        new JsonObject(),
                        "payload",
                        payload));
    }

    private void flushTimed(long t0, long t1) {
        iopub.flush();
        if (TRACE)
            Kernels.log(String.format(
                    "execute: run %.2f ms, flush %.2f ms", (t1 - t0) / 1e6, (System.nanoTime() - t1) / 1e6));
    }

    /** Runs the cell on the exec thread; meanwhile this thread relays its requests for input. */
    private Object runOnExecThread(ZMQ.Socket s, Msg m, String code) {
        Object done = new Object() {};
        AtomicReference<Object> outcome = new AtomicReference<>();
        CompletableFuture<Void> stop = new CompletableFuture<>();
        cellStarts(stop, sent(m)); // from here an interrupt stops this cell, even before it leaves the queue
        cells.add(() -> {
            try {
                outcome.set(kernel(stop).execute(code, stop::isDone));
            } catch (CellError e) {
                outcome.set(e);
            } catch (Throwable t) { // including Errors from user code outside JShell's own handling
                outcome.set(new CellError(
                        t.getClass().getSimpleName(),
                        String.valueOf(t.getMessage()),
                        List.of(CellError.header(t.getClass().getName(), String.valueOf(t.getMessage())))));
            } finally {
                cellEnds();
                shellEvents.add(done);
            }
        });
        while (true) {
            Object ev;
            try {
                ev = shellEvents.take();
            } catch (InterruptedException e) {
                continue; // the shell thread is never interrupted on purpose; keep waiting for the cell
            }
            if (ev == done) return outcome.get();
            if (ev instanceof InputRequest r) relayInput(m, r);
        }
    }

    private void execLoop() {
        while (true) {
            try {
                cells.take().run();
            } catch (InterruptedException e) {
                // nothing is waiting to run; carry on
            } catch (Throwable t) {
                Kernels.log("exec: " + t);
            }
        }
    }

    /** Stop-on-error: execute requests that were already waiting are answered "aborted", not run. */
    private void abortQueued(ZMQ.Socket s) {
        List<byte[]> frames;
        while ((frames = receive(s, ZMQ.DONTWAIT)) != null) {
            Msg q;
            try {
                q = wire.decode(frames);
            } catch (IllegalArgumentException e) {
                continue;
            }
            if (!q.type().equals("execute_request")) {
                handleShell(s, q);
                continue;
            }
            iopub.status("busy", q);
            reply(
                    s,
                    q,
                    Wire.obj(
                            "status",
                            "aborted",
                            "execution_count",
                            executionCount,
                            "user_expressions",
                            new JsonObject(),
                            "payload",
                            List.of()));
            iopub.status("idle", q);
        }
    }

    private void isComplete(ZMQ.Socket s, Msg m) throws CellError {
        String verdict = kernel().isComplete(m.str("code", ""));
        JsonObject c = Wire.obj(
                "status",
                switch (verdict) {
                    case "complete", "invalid", "unknown" -> verdict;
                    default -> "incomplete";
                });
        if (c.get("status").getAsString().equals("incomplete")) c.addProperty("indent", verdict);
        reply(s, m, c);
    }

    private void complete(ZMQ.Socket s, Msg m) throws CellError {
        String code = m.str("code", "");
        int cursor = codePointsToChars(code, m.integer("cursor_pos", code.length()));
        ReplacementOptions o = kernel().complete(code, cursor);
        reply(
                s,
                m,
                Wire.obj(
                        "status",
                        "ok",
                        "matches",
                        o == null ? List.of() : o.getReplacements(),
                        "cursor_start",
                        charsToCodePoints(code, o == null ? cursor : o.getSourceStart()),
                        "cursor_end",
                        charsToCodePoints(code, o == null ? cursor : o.getSourceEnd()),
                        "metadata",
                        new JsonObject()));
    }

    private void inspect(ZMQ.Socket s, Msg m) throws CellError {
        String code = m.str("code", "");
        int cursor = codePointsToChars(code, m.integer("cursor_pos", code.length()));
        DisplayData d = kernel().inspect(code, cursor, m.integer("detail_level", 0) > 0);
        reply(
                s,
                m,
                Wire.obj(
                        "status",
                        "ok",
                        "found",
                        d != null,
                        "data",
                        d == null ? new JsonObject() : Bundles.data(d),
                        "metadata",
                        new JsonObject()));
    }

    /** The protocol counts cursor positions in code points, Java in chars. */
    static int codePointsToChars(String s, int cp) {
        cp = Math.max(0, Math.min(cp, s.codePointCount(0, s.length())));
        return s.offsetByCodePoints(0, cp);
    }

    static int charsToCodePoints(String s, int chars) {
        return s.codePointCount(0, Math.max(0, Math.min(chars, s.length())));
    }

    // ------------------------------------------------------------------------------ stdin

    /** A line the running cell asked for; the shell thread sends the request and fills in the answer. */
    record InputRequest(String prompt, boolean password, CompletableFuture<String> answer) {}

    /** Called on the cell's thread (System.in, {@link Notebook#input}). */
    String readLine(String prompt, boolean password) throws IOException {
        if (!allowStdin) throw new IOException("this front end does not accept input (allow_stdin is false)");
        System.out.flush();
        InputRequest r = new InputRequest(prompt, password, new CompletableFuture<>());
        pendingInput.set(r);
        shellEvents.add(r);
        try {
            return r.answer.get();
        } catch (InterruptedException | CancellationException e) {
            r.answer.cancel(true);
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for input");
        } catch (ExecutionException e) {
            throw new IOException("input failed: " + e.getCause().getMessage(), e.getCause());
        } finally {
            pendingInput.compareAndSet(r, null);
        }
    }

    private void relayInput(Msg parent, InputRequest r) {
        send(stdin, wire.message("input_request", parent, Wire.obj("prompt", r.prompt(), "password", r.password())));
        while (running && !r.answer.isDone()) {
            List<byte[]> frames = receive(stdin, 0);
            if (frames == null) continue;
            try {
                Msg reply = wire.decode(frames);
                if (reply.type().equals("input_reply")) r.answer.complete(reply.str("value", ""));
            } catch (IllegalArgumentException e) {
                Kernels.log("dropped a stdin message: " + e.getMessage());
            }
        }
    }

    /** System.in for cells: each line is asked of the front end when the cell reads past the last one. */
    InputStream stdinStream() {
        return new InputStream() {
            private byte[] line = new byte[0];
            private int at;

            @Override
            public synchronized int read() throws IOException {
                if (!fill()) return -1;
                return line[at++] & 0xff;
            }

            @Override
            public synchronized int read(byte[] b, int off, int len) throws IOException {
                if (len == 0) return 0;
                if (!fill()) return -1;
                int n = Math.min(len, line.length - at);
                System.arraycopy(line, at, b, off, n);
                at += n;
                return n;
            }

            @Override
            public synchronized int available() {
                return line.length - at;
            }

            private boolean fill() throws IOException {
                if (at < line.length) return true;
                line = (readLine("", false) + "\n").getBytes(StandardCharsets.UTF_8);
                at = 0;
                return true;
            }
        };
    }

    /**
     * Before the process exits: the last messages leave (ZeroMQ sends from its own thread). The
     * sockets are not closed one by one: the loops may be inside a receive, and the process ends anyway.
     */
    void finish() {
        running = false;
        iopub.flush();
        try {
            Thread.sleep(150);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ------------------------------------------------------------------------------ history

    /** This session's inputs, answered as ipykernel does for tail, range and search (session 1 is this one). */
    static final class History {
        private final List<Object[]> entries = new ArrayList<>(); // {session, line, input}

        synchronized void add(int line, String input) {
            entries.add(new Object[] {1, line, input});
        }

        synchronized JsonObject answer(Msg m) {
            String access = m.str("hist_access_type", "tail");
            boolean output = m.bool("output", false);
            List<Object[]> picked = new ArrayList<>();
            switch (access) {
                case "tail" -> {
                    int n = m.integer("n", 10);
                    picked.addAll(entries.subList(Math.max(0, entries.size() - Math.max(0, n)), entries.size()));
                }
                case "range" -> {
                    int session = m.integer("session", 0);
                    int start = m.integer("start", 1);
                    int stop = m.integer("stop", Integer.MAX_VALUE);
                    if (session == 0 || session == 1)
                        for (Object[] e : entries) if ((int) e[1] >= start && (int) e[1] < stop) picked.add(e);
                }
                case "search" -> {
                    Pattern p = glob(m.str("pattern", "*"));
                    for (Object[] e : entries) if (p.matcher((String) e[2]).matches()) picked.add(e);
                    if (m.bool("unique", false)) {
                        List<Object[]> unique = new ArrayList<>();
                        java.util.Set<String> seen = new java.util.HashSet<>();
                        for (int i = picked.size() - 1; i >= 0; i--)
                            if (seen.add((String) picked.get(i)[2])) unique.add(0, picked.get(i));
                        picked = unique;
                    }
                    int n = m.integer("n", 0);
                    if (n > 0 && picked.size() > n) picked = picked.subList(picked.size() - n, picked.size());
                }
                default -> {}
            }
            JsonArray h = new JsonArray();
            for (Object[] e : picked) h.add(Wire.json(output ? List.of(e[0], e[1], List.of(e[2], "")) : List.of(e)));
            JsonObject c = Wire.obj("status", "ok");
            c.add("history", h);
            return c;
        }

        private static Pattern glob(String g) {
            StringBuilder b = new StringBuilder("(?s)");
            for (char ch : g.toCharArray()) {
                switch (ch) {
                    case '*' -> b.append(".*");
                    case '?' -> b.append('.');
                    default -> b.append(Pattern.quote(String.valueOf(ch)));
                }
            }
            return Pattern.compile(b.toString());
        }
    }

    PrintStream printStream(boolean err) {
        return new PrintStream(err ? iopub.stderr() : iopub.stdout(), true, StandardCharsets.UTF_8);
    }
}
